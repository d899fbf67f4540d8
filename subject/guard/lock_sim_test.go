package guard_test

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/kvops/operator/subject"
	"github.com/kvops/operator/subject/guard"
)

// The guard with PD's own maintenance lock and PD's own evictions, through
// tikv's Subject, on the simulated cluster.

// TestSimTiupRestartStopsTheOperators: while tiup restarts a store (it
// holds PD's maintenance lock), the guard refuses to prepare a restart,
// naming tiup's task, and evicts nothing; once tiup is done, the restart
// goes under the guard's own task, which PD shows, until finish_restart
// releases it.
func TestSimTiupRestartStopsTheOperators(t *testing.T) {
	env := newSimEnv(t)
	sub := env.subject(nil)
	g, _, _ := newGuard(t, sub, guard.Config{Mode: guard.ModeAutomatic, Clock: env.sim.Now, Extra: restartActions(sub)})
	ctx := t.Context()
	require.NoError(t, sub.PD().StartMaintenance(ctx, "tikv_restart", "tiup-store-3", "tiup cluster restart -N tikv-3"))

	_, err := g.Do(ctx, guard.ActionPrepareRestart, guard.Args{Store: 2})
	requireRefusal(t, err, guard.ErrMaintenanceLock)
	var he *subject.MaintenanceHeldError
	require.ErrorAs(t, err, &he)
	require.Equal(t, "tiup-store-3", he.Holder.ID)
	require.Equal(t, "tiup cluster restart -N tikv-3", he.Holder.Description)
	ev, err := sub.EvictedStores(ctx)
	require.NoError(t, err)
	require.Empty(t, ev, "nothing evicted")

	require.NoError(t, sub.PD().FinishMaintenance(ctx, "tikv_restart", "tiup-store-3"))
	_, err = g.Do(ctx, guard.ActionPrepareRestart, guard.Args{Store: 2})
	require.NoError(t, err)
	tasks, err := sub.MaintenanceTasks(ctx)
	require.NoError(t, err)
	require.Len(t, tasks, 1)
	require.Equal(t, guard.ActionPrepareRestart, tasks[0].Type)
	require.Contains(t, tasks[0].Description, "store 2")
	// tiup now meets the operator's task.
	require.ErrorIs(t, sub.PD().StartMaintenance(ctx, "tikv_restart", "tiup-store-4", ""), subject.ErrPrecondition)

	require.NoError(t, env.sim.RestartStore(2))
	_, err = g.Do(ctx, guard.ActionFinishRestart, guard.Args{Store: 2})
	require.NoError(t, err)
	requireLockFree(t, env)
}

// TestSimBlastRadiusCountsPDsEvictions: a store PD evicts by itself (slow,
// or stopping) uses up the blast radius: no other store's leaders are
// evicted meanwhile, and the refusal names PD's scheduler; the store's own
// actions go on.
func TestSimBlastRadiusCountsPDsEvictions(t *testing.T) {
	for name, set := range map[string]func(*simEnv) error{
		"slow":     func(e *simEnv) error { return e.sim.SetSlowStoreEvicted(3, true) },
		"stopping": func(e *simEnv) error { return e.sim.SetStoppingStoreEvicted(3, true) },
	} {
		t.Run(name, func(t *testing.T) {
			env := newSimEnv(t)
			sub := env.subject(nil)
			g, _, _ := newGuard(t, sub, guard.Config{Mode: guard.ModeAutomatic, Clock: env.sim.Now})
			ctx := t.Context()
			require.NoError(t, set(env))
			_, err := g.EvictLeaders(ctx, 4)
			requireRefusal(t, err, guard.ErrBusy)
			require.Contains(t, err.Error(), "evict-"+name+"-store-scheduler")
			ev, err := g.Evictions(ctx)
			require.NoError(t, err)
			require.Equal(t, []subject.Eviction{{Store: 3, Scheduler: "evict-" + name + "-store-scheduler", By: subject.ByCluster}}, ev)
			_, err = g.EvictLeaders(ctx, 3)
			require.NoError(t, err, "the store PD evicts is the action's own")
			sched, err := sub.PD().Schedulers(ctx)
			require.NoError(t, err)
			require.NotContains(t, sched, "evict-leader-scheduler", "no second eviction")
		})
	}
}

// TestSimLockMissing: on a PD without the maintenance lock, the guard says
// so once and restarts stores as it did before.
func TestSimLockMissing(t *testing.T) {
	env := newSimEnv(t)
	env.sim.SetMaintenanceEndpoint(false)
	sub := env.subject(nil)
	var logs bytes.Buffer
	g, _, _ := newGuard(t, sub, guard.Config{Mode: guard.ModeAutomatic, Clock: env.sim.Now, Extra: restartActions(sub),
		Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	ctx := t.Context()
	for _, id := range []subject.StoreID{2, 3} {
		_, err := g.Do(ctx, guard.ActionPrepareRestart, guard.Args{Store: id})
		require.NoError(t, err)
		require.NoError(t, env.sim.RestartStore(id))
		_, err = g.Do(ctx, guard.ActionFinishRestart, guard.Args{Store: id})
		require.NoError(t, err)
	}
	require.Equal(t, 1, strings.Count(logs.String(), "no maintenance lock"), logs.String())
}

// TestSimLockReplayedMidRestart: an operator that dies between
// prepare_restart and finish_restart leaves PD's lock held (it has no
// expiry); its successor, replaying the journal, holds it again, and its
// finish_restart releases it.
func TestSimLockReplayedMidRestart(t *testing.T) {
	env := newSimEnv(t)
	sub := env.subject(nil)
	g1, j1, _ := newGuard(t, sub, guard.Config{Mode: guard.ModeAutomatic, Clock: env.sim.Now, Extra: restartActions(sub)})
	ctx := t.Context()
	_, err := g1.Do(ctx, guard.ActionPrepareRestart, guard.Args{Store: 2})
	require.NoError(t, err)
	require.NoError(t, env.sim.RestartStore(2))

	sub2 := env.subject(nil)
	g2, _, _ := newGuard(t, sub2, guard.Config{Mode: guard.ModeAutomatic, Clock: env.sim.Now, Extra: restartActions(sub2)})
	require.NoError(t, g2.Replay(ctx, bytes.NewReader(j1.Bytes())))
	held, ok := g2.HeldMaintenanceLock()
	require.True(t, ok)
	require.Equal(t, "a1", held.ID)
	_, err = g2.EvictLeaders(ctx, 3)
	requireRefusal(t, err, guard.ErrBusy)
	_, err = g2.Do(ctx, guard.ActionFinishRestart, guard.Args{Store: 2})
	require.NoError(t, err)
	requireLockFree(t, env)
}
