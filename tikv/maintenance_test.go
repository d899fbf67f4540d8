package tikv_test

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kvops/operator/subject"
)

// TestMaintenanceLock: the Subject's side of PD's maintenance lock, on
// the simulated PD: taken once for the whole cluster, a second task
// refused with a *subject.MaintenanceHeldError naming the holder (the
// same task too: not re-entrant), released only by its own type and id,
// never another's; a dry run sends nothing.
func TestMaintenanceLock(t *testing.T) {
	c := newCluster(t, nil)
	ctx := t.Context()
	ours := subject.MaintenanceTask{Type: "prepare_restart", ID: "op-1", Description: "prepare_restart store 2"}
	other := subject.MaintenanceTask{Type: "tikv_restart", ID: "tiup-1"}

	require.NoError(t, c.sub.AcquireMaintenance(subject.WithDryRun(ctx), ours))
	tasks, err := c.sub.MaintenanceTasks(ctx)
	require.NoError(t, err)
	require.NotNil(t, tasks)
	require.Empty(t, tasks, "a dry run takes nothing")

	require.NoError(t, c.sub.AcquireMaintenance(ctx, ours))
	tasks, err = c.sub.MaintenanceTasks(ctx)
	require.NoError(t, err)
	held := ours
	held.Started = c.sim.Now().Truncate(time.Second).UTC()
	require.Equal(t, []subject.MaintenanceTask{held}, tasks)

	for _, task := range []subject.MaintenanceTask{other, ours} {
		err := c.sub.AcquireMaintenance(ctx, task)
		var he *subject.MaintenanceHeldError
		require.ErrorAs(t, err, &he, "%v", task)
		require.Equal(t, held, he.Holder)
		require.ErrorIs(t, err, subject.ErrPrecondition)
		require.Contains(t, err.Error(), "prepare_restart/op-1", "the error names the holder")
	}

	// Another id of the same type: refused, naming the holder; another
	// type: nothing of its to release. Either way the lock stays.
	var he *subject.MaintenanceHeldError
	require.ErrorAs(t, c.sub.ReleaseMaintenance(ctx, subject.MaintenanceTask{Type: ours.Type, ID: "op-2"}), &he)
	require.Equal(t, "op-1", he.Holder.ID)
	require.NoError(t, c.sub.ReleaseMaintenance(ctx, other))
	require.NoError(t, c.sub.ReleaseMaintenance(subject.WithDryRun(ctx), ours))
	tasks, err = c.sub.MaintenanceTasks(ctx)
	require.NoError(t, err)
	require.Equal(t, []subject.MaintenanceTask{held}, tasks)

	require.NoError(t, c.sub.ReleaseMaintenance(ctx, ours))
	require.NoError(t, c.sub.ReleaseMaintenance(ctx, ours), "released already: nothing to do")
	tasks, err = c.sub.MaintenanceTasks(ctx)
	require.NoError(t, err)
	require.Empty(t, tasks)
}

// TestMaintenanceLockMissing: a PD older than the lock is
// subject.ErrNotSupported for all three, never "free" nor "held".
func TestMaintenanceLockMissing(t *testing.T) {
	c := newCluster(t, nil)
	ctx := t.Context()
	c.sim.SetMaintenanceEndpoint(false)
	task := subject.MaintenanceTask{Type: "prepare_restart", ID: "op-1"}
	_, err := c.sub.MaintenanceTasks(ctx)
	require.ErrorIs(t, err, subject.ErrNotSupported)
	for _, err := range []error{c.sub.AcquireMaintenance(ctx, task), c.sub.ReleaseMaintenance(ctx, task)} {
		require.ErrorIs(t, err, subject.ErrNotSupported)
		require.NotErrorIs(t, err, subject.ErrNotFound)
		var he *subject.MaintenanceHeldError
		require.False(t, errors.As(err, &he))
	}
}
