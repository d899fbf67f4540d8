package pdclient

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kvops/operator/internal/realpd"
)

// TestMaintenanceRealPD runs the maintenance lock's whole life, and
// halt-scheduling, against a real PD (one member, no stores): the same
// answers as the recording, read through the client's types. It skips
// without KVOPS_REALPD_DIR (and fails with CI=true).
func TestMaintenanceRealPD(t *testing.T) {
	pd := realpd.Start(t, realpd.Config{NoSimulator: true})
	c := newTestClient(t, pd.Endpoints()...)
	ctx := t.Context()

	got, err := c.MaintenanceTasks(ctx)
	require.NoError(t, err)
	require.Empty(t, got, "a fresh PD has no task")

	before := time.Now().Add(-time.Second)
	require.NoError(t, c.StartMaintenance(ctx, "tikv_restart", "kvops-1", "restart of store 1"))
	mine := MaintenanceTask{Type: "tikv_restart", ID: "kvops-1", Description: "restart of store 1"}

	for _, try := range [][2]string{{"tikv_restart", "kvops-1"}, {"tikv_restart", "other"}, {"pd_upgrade", "pd-1"}} {
		err := c.StartMaintenance(ctx, try[0], try[1], "")
		var ce *MaintenanceConflictError
		require.ErrorAs(t, err, &ce, "%v while kvops-1 holds it", try)
		require.ErrorIs(t, err, ErrPrecondition)
		require.True(t, NotApplied(err))
		require.False(t, ce.Holder.Started().Before(before.Truncate(time.Second)), "started %v", ce.Holder.Started())
		ce.Holder.StartTimestamp = 0
		require.Equal(t, mine, ce.Holder)
	}

	list, err := c.MaintenanceTasks(ctx)
	require.NoError(t, err)
	require.Len(t, list, 1)
	list[0].StartTimestamp = 0
	require.Equal(t, mine, list[0])
	one, err := c.MaintenanceTaskOf(ctx, "tikv_restart")
	require.NoError(t, err)
	require.Equal(t, "kvops-1", one.ID)
	_, err = c.MaintenanceTaskOf(ctx, "pd_upgrade")
	require.ErrorIs(t, err, ErrNotFound)
	require.NotErrorIs(t, err, ErrNotSupported)

	var ce *MaintenanceConflictError
	require.ErrorAs(t, c.FinishMaintenance(ctx, "tikv_restart", "other"), &ce, "another id never releases it")
	require.Equal(t, "kvops-1", ce.Holder.ID)
	require.ErrorIs(t, c.FinishMaintenance(ctx, "pd_upgrade", "kvops-1"), ErrNotFound, "another type never releases it")
	require.NoError(t, c.FinishMaintenance(ctx, "tikv_restart", "kvops-1"))
	require.ErrorIs(t, c.FinishMaintenance(ctx, "tikv_restart", "kvops-1"), ErrNotFound)
	got, err = c.MaintenanceTasks(ctx)
	require.NoError(t, err)
	require.Empty(t, got)

	for _, on := range []bool{true, false} {
		require.NoError(t, c.SetHaltScheduling(ctx, on))
		sc, err := c.ScheduleConfig(ctx)
		require.NoError(t, err)
		require.Equal(t, on, sc.HaltScheduling)
	}
}
