package tikv_test

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/kvops/operator/subject"
	"github.com/kvops/operator/subject/tools"
	"github.com/kvops/operator/tikv"
)

// PD's own automation: its evict-slow-store and evict-stopping-store
// schedulers, and halt-scheduling.

const (
	slowSched     = "evict-slow-store-scheduler"
	stoppingSched = "evict-stopping-store-scheduler"
	leaderSched   = "evict-leader-scheduler"
)

func schedulers(t *testing.T, sub *tikv.Subject) []string {
	t.Helper()
	s, err := sub.PD().Schedulers(t.Context())
	require.NoError(t, err)
	return s
}

func leadersOf(t *testing.T, c *cluster, id subject.StoreID) int {
	t.Helper()
	st, err := c.sub.PD().Store(t.Context(), uint64(id))
	require.NoError(t, err)
	return st.Status.LeaderCount
}

// TestEvictionsCountPDsOwn: Evictions and EvictedStores list PD's own
// evictions with the library's and pd-ctl's, each with who made it: PD's
// own by the cluster.
func TestEvictionsCountPDsOwn(t *testing.T) {
	c := newCluster(t, nil)
	ctx := t.Context()
	require.NoError(t, c.sim.SetSlowStoreEvicted(3, true))
	require.NoError(t, c.sim.SetStoppingStoreEvicted(5, true))
	require.NoError(t, c.sub.PD().EvictLeader(ctx, 4)) // pd-ctl, say
	require.NoError(t, c.sub.PD().EvictLeader(ctx, 3))
	got, err := c.sub.Evictions(ctx)
	require.NoError(t, err)
	want := []subject.Eviction{
		{Store: 3, Scheduler: leaderSched},
		{Store: 3, Scheduler: slowSched, By: subject.ByCluster},
		{Store: 4, Scheduler: leaderSched},
		{Store: 5, Scheduler: stoppingSched, By: subject.ByCluster},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("evictions (-want +got):\n%s", d)
	}
	ids, err := c.sub.EvictedStores(ctx)
	require.NoError(t, err)
	require.Equal(t, []subject.StoreID{3, 4, 5}, ids)
}

// TestEvictLeadersOnAStorePDEvicts: evicting the leaders of a store PD's
// own scheduler evicts sends nothing and adds no evict-leader scheduler:
// NoChange once its leaders are gone, saying PD evicts it; a wait for
// them to go while PD moves them.
func TestEvictLeadersOnAStorePDEvicts(t *testing.T) {
	c := newCluster(t, nil)
	ctx := t.Context()
	require.NoError(t, c.sim.SetSlowStoreEvicted(3, true))
	require.Positive(t, leadersOf(t, c, 3))
	res, err := c.sub.EvictLeaders(ctx, 3)
	require.NoError(t, err)
	require.False(t, res.NoChange, "it waited for PD to move them")
	require.Contains(t, res.Summary, slowSched)
	require.Zero(t, leadersOf(t, c, 3))
	require.NotContains(t, schedulers(t, c.sub), leaderSched, "a second eviction was added")

	for _, ctx := range []context.Context{subject.WithDryRun(ctx), ctx} {
		res, err = c.sub.EvictLeaders(ctx, 3)
		require.NoError(t, err)
		require.True(t, res.NoChange)
		require.Contains(t, res.Summary, slowSched)
	}
	require.NotContains(t, schedulers(t, c.sub), leaderSched)

	// The stores PD evicts cannot lead: they count against the stores
	// left able to.
	require.NoError(t, c.sim.SetStoppingStoreEvicted(4, true))
	require.NoError(t, c.sub.PD().EvictLeader(ctx, 5))
	_, err = c.sub.EvictLeaders(subject.WithDryRun(ctx), 1)
	require.ErrorIs(t, err, subject.ErrPrecondition, "only store 2 would be left to lead")
}

// TestRestoreNeverRemovesPDsEviction: restoring a store PD's own scheduler
// evicts leaves that eviction and says so (NoChange when it is the only
// one); with an evict-leader eviction too, that one is removed and the
// call returns without waiting for leaders PD keeps off.
func TestRestoreNeverRemovesPDsEviction(t *testing.T) {
	c := newCluster(t, func(cfg *tikv.Config) { cfg.Actions.Timeouts.RestoreLeaders = 30 * time.Second })
	ctx := t.Context()
	require.NoError(t, c.sim.SetSlowStoreEvicted(3, true))
	res, err := c.sub.RestoreLeaders(ctx, 3)
	require.NoError(t, err)
	require.True(t, res.NoChange)
	require.Contains(t, res.Summary, slowSched)

	require.NoError(t, c.sub.PD().EvictLeader(ctx, 3))
	res, err = c.sub.RestoreLeaders(ctx, 3)
	require.NoError(t, err, "no wait for leaders PD keeps off")
	require.False(t, res.NoChange)
	require.Contains(t, res.Summary, slowSched)
	require.NotContains(t, schedulers(t, c.sub), leaderSched)
	ev, err := c.sub.Evictions(ctx)
	require.NoError(t, err)
	require.Equal(t, []subject.Eviction{{Store: 3, Scheduler: slowSched, By: subject.ByCluster}}, ev)
}

// TestFinishRestartLeavesPDsEviction: a store PD judges slow when it comes
// back keeps PD's eviction: FinishRestart removes its own and does not
// wait for leaders PD keeps off. A store that was stopping is let go by
// PD once started again, and FinishRestart waits for its leaders as
// usual.
func TestFinishRestartLeavesPDsEviction(t *testing.T) {
	// 60 regions: balance-leader leaves stores within ten leaders of
	// each other, a small share of the mean here.
	opts := tikv.RestartOptions{LeaderTimeout: time.Minute, LeaderShare: 0.2}
	t.Run("slow", func(t *testing.T) {
		c := newCluster(t, nil)
		ctx := t.Context()
		_, err := c.sub.PrepareRestart(ctx, 2, opts)
		require.NoError(t, err)
		require.NoError(t, c.sim.RestartStore(2))
		require.NoError(t, c.sim.SetSlowStoreEvicted(2, true))
		res, err := c.sub.FinishRestart(ctx, 2, opts)
		require.NoError(t, err)
		require.Contains(t, res.Summary, slowSched)
		require.NotContains(t, schedulers(t, c.sub), leaderSched)
		ev, err := c.sub.Evictions(ctx)
		require.NoError(t, err)
		require.Equal(t, []subject.Eviction{{Store: 2, Scheduler: slowSched, By: subject.ByCluster}}, ev)

		// Called again (resumed): nothing to do, PD's left alone.
		res, err = c.sub.FinishRestart(ctx, 2, opts)
		require.NoError(t, err)
		require.True(t, res.NoChange)
		require.Contains(t, res.Summary, slowSched)
	})
	t.Run("stopping", func(t *testing.T) {
		c := newCluster(t, nil)
		ctx := t.Context()
		_, err := c.sub.PrepareRestart(ctx, 2, opts)
		require.NoError(t, err)
		// A graceful stop: TiKV reports stopping, PD evicts it too.
		require.NoError(t, c.sim.SetStoppingStoreEvicted(2, true))
		require.NoError(t, c.sim.StopStore(2))
		c.sim.Advance(10 * time.Second)
		require.NoError(t, c.sim.StartStore(2))
		res, err := c.sub.FinishRestart(ctx, 2, opts)
		require.NoError(t, err)
		require.Contains(t, res.Summary, "is back")
		require.Positive(t, leadersOf(t, c, 2))
		ev, err := c.sub.Evictions(ctx)
		require.NoError(t, err)
		require.Empty(t, ev)
	})
}

// TestReconcileLeavesPDsEvictions: ReconcileEvictions removes the
// evictions its ledger lists and never PD's own, which its summary names.
func TestReconcileLeavesPDsEvictions(t *testing.T) {
	rc := newRestartCluster(t)
	sub, ctx, _ := rc.process(t, 0, false)
	_, err := sub.PrepareRestart(ctx, 2, tikv.RestartOptions{})
	require.NoError(t, err)
	require.NoError(t, rc.sim.SetSlowStoreEvicted(2, true))
	require.NoError(t, rc.sim.SetStoppingStoreEvicted(4, true))
	for _, ctx := range []context.Context{subject.WithDryRun(ctx), ctx} {
		res, err := sub.ReconcileEvictions(ctx)
		require.NoError(t, err)
		require.Contains(t, res.Summary, "store 2 by "+slowSched)
		require.Contains(t, res.Summary, "store 4 by "+stoppingSched)
	}
	ev, err := sub.Evictions(ctx)
	require.NoError(t, err)
	require.Equal(t, []subject.Eviction{
		{Store: 2, Scheduler: slowSched, By: subject.ByCluster},
		{Store: 4, Scheduler: stoppingSched, By: subject.ByCluster},
	}, ev)
}

// TestHaltSchedulingRefusesWhatNeedsAScheduler: while PD's halt-scheduling
// is on, the actions that rely on a scheduler or a checker are refused
// (ErrPrecondition, saying why), as dry runs too, and nothing is sent; the
// actions that are admin operators go on; an action with nothing to do
// says so, halted or not. Lifted, they go through.
func TestHaltSchedulingRefusesWhatNeedsAScheduler(t *testing.T) {
	c := newCluster(t, nil)
	ctx := t.Context()
	// Region 9 (peers on stores 5, 1 and 2) keeps two stores to lead it.
	_, err := c.sub.EvictLeaders(ctx, 3)
	require.NoError(t, err)
	_, err = c.sub.DrainStore(ctx, 4)
	require.NoError(t, err)
	require.NoError(t, c.sub.PD().SetHaltScheduling(ctx, true))

	for _, act := range []struct {
		name string
		call func(context.Context) (subject.Result, error)
	}{
		{"evict_leaders", func(ctx context.Context) (subject.Result, error) { return c.sub.EvictLeaders(ctx, 2) }},
		{"prepare_restart", func(ctx context.Context) (subject.Result, error) {
			return c.sub.PrepareRestart(ctx, 2, tikv.RestartOptions{})
		}},
		{"restore_leaders", func(ctx context.Context) (subject.Result, error) { return c.sub.RestoreLeaders(ctx, 3) }},
		{"finish_restart", func(ctx context.Context) (subject.Result, error) {
			return c.sub.FinishRestart(ctx, 3, tikv.RestartOptions{})
		}},
		{"drain_store", func(ctx context.Context) (subject.Result, error) { return c.sub.DrainStore(ctx, 5) }},
		{"undrain_store", func(ctx context.Context) (subject.Result, error) { return c.sub.UndrainStore(ctx, 4) }},
	} {
		for _, ctx := range []context.Context{subject.WithDryRun(ctx), ctx} {
			_, err := act.call(ctx)
			requireOutcome(t, err, subject.PhaseRefused)
			require.ErrorIs(t, err, subject.ErrPrecondition, act.name)
			// The library's own wording, documented on each action.
			require.Contains(t, err.Error(), "halt-scheduling", act.name)
		}
	}
	require.Equal(t, []string{leaderSched}, slices.DeleteFunc(schedulers(t, c.sub), func(s string) bool { return !strings.HasPrefix(s, "evict-leader") }))
	st, err := c.sim.StoreState(4)
	require.NoError(t, err)
	require.Equal(t, subject.StateOffline, st, "the undrain was not sent")
	st, err = c.sim.StoreState(5)
	require.NoError(t, err)
	require.Equal(t, subject.StateUp, st, "the drain was not sent")

	// Nothing to do is no refusal; an admin operator runs.
	res, err := c.sub.RestoreLeaders(ctx, 2)
	require.NoError(t, err)
	require.True(t, res.NoChange)
	leader, err := c.sim.RegionLeader(region9)
	require.NoError(t, err)
	r, err := c.sub.Region(ctx, region9)
	require.NoError(t, err)
	var to subject.StoreID
	for _, p := range r.Peers {
		if p.Store != leader {
			to = p.Store
		}
	}
	require.NotZero(t, to)
	_, err = c.sub.TransferLeader(ctx, region9, to)
	require.NoError(t, err, "an admin operator runs while halted")

	require.NoError(t, c.sub.PD().SetHaltScheduling(ctx, false))
	_, err = c.sub.RestoreLeaders(ctx, 3)
	require.NoError(t, err)
	_, err = c.sub.UndrainStore(ctx, 4)
	require.NoError(t, err)
}

// TestCheckStableReportsHaltScheduling: the stability gate says PD's
// scheduling is halted, and passes again once it is lifted.
func TestCheckStableReportsHaltScheduling(t *testing.T) {
	c := newCluster(t, nil)
	ctx := t.Context()
	require.NoError(t, c.sub.CheckStable(ctx, 0))
	require.NoError(t, c.sub.PD().SetHaltScheduling(ctx, true))
	err := c.sub.CheckStable(ctx, 0)
	require.ErrorIs(t, err, subject.ErrPrecondition)
	require.Contains(t, err.Error(), "halt-scheduling")
	require.NoError(t, c.sub.PD().SetHaltScheduling(ctx, false))
	require.NoError(t, c.sub.CheckStable(ctx, 0))
}

// TestScheduleState: the schedule_state observation, as a method and as
// a tool: halt-scheduling, the schedulers, the evictions and the
// maintenance lock; a PD without the lock says so without failing.
func TestScheduleState(t *testing.T) {
	c := newCluster(t, nil)
	ctx := t.Context()
	got, err := c.sub.ScheduleState(ctx)
	require.NoError(t, err)
	require.False(t, got.Halted)
	require.True(t, got.MaintenanceLock)
	require.NotNil(t, got.Maintenance)
	require.Empty(t, got.Maintenance)
	require.Empty(t, got.Evictions)
	require.Contains(t, got.Schedulers, slowSched)

	require.NoError(t, c.sub.PD().SetHaltScheduling(ctx, true))
	require.NoError(t, c.sim.SetSlowStoreEvicted(2, true))
	require.NoError(t, c.sub.PD().StartMaintenance(ctx, "tikv_restart", "tiup-1", "rolling restart"))
	got, err = c.sub.ScheduleState(ctx)
	require.NoError(t, err)
	require.True(t, got.Halted)
	require.Equal(t, []subject.Eviction{{Store: 2, Scheduler: slowSched, By: subject.ByCluster}}, got.Evictions)
	require.Equal(t, []subject.MaintenanceTask{{Type: "tikv_restart", ID: "tiup-1", Description: "rolling restart",
		Started: c.sim.Now().Truncate(time.Second).UTC()}}, got.Maintenance)

	ts, err := c.sub.Tools()
	require.NoError(t, err)
	i := slices.IndexFunc(ts, func(tl tools.Tool) bool { return tl.Name == "schedule_state" })
	require.GreaterOrEqual(t, i, 0, "schedule_state is a tool")
	out, err := ts[i].Call(ctx, json.RawMessage(`{}`))
	require.NoError(t, err)
	var viaTool tikv.ScheduleState
	b, err := json.Marshal(out)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &viaTool))
	require.Equal(t, got, viaTool)
	require.True(t, slices.ContainsFunc(c.sub.Capabilities().Observations, func(o subject.ObservationSpec) bool {
		return o.Name == "schedule_state" && o.Description != ""
	}))

	c.sim.SetMaintenanceEndpoint(false)
	got, err = c.sub.ScheduleState(ctx)
	require.NoError(t, err)
	require.False(t, got.MaintenanceLock)
	require.Empty(t, got.Maintenance)
}

// TestTransferToAStorePDEvictsRefused: a leader transfer to a store PD's
// own scheduler evicts is refused before anything is sent, as PD would
// refuse it (its leader-target filter).
func TestTransferToAStorePDEvictsRefused(t *testing.T) {
	c := newCluster(t, nil)
	ctx := t.Context()
	require.NoError(t, c.sim.SetSlowStoreEvicted(2, true)) // region 9: peers on 5, 1, 2, led from 1
	_, err := c.sub.TransferLeader(ctx, region9, 2)
	requireOutcome(t, err, subject.PhaseRefused)
	require.ErrorIs(t, err, subject.ErrPrecondition)
	require.Contains(t, err.Error(), slowSched)
	leader, err := c.sim.RegionLeader(region9)
	require.NoError(t, err)
	require.NotEqual(t, subject.StoreID(2), leader)
}
