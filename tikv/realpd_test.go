package tikv_test

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kvops/operator/internal/realpd"
	"github.com/kvops/operator/internal/syncbuf"
	"github.com/kvops/operator/pdclient"
	"github.com/kvops/operator/subject"
	"github.com/kvops/operator/subject/guard"
	"github.com/kvops/operator/tikv"
)

func jsonLine(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return append(b, '\n')
}

// TestRealPD runs the maintenance lock through the guard, halt-scheduling
// and PD's own evicting schedulers against a real PD (one member,
// pd-simulator's five stores and 200 regions). It skips without
// KVOPS_REALPD_DIR (and fails with CI=true).
//
// Not covered here, because pd-simulator cannot make them: PD's
// evict-stopping-store evicts a store whose heartbeat says it is stopping
// (StoreStats.is_stopping, read by PD's pkg/core/store.go IsStopping),
// and evict-slow-store one whose slow score reaches 100; pd-simulator's
// stores report neither (nothing under tools/pd-simulator sets them, at
// PD a186e0cc), and realpd cannot stop one store alone. Both are covered
// on tikvtest, whose lists have the recorded shapes.
func TestRealPD(t *testing.T) {
	pd := realpd.Start(t, realpd.Config{})
	newSub := func(t *testing.T) *tikv.Subject {
		sub, err := tikv.New(tikv.Config{PD: pdclient.Config{Endpoints: pd.Endpoints()}, DisableMetrics: true,
			Actions: tikv.ActionConfig{Timeouts: tikv.ActionTimeouts{EvictLeaders: time.Minute, RestoreLeaders: time.Minute}}})
		require.NoError(t, err)
		t.Cleanup(sub.PD().CloseIdleConnections)
		return sub
	}
	lockFree := func(t *testing.T, sub *tikv.Subject) {
		t.Helper()
		tasks, err := sub.MaintenanceTasks(t.Context())
		require.NoError(t, err)
		require.Empty(t, tasks, "PD's maintenance lock is held")
	}

	t.Run("PD's own schedulers", func(t *testing.T) {
		sub := newSub(t)
		st, err := sub.ScheduleState(t.Context())
		require.NoError(t, err)
		require.False(t, st.Halted)
		require.True(t, st.MaintenanceLock, "this PD serves the maintenance lock")
		require.Contains(t, st.Schedulers, "evict-slow-store-scheduler")
		require.Contains(t, st.Schedulers, "evict-stopping-store-scheduler")
		require.Empty(t, st.Evictions, "the lists read, with nobody evicted")
	})

	t.Run("the guard and another tool's maintenance", func(t *testing.T) {
		ctx := t.Context()
		sub := newSub(t)
		j := &syncbuf.Buffer{}
		g, err := guard.New(sub, guard.Config{Mode: guard.ModeAutomatic, Journal: j, Identity: "realpd-test"})
		require.NoError(t, err)

		// tiup restarts a store: the guard evicts nothing.
		require.NoError(t, sub.PD().StartMaintenance(ctx, "tikv_restart", "tiup-1", "tiup cluster restart"))
		_, err = g.EvictLeaders(ctx, 2)
		require.ErrorIs(t, err, guard.ErrMaintenanceLock)
		var he *subject.MaintenanceHeldError
		require.ErrorAs(t, err, &he)
		require.Equal(t, "tiup-1", he.Holder.ID)
		ev, err := sub.EvictedStores(ctx)
		require.NoError(t, err)
		require.Empty(t, ev)
		require.NoError(t, sub.PD().FinishMaintenance(ctx, "tikv_restart", "tiup-1"))

		// The guard's eviction holds PD's lock; tiup meets it.
		_, err = g.EvictLeaders(ctx, 2)
		require.NoError(t, err)
		held, ok := g.HeldMaintenanceLock()
		require.True(t, ok)
		tasks, err := sub.MaintenanceTasks(ctx)
		require.NoError(t, err)
		require.Len(t, tasks, 1)
		require.Equal(t, held.ID, tasks[0].ID)
		require.Contains(t, tasks[0].Description, "realpd-test")
		var ce *pdclient.MaintenanceConflictError
		require.ErrorAs(t, sub.PD().StartMaintenance(ctx, "tikv_restart", "tiup-2", ""), &ce)
		require.Equal(t, held.ID, ce.Holder.ID)

		// The operator dies; its successor replays the journal, holds the
		// lock again, and its restore releases it.
		g2, err := guard.New(newSub(t), guard.Config{Mode: guard.ModeAutomatic})
		require.NoError(t, err)
		require.NoError(t, g2.Replay(ctx, bytes.NewReader(j.Bytes())))
		held2, ok := g2.HeldMaintenanceLock()
		require.True(t, ok)
		require.Equal(t, held.ID, held2.ID)
		_, err = g2.RestoreLeaders(ctx, 2)
		require.NoError(t, err)
		lockFree(t, sub)
	})

	t.Run("a replay never releases another tool's lock", func(t *testing.T) {
		ctx := t.Context()
		sub := newSub(t)
		// A journal that stops right after the lock was asked for: the
		// answer never came, and tiup holds the lock since.
		j := &syncbuf.Buffer{}
		g, err := guard.New(sub, guard.Config{Mode: guard.ModeAutomatic, Journal: j})
		require.NoError(t, err)
		_, err = g.DrainStore(subject.WithDryRun(ctx), 3) // a record to cut after
		require.NoError(t, err)
		cut := j.Bytes()
		lockReq := guard.Record{Schema: guard.SchemaVersion, Time: time.Now(), ID: "lock:x1", Event: guard.EventLockRequested,
			Action: guard.ActionDrainStore, Target: "store 3", Args: guard.Args{Store: 3}, ActionID: "x1",
			Lock: &subject.MaintenanceTask{Type: guard.ActionDrainStore, ID: "x1"}}
		cut = append(cut, jsonLine(t, lockReq)...)
		for _, other := range [][2]string{{guard.ActionDrainStore, "other-operator"}, {"tikv_restart", "tiup-3"}} {
			require.NoError(t, sub.PD().StartMaintenance(ctx, other[0], other[1], "someone else's"))
			g2, err := guard.New(newSub(t), guard.Config{Mode: guard.ModeAutomatic})
			require.NoError(t, err)
			require.NoError(t, g2.Replay(ctx, bytes.NewReader(cut)))
			tasks, err := sub.MaintenanceTasks(ctx)
			require.NoError(t, err)
			require.Len(t, tasks, 1, "%v: left alone", other)
			require.Equal(t, other[1], tasks[0].ID)
			require.NoError(t, sub.PD().FinishMaintenance(ctx, other[0], other[1]))
		}
	})

	t.Run("halt-scheduling", func(t *testing.T) {
		ctx := t.Context()
		sub := newSub(t)
		require.NoError(t, sub.PD().SetHaltScheduling(ctx, true))
		t.Cleanup(func() { require.NoError(t, sub.PD().SetHaltScheduling(context.Background(), false)) })
		st, err := sub.ScheduleState(ctx)
		require.NoError(t, err)
		require.True(t, st.Halted)
		err = sub.CheckStable(ctx, 0)
		require.ErrorIs(t, err, subject.ErrPrecondition)
		require.Contains(t, err.Error(), "halt-scheduling")
		for _, call := range []func() (subject.Result, error){
			func() (subject.Result, error) { return sub.EvictLeaders(ctx, 4) },
			func() (subject.Result, error) { return sub.DrainStore(ctx, 4) },
			func() (subject.Result, error) { return sub.PrepareRestart(ctx, 4, tikv.RestartOptions{}) },
		} {
			_, err := call()
			require.ErrorIs(t, err, subject.ErrPrecondition)
			require.Contains(t, err.Error(), "halt-scheduling")
		}
		ev, err := sub.EvictedStores(ctx)
		require.NoError(t, err)
		require.Empty(t, ev, "nothing was sent")

		// An admin operator still runs (recorded; pd-simulator carries
		// out leader transfers).
		rs, err := sub.StoreRegions(ctx, 1, 1)
		require.NoError(t, err)
		require.NotEmpty(t, rs)
		r := rs[0]
		var to subject.StoreID
		for _, p := range r.Peers {
			if p.Store != r.Leader.Store {
				to = p.Store
			}
		}
		require.NotZero(t, to)
		_, err = sub.TransferLeader(ctx, r.ID, to)
		require.NoError(t, err, "an admin transfer while halted")
	})
}
