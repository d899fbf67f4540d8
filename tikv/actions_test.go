package tikv_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kvops/operator/invariant"
	"github.com/kvops/operator/pdclient"
	"github.com/kvops/operator/subject"
	"github.com/kvops/operator/tikv"
	"github.com/kvops/operator/tikv/tikvtest"
)

// refusals are the sentinels that say nothing was changed.
var refusals = []error{subject.ErrNotFound, subject.ErrInvalid, subject.ErrPrecondition, subject.ErrNotSupported, subject.ErrNotApproved}

// requireOutcome checks that err is a *subject.ActionError of the phase,
// that it matches exactly the sentinels of that phase, and returns it.
func requireOutcome(t *testing.T, err error, phase subject.Phase) *subject.ActionError {
	t.Helper()
	require.Error(t, err)
	var ae *subject.ActionError
	require.ErrorAs(t, err, &ae)
	require.Equal(t, phase, ae.Phase, "error: %v", err)
	require.Equal(t, phase == subject.PhaseFailed, errors.Is(err, subject.ErrActionFailed), "ErrActionFailed: %v", err)
	require.Equal(t, phase == subject.PhaseUnconfirmed, errors.Is(err, subject.ErrUnconfirmed), "ErrUnconfirmed: %v", err)
	if phase != subject.PhaseRefused {
		for _, r := range refusals {
			require.NotErrorIs(t, err, r, "an error after the request was sent matches a refusal")
		}
	}
	return ae
}

const region9 = subject.RegionID(9) // peers on stores 5, 1, 2; led from store 1

// newSteppedCluster is newCluster whose actions, while they wait, move the
// simulation in steps of step rather than one poll interval at once.
func newSteppedCluster(t *testing.T, step time.Duration) *cluster {
	t.Helper()
	var cfg tikv.Config
	c := newCluster(t, func(base *tikv.Config) { cfg = *base })
	cfg.Sleep = func(ctx context.Context, d time.Duration) error {
		for left := d; left > 0; left -= step {
			c.sim.Advance(min(step, left))
		}
		return ctx.Err()
	}
	sub, err := tikv.New(cfg)
	require.NoError(t, err)
	return &cluster{sim: c.sim, sub: sub}
}

// TestActionEndsWithinOnePollOfPD: when PD ends an action's operator
// without its effect, the action returns within one poll interval with
// PD's status and description.
func TestActionEndsWithinOnePollOfPD(t *testing.T) {
	split := func(c *cluster) (subject.Result, error) { return c.sub.SplitRegion(t.Context(), region9) }
	transfer := func(c *cluster) (subject.Result, error) { return c.sub.TransferLeader(t.Context(), region9, 5) }
	tests := []struct {
		name    string
		outcome tikvtest.OperatorOutcome
		act     func(*cluster) (subject.Result, error)
		status  string
	}{
		{"split timed out", tikvtest.OperatorTimesOut, split, "TIMEOUT"},
		{"split cancelled", tikvtest.OperatorCancelled, split, "CANCEL"},
		{"split replaced", tikvtest.OperatorReplaced, split, "REPLACE"},
		{"transfer timed out", tikvtest.OperatorTimesOut, transfer, "TIMEOUT"},
		{"transfer cancelled", tikvtest.OperatorCancelled, transfer, "CANCEL"},
		{"transfer replaced", tikvtest.OperatorReplaced, transfer, "REPLACE"},
	}
	const poll = time.Second
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// PD's own ticks (400ms) fall between the action's polls (1s),
			// and the action starts off the tick grid, so PD ends the
			// operator at any moment between two polls.
			c := newSteppedCluster(t, 400*time.Millisecond)
			c.sim.Advance(300 * time.Millisecond)
			require.NoError(t, c.sim.FailOperators(tt.outcome, 1))
			res, err := tt.act(c)
			ae := requireOutcome(t, err, subject.PhaseFailed)
			require.Equal(t, tt.status, ae.Status)
			// The error carries PD's description of the region's latest
			// operator: ours, or the one that replaced it.
			latest, err := c.sub.PD().OperatorStatus(t.Context(), uint64(region9))
			require.NoError(t, err)
			require.Contains(t, ae.Reason, latest.Text)
			status, _, ended, ok := c.sim.OperatorEnded(uint64(region9))
			require.True(t, ok)
			require.Equal(t, tt.status, status)
			took := res.Finished.Sub(ended)
			t.Logf("PD ended the operator %s at +%v; the action returned %v later", status, ended.Sub(res.Started), took)
			require.GreaterOrEqual(t, took, time.Duration(0))
			require.LessOrEqual(t, took, poll, "the action returned more than one poll after PD ended its operator")
		})
	}
}

// TestBoundEndsWithOperatorPending: a split PD never executes outlives the
// action's bound; the action says so and cancels it, unless told to keep
// it, in which case PD refuses the next operator on the region, and the
// dry run foresees it.
func TestBoundEndsWithOperatorPending(t *testing.T) {
	for _, keep := range []bool{false, true} {
		t.Run(map[bool]string{false: "cancelled", true: "kept"}[keep], func(t *testing.T) {
			c := newCluster(t, func(cfg *tikv.Config) {
				cfg.Actions.Timeouts.SplitRegion = 20 * time.Second
				cfg.Actions.KeepPendingOperators = keep
			})
			require.NoError(t, c.sim.FailOperators(tikvtest.OperatorTimesOut, 1))
			res, err := c.sub.SplitRegion(t.Context(), region9)
			ae := requireOutcome(t, err, subject.PhaseUnconfirmed)
			require.Equal(t, pdclient.OpRunning, ae.Status, "the error carries PD's status of the pending operator")
			require.Equal(t, 20*time.Second, res.Finished.Sub(res.Started))
			ctx := t.Context()
			if !keep {
				status, _, _, ok := c.sim.OperatorEnded(uint64(region9))
				require.True(t, ok)
				require.Equal(t, "CANCEL", status)
				_, err := c.sub.TransferLeader(ctx, region9, 5)
				require.NoError(t, err, "the region is free for the next operator")
				return
			}
			st, err := c.sub.PD().OperatorStatus(ctx, uint64(region9))
			require.NoError(t, err)
			require.True(t, st.Pending(), "the operator was left pending: %s", st.Raw)
			for _, dry := range []bool{true, false} {
				actx := ctx
				if dry {
					actx = subject.WithDryRun(ctx)
				}
				_, err := c.sub.TransferLeader(actx, region9, 5)
				requireOutcome(t, err, subject.PhaseRefused)
				require.ErrorIs(t, err, subject.ErrPrecondition)
			}
			// PD itself refuses it: ErrAddOperator is a refusal too.
			err = c.sub.PD().TransferLeader(ctx, uint64(region9), 5)
			require.ErrorIs(t, err, subject.ErrPrecondition)
		})
	}
}

// TestLostAnswerIsUnconfirmed: PD carries out the request but its answer
// is lost, or a proxy in front of PD answers 503 once PD applied it; the
// action says it may have been applied (PhaseUnconfirmed, matching
// subject.ErrUnconfirmed and no refusal) and does not send it again.
func TestLostAnswerIsUnconfirmed(t *testing.T) {
	tests := []struct {
		name   string
		method string
		path   string
		act    func(c *frontCluster) (subject.Result, error)
	}{
		{"transfer_leader", http.MethodPost, "/operators", func(c *frontCluster) (subject.Result, error) {
			return c.sub.TransferLeader(t.Context(), region9, 5)
		}},
		{"split_region", http.MethodPost, "/operators", func(c *frontCluster) (subject.Result, error) { return c.sub.SplitRegion(t.Context(), region9) }},
		{"drain_store", http.MethodDelete, "/store/4", func(c *frontCluster) (subject.Result, error) { return c.sub.DrainStore(t.Context(), 4) }},
		{"evict_leaders", http.MethodPost, "/schedulers", func(c *frontCluster) (subject.Result, error) { return c.sub.EvictLeaders(t.Context(), 2) }},
		{"set_schedule_limit", http.MethodPost, "/config", func(c *frontCluster) (subject.Result, error) {
			return c.sub.SetScheduleLimit(t.Context(), subject.LeaderLimit, 9)
		}},
		{"set_low_space_threshold", http.MethodPost, "/config", func(c *frontCluster) (subject.Result, error) {
			return c.sub.SetLowSpaceThreshold(t.Context(), 90)
		}},
		{"undrain_store", http.MethodPost, "/store/4/state", func(c *frontCluster) (subject.Result, error) {
			if _, err := c.sub.DrainStore(t.Context(), 4); err != nil {
				return subject.Result{}, err
			}
			return c.sub.UndrainStore(t.Context(), 4)
		}},
		{"restore_leaders", http.MethodDelete, "/schedulers", func(c *frontCluster) (subject.Result, error) {
			if _, err := c.sub.EvictLeaders(t.Context(), 2); err != nil {
				return subject.Result{}, err
			}
			return c.sub.RestoreLeaders(t.Context(), 2)
		}},
		{"prepare_restart", http.MethodPost, "/schedulers", func(c *frontCluster) (subject.Result, error) {
			return c.sub.PrepareRestart(t.Context(), 2, tikv.RestartOptions{})
		}},
	}
	for _, kind := range []faultKind{lostAnswer, proxy503} {
		for _, tt := range tests {
			t.Run(map[faultKind]string{lostAnswer: "lost/", proxy503: "proxy 503/"}[kind]+tt.name, func(t *testing.T) {
				c := newFrontCluster(t, nil, nil)
				c.front.setFault(fault{kind: kind, method: tt.method, path: tt.path})
				_, err := tt.act(c)
				ae := requireOutcome(t, err, subject.PhaseUnconfirmed)
				require.ErrorIs(t, err, pdclient.ErrUnconfirmed)
				require.False(t, pdclient.NotApplied(ae.Err))
				require.Equal(t, int64(1), c.front.lost.Load(), "the request was sent again")
			})
		}
	}
}

// TestEffectNotShownIsUnconfirmed: PD answers 200 to every action's
// request but does nothing; each action waits for its effect until its
// bound and says it is unconfirmed.
func TestEffectNotShownIsUnconfirmed(t *testing.T) {
	tests := []struct {
		name   string
		method string
		path   string
		setup  func(t *testing.T, c *frontCluster)
		act    func(c *frontCluster) (subject.Result, error)
	}{
		{"transfer_leader", http.MethodPost, "/operators", nil, func(c *frontCluster) (subject.Result, error) {
			return c.sub.TransferLeader(t.Context(), region9, 5)
		}},
		{"split_region", http.MethodPost, "/operators", nil, func(c *frontCluster) (subject.Result, error) { return c.sub.SplitRegion(t.Context(), region9) }},
		{"drain_store", http.MethodDelete, "/store/4", nil, func(c *frontCluster) (subject.Result, error) { return c.sub.DrainStore(t.Context(), 4) }},
		{"undrain_store", http.MethodPost, "/store/4/state", func(t *testing.T, c *frontCluster) {
			_, err := c.sub.DrainStore(t.Context(), 4)
			require.NoError(t, err)
		}, func(c *frontCluster) (subject.Result, error) { return c.sub.UndrainStore(t.Context(), 4) }},
		{"evict_leaders", http.MethodPost, "/schedulers", nil, func(c *frontCluster) (subject.Result, error) { return c.sub.EvictLeaders(t.Context(), 2) }},
		{"restore_leaders", http.MethodDelete, "/schedulers", func(t *testing.T, c *frontCluster) {
			// The eviction itself, not its wait: leaders leave at about
			// ten a second, longer than this test's 1s bounds.
			require.NoError(t, c.sub.PD().EvictLeader(t.Context(), 2))
		}, func(c *frontCluster) (subject.Result, error) { return c.sub.RestoreLeaders(t.Context(), 2) }},
		{"set_schedule_limit", http.MethodPost, "/config", nil, func(c *frontCluster) (subject.Result, error) {
			return c.sub.SetScheduleLimit(t.Context(), subject.LeaderLimit, 9)
		}},
		{"set_low_space_threshold", http.MethodPost, "/config", nil, func(c *frontCluster) (subject.Result, error) {
			return c.sub.SetLowSpaceThreshold(t.Context(), 90)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newFrontCluster(t, nil, func(cfg *tikv.Config) {
				cfg.Actions.Timeouts = tikv.ActionTimeouts{TransferLeader: time.Second, SplitRegion: time.Second, DrainStore: time.Second,
					UndrainStore: time.Second, EvictLeaders: time.Second, RestoreLeaders: time.Second, Config: time.Second}
			})
			if tt.setup != nil {
				tt.setup(t, c)
			}
			c.front.setFault(fault{kind: swallowed, method: tt.method, path: tt.path})
			res, err := tt.act(c)
			requireOutcome(t, err, subject.PhaseUnconfirmed)
			require.Equal(t, time.Second, res.Finished.Sub(res.Started), "the action waited its bound")
		})
	}
}

// TestArgumentsCheckedBeforeAnyRequest: ids 0 are refused at once.
func TestArgumentsCheckedBeforeAnyRequest(t *testing.T) {
	c := newFrontCluster(t, nil, nil)
	ctx := t.Context()
	served := func() (n int64) {
		for _, ep := range c.front.eps {
			n += ep.served.Load()
		}
		return n
	}
	tests := []struct {
		name string
		act  func() (subject.Result, error)
	}{
		{"transfer region 0", func() (subject.Result, error) { return c.sub.TransferLeader(ctx, 0, 1) }},
		{"transfer to store 0", func() (subject.Result, error) { return c.sub.TransferLeader(ctx, 9, 0) }},
		{"split region 0", func() (subject.Result, error) { return c.sub.SplitRegion(ctx, 0) }},
		{"drain store 0", func() (subject.Result, error) { return c.sub.DrainStore(ctx, 0) }},
		{"undrain store 0", func() (subject.Result, error) { return c.sub.UndrainStore(ctx, 0) }},
		{"evict store 0", func() (subject.Result, error) { return c.sub.EvictLeaders(ctx, 0) }},
		{"restore store 0", func() (subject.Result, error) { return c.sub.RestoreLeaders(ctx, 0) }},
		{"prepare restart of store 0", func() (subject.Result, error) { return c.sub.PrepareRestart(ctx, 0, tikv.RestartOptions{}) }},
		{"finish restart of store 0", func() (subject.Result, error) { return c.sub.FinishRestart(ctx, 0, tikv.RestartOptions{}) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := served()
			_, err := tt.act()
			requireOutcome(t, err, subject.PhaseRefused)
			require.ErrorIs(t, err, subject.ErrInvalid)
			require.Equal(t, before, served(), "a request was sent")
		})
	}
}

// TestDryRunSaysWhatTheCallWouldDo: per call, and the same as the real
// call says.
func TestDryRunSaysWhatTheCallWouldDo(t *testing.T) {
	c := newCluster(t, nil)
	ctx := t.Context()
	leaders := func() int {
		stores, err := c.sub.Stores(ctx)
		require.NoError(t, err)
		return stores[0].LeaderCount
	}
	dry, err := c.sub.RestoreLeaders(subject.WithDryRun(ctx), 1)
	require.NoError(t, err)
	require.True(t, dry.DryRun)
	require.True(t, dry.NoChange, "store 1's leaders are not evicted")
	real, err := c.sub.RestoreLeaders(ctx, 1)
	require.NoError(t, err)
	require.False(t, real.DryRun)
	require.True(t, real.NoChange)
	require.Equal(t, dry.Summary, real.Summary, "the dry run says what the call says")

	led := leaders()
	require.NotZero(t, led)
	dry, err = c.sub.EvictLeaders(subject.WithDryRun(ctx), 1)
	require.NoError(t, err)
	require.True(t, dry.DryRun)
	require.False(t, dry.NoChange)
	require.Equal(t, led, leaders(), "a dry run evicted leaders")
	ev, err := c.sub.EvictedStores(ctx)
	require.NoError(t, err)
	require.Empty(t, ev, "a dry run added an eviction")
	_, err = c.sub.EvictLeaders(ctx, 1)
	require.NoError(t, err)
	require.Zero(t, leaders())
	ev, err = c.sub.EvictedStores(ctx)
	require.NoError(t, err)
	require.Equal(t, []subject.StoreID{1}, ev)

	dry, err = c.sub.RestoreLeaders(subject.WithDryRun(ctx), 1)
	require.NoError(t, err)
	require.True(t, dry.DryRun)
	require.False(t, dry.NoChange)
	ev, err = c.sub.EvictedStores(ctx)
	require.NoError(t, err)
	require.Equal(t, []subject.StoreID{1}, ev, "a dry run removed the eviction")
	_, err = c.sub.RestoreLeaders(ctx, 1)
	require.NoError(t, err)
	ev, err = c.sub.EvictedStores(ctx)
	require.NoError(t, err)
	require.Empty(t, ev)
	require.NotZero(t, leaders(), "restore returned before the store led again")
}

// TestEvictLeadersKeepsStoresToLead: evicting refuses to leave fewer
// than the configured number of other Up stores able to lead, counting
// stores evicted already, and refuses a store that is not Up.
func TestEvictLeadersKeepsStoresToLead(t *testing.T) {
	tests := []struct {
		min     int
		evicted []subject.StoreID
		refused subject.StoreID
	}{
		// The default, 2: with 1 and 2 evicted, 3 leaves 4 and 5; 4 would
		// leave only 5 (and regions on 1, 2 and 3 alone keep their leader
		// there, so 3 is not evicted here).
		{0, []subject.StoreID{1, 2}, 0},
		// With 3, evicting 3 would leave only 4 and 5.
		{3, []subject.StoreID{1, 2}, 3},
	}
	for _, tt := range tests {
		c := newCluster(t, func(cfg *tikv.Config) { cfg.Actions.MinLeaderStores = tt.min })
		ctx := t.Context()
		for _, id := range tt.evicted {
			_, err := c.sub.EvictLeaders(ctx, id)
			require.NoError(t, err, "store %d", id)
		}
		_, err := c.sub.EvictLeaders(ctx, tt.evicted[0])
		require.NoError(t, err, "evicting an evicted store again is harmless")
		if tt.refused == 0 {
			_, err = c.sub.EvictLeaders(subject.WithDryRun(ctx), 4)
			require.NoError(t, err)
			continue
		}
		for _, dry := range []bool{true, false} {
			actx := ctx
			if dry {
				actx = subject.WithDryRun(ctx)
			}
			_, err = c.sub.EvictLeaders(actx, tt.refused)
			requireOutcome(t, err, subject.PhaseRefused)
			require.ErrorIs(t, err, subject.ErrPrecondition)
		}
		ev, err := c.sub.EvictedStores(ctx)
		require.NoError(t, err)
		require.Equal(t, tt.evicted, ev, "a refused eviction was added")
	}
	// The default lets three of five stores be evicted; regions with all
	// their voters on those keep their leader there.
	c := newCluster(t, func(cfg *tikv.Config) { cfg.Actions.Timeouts.EvictLeaders = 30 * time.Second })
	ctx := t.Context()
	_, err := c.sub.EvictLeaders(ctx, 4)
	require.NoError(t, err)
	_, err = c.sub.EvictLeaders(ctx, 3)
	require.NoError(t, err)
	res, err := c.sub.EvictLeaders(ctx, 2)
	requireOutcome(t, err, subject.PhaseUnconfirmed)
	require.NotEmpty(t, res.Regions, "the result lists the regions store 2 still leads")
	_, err = c.sub.EvictLeaders(subject.WithDryRun(ctx), 1)
	requireOutcome(t, err, subject.PhaseRefused)
	require.ErrorIs(t, err, subject.ErrPrecondition, "default: at least two others")
	for _, id := range []subject.StoreID{2, 3, 4} {
		_, err := c.sub.RestoreLeaders(ctx, id)
		require.NoError(t, err)
	}
	require.NoError(t, c.sim.StopStore(5))
	c.sim.Advance(25 * time.Second)
	_, err = c.sub.EvictLeaders(ctx, 5)
	requireOutcome(t, err, subject.PhaseRefused)
	require.ErrorIs(t, err, subject.ErrPrecondition, "store 5 is Disconnected")
}

// TestEvictionLeavesLeadersBehind: leaders that cannot move are counted
// and listed when the bound ends.
func TestEvictionLeavesLeadersBehind(t *testing.T) {
	c := newCluster(t, func(cfg *tikv.Config) { cfg.Actions.Timeouts.EvictLeaders = 30 * time.Second })
	require.NoError(t, c.sim.SetStuckLeaders(2, 3))
	res, err := c.sub.EvictLeaders(t.Context(), 2)
	requireOutcome(t, err, subject.PhaseUnconfirmed)
	require.Equal(t, 30*time.Second, res.Finished.Sub(res.Started))
	require.Len(t, res.Regions, 3)
}

// TestDrainReturnsWhenOffline: the drain returns once PD shows the store
// Offline, with the regions still on it, long before they have moved.
func TestDrainReturnsWhenOffline(t *testing.T) {
	c := newCluster(t, nil)
	res, err := c.sub.DrainStore(t.Context(), 4)
	require.NoError(t, err)
	require.NotEmpty(t, res.Regions)
	st, err := c.sim.StoreState(4)
	require.NoError(t, err)
	require.Equal(t, subject.StateOffline, st)
	require.LessOrEqual(t, res.Finished.Sub(res.Started), time.Second)
	_, err = c.sub.UndrainStore(t.Context(), 4)
	require.NoError(t, err)
	st, err = c.sim.StoreState(4)
	require.NoError(t, err)
	require.Equal(t, subject.StateUp, st)
}

// TestLeaderImbalanceResolvesAfterStoreReturns replays examples/watch's
// scenario for store 2 (stopped at 3 s, started at 35 s, 200 regions):
// PD's balance-leader, as the simulator now models it, gives the store
// its leaders back, so leader_imbalance fires while it is gone and
// resolves within a minute of its return instead of firing for good.
func TestLeaderImbalanceResolvesAfterStoreReturns(t *testing.T) {
	cl, err := tikvtest.NewUnstartedCluster(tikvtest.Config{Stores: 5, Regions: 200, Clock: &fixedClock{t: start}, Seed: 1})
	require.NoError(t, err)
	require.NoError(t, cl.Start(t.Context()))
	t.Cleanup(func() { _ = cl.Close() })
	th := tikv.DefaultThresholds()
	th.LeaderImbalanceGrace = time.Nanosecond // zero would take the default
	sub, err := tikv.New(tikv.Config{PD: pdclient.Config{Endpoints: []string{cl.PDURL()}}, DisableMetrics: true, Clock: cl.Now, Thresholds: &th})
	require.NoError(t, err)
	e := evaluator(t, sub)
	firing := func() bool {
		_, err := e.Evaluate(t.Context(), cl.Now())
		require.NoError(t, err)
		for _, a := range e.Alerts() {
			if a.Invariant == tikv.InvLeaderImbalance && a.State == invariant.StateFiring {
				return true
			}
		}
		return false
	}
	cl.Advance(3 * time.Second)
	require.False(t, firing())
	require.NoError(t, cl.StopStore(2))
	sawFiring := false
	for range 32 {
		cl.Advance(time.Second)
		sawFiring = firing() || sawFiring
	}
	require.True(t, sawFiring, "leader_imbalance never fired while store 2 was stopped")
	require.NoError(t, cl.StartStore(2))
	for s := range 60 {
		cl.Advance(time.Second)
		if !firing() {
			t.Logf("leader_imbalance resolved %ds after store 2 came back", s+1)
			return
		}
	}
	t.Fatal("leader_imbalance still firing a minute after store 2 came back")
}

func TestActionConfigRefusesNegativeValues(t *testing.T) {
	for _, tt := range []struct {
		cfg   tikv.ActionConfig
		field string // the error names the field
	}{
		{tikv.ActionConfig{Timeouts: tikv.ActionTimeouts{SplitRegion: -time.Second}}, "Actions.Timeouts.SplitRegion"},
		{tikv.ActionConfig{MinLeaderStores: -1}, "Actions.MinLeaderStores"},
		{tikv.ActionConfig{PollInterval: -time.Second}, "Actions.PollInterval"},
	} {
		_, err := tikv.New(tikv.Config{DisableMetrics: true, Actions: tt.cfg})
		require.ErrorIs(t, err, subject.ErrInvalid)
		require.ErrorContains(t, err, tt.field)
	}
	_, err := tikv.New(tikv.Config{DisableMetrics: true, Actions: tikv.DefaultActionConfig()})
	require.NoError(t, err)
}
