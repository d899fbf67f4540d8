package guard_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kvops/operator/pdclient"
	"github.com/kvops/operator/subject"
	"github.com/kvops/operator/subject/guard"
	"github.com/kvops/operator/subject/tools"
	"github.com/kvops/operator/tikv"
	"github.com/kvops/operator/tikv/tikvtest"
)

// The guard over the real TiKV subject, talking to the simulated cluster
// over real listeners. Time moves only when a test or an action's wait
// advances the simulation.

type simClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *simClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

// simEnv is a simulated cluster of 5 stores.
type simEnv struct {
	t   *testing.T
	sim *tikvtest.Cluster
	// wait, when set, is called by an action each time it waits for PD,
	// before the simulation advances.
	wait func(ctx context.Context) error
}

func newSimEnv(t *testing.T) *simEnv {
	t.Helper()
	cl, err := tikvtest.NewUnstartedCluster(tikvtest.Config{Stores: 5, Regions: 40, Clock: &simClock{t: epoch}, Seed: 1})
	require.NoError(t, err)
	require.NoError(t, cl.Start(t.Context()))
	t.Cleanup(func() { _ = cl.Close() })
	cl.Advance(time.Second)
	return &simEnv{t: t, sim: cl}
}

// subject returns a TiKV subject over the cluster; rt, when set, carries
// its requests to PD.
func (e *simEnv) subject(rt http.RoundTripper) *tikv.Subject {
	e.t.Helper()
	tr := http.DefaultTransport.(*http.Transport).Clone()
	e.t.Cleanup(tr.CloseIdleConnections)
	if rt == nil {
		rt = tr
	}
	s, err := tikv.New(tikv.Config{
		PD:             pdclient.Config{Endpoints: []string{e.sim.PDURL()}, HTTPClient: &http.Client{Transport: rt}},
		DisableMetrics: true, Clock: e.sim.Now, Actions: tikv.ActionConfig{PollInterval: time.Second},
		Sleep: func(ctx context.Context, d time.Duration) error {
			if e.wait != nil {
				if err := e.wait(ctx); err != nil {
					return err
				}
			}
			e.sim.Advance(d)
			return ctx.Err()
		},
	})
	require.NoError(e.t, err)
	return s
}

// requireLockFree checks that PD's maintenance lock is free.
func requireLockFree(t *testing.T, env *simEnv) {
	t.Helper()
	tasks, err := env.subject(nil).MaintenanceTasks(t.Context())
	require.NoError(t, err)
	require.Empty(t, tasks, "PD's maintenance lock is held")
}

func (e *simEnv) state(id subject.StoreID) subject.StoreState {
	e.t.Helper()
	st, err := e.sim.StoreState(id)
	require.NoError(e.t, err)
	return st
}

// approvals is an Approver that hands each request to the test and waits
// for its answer. A request that comes while another waits is refused at
// once, so that a guard letting two through fails the test instead of
// hanging it.
type approvals struct {
	asked   chan guard.Request
	answer  chan guard.Approval
	mu      sync.Mutex
	waiting bool
}

func newApprovals() *approvals {
	return &approvals{asked: make(chan guard.Request), answer: make(chan guard.Approval)}
}

func (a *approvals) approve(ctx context.Context, r guard.Request) (guard.Approval, error) {
	a.mu.Lock()
	busy := a.waiting
	a.waiting = true
	a.mu.Unlock()
	if busy {
		return guard.Approval{By: "test", Reason: "a second request reached the approver"}, nil
	}
	defer func() {
		a.mu.Lock()
		a.waiting = false
		a.mu.Unlock()
	}()
	select {
	case a.asked <- r:
	case <-ctx.Done():
		return guard.Approval{}, ctx.Err()
	}
	select {
	case ans := <-a.answer:
		return ans, nil
	case <-ctx.Done():
		return guard.Approval{}, ctx.Err()
	}
}

// drainAwaitingApproval starts a drain of store 4 through a guard in
// approve-each mode and returns once the approver holds it; done receives
// the drain's error.
func drainAwaitingApproval(t *testing.T, env *simEnv) (g *guard.Guard, j *journal, ap *approvals, req guard.Request, done chan error) {
	t.Helper()
	ap = newApprovals()
	g, j, _ = newGuard(t, env.subject(nil), guard.Config{Mode: guard.ModeApproveEach, Approver: ap.approve, Clock: env.sim.Now})
	done = make(chan error, 1)
	go func() { _, err := g.DrainStore(t.Context(), 4); done <- err }()
	return g, j, ap, <-ap.asked, done
}

func TestSimSecondDrainRefusedWhileOneRuns(t *testing.T) {
	env := newSimEnv(t)
	g, j, ap, req, done := drainAwaitingApproval(t, env)
	ctx := t.Context()
	require.Equal(t, "drain_store", req.Action)
	require.True(t, req.DryRun.DryRun, "the approver sees the dry run")
	require.Equal(t, "store 4", req.DryRun.Target)

	_, err := g.DrainStore(ctx, 5)
	require.ErrorIs(t, err, guard.ErrBusy, "one drain awaits approval")
	require.Equal(t, subject.StateUp, env.state(5))

	ap.answer <- guard.Approval{Approved: true, By: "alice"}
	require.NoError(t, <-done)
	require.Equal(t, subject.StateOffline, env.state(4), "PD is draining store 4")

	// PD is still moving store 4's regions: the stability gate refuses
	// another drain, with the reason.
	_, err = g.DrainStore(ctx, 5)
	require.ErrorIs(t, err, subject.ErrPrecondition)
	var ae *subject.ActionError
	require.ErrorAs(t, err, &ae)
	require.Equal(t, subject.PhaseRefused, ae.Phase)
	require.Equal(t, subject.StateUp, env.state(5))
	require.Contains(t, j.Events(t), "a2 refused")
	require.Contains(t, j.Events(t), "a1 confirmed")
}

func TestSimDrainRefusedWhileASplitWaitsForPD(t *testing.T) {
	env := newSimEnv(t)
	inWait, release := make(chan struct{}), make(chan struct{})
	env.wait = func(ctx context.Context) error {
		select {
		case inWait <- struct{}{}:
		case <-release:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
		select {
		case <-release:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	sub := env.subject(nil)
	g, _, _ := newGuard(t, sub, guard.Config{Mode: guard.ModeAutomatic, Clock: env.sim.Now})
	ctx := t.Context()
	region := firstRegion(t, sub)
	done := make(chan error, 1)
	go func() { _, err := g.SplitRegion(ctx, region); done <- err }()
	<-inWait // the split was submitted; tikv waits for PD to show it

	_, err := g.DrainStore(ctx, 5)
	require.ErrorIs(t, err, guard.ErrBusy)
	require.Equal(t, subject.StateUp, env.state(5))

	close(release)
	require.NoError(t, <-done)
	_, err = g.DrainStore(ctx, 5)
	require.NoError(t, err, "the split ended, the slot is free")
	require.Equal(t, subject.StateOffline, env.state(5))
}

func TestSimCooldownsHonoured(t *testing.T) {
	env := newSimEnv(t)
	g, _, _ := newGuard(t, env.subject(nil), guard.Config{
		Mode: guard.ModeAutomatic, Clock: env.sim.Now,
		Cooldowns: map[string]guard.Cooldown{guard.ActionEvictLeaders: {Target: 10 * time.Minute}},
	})
	ctx := t.Context()
	_, err := g.EvictLeaders(ctx, 1)
	require.NoError(t, err)
	_, err = g.EvictLeaders(ctx, 2)
	require.ErrorIs(t, err, guard.ErrBusy, "store 1's leaders are evicted")
	_, err = g.RestoreLeaders(ctx, 1)
	require.NoError(t, err)

	env.sim.Advance(5 * time.Minute)
	_, err = g.EvictLeaders(ctx, 1)
	require.ErrorIs(t, err, guard.ErrCooldown)
	var ae *subject.ActionError
	require.ErrorAs(t, err, &ae)
	require.Contains(t, ae.Reason, "store 1", "the refusal names the target")

	_, err = g.EvictLeaders(ctx, 2)
	require.NoError(t, err, "another target is not cooling down")
	_, err = g.RestoreLeaders(ctx, 2)
	require.NoError(t, err)

	env.sim.Advance(5 * time.Minute)
	_, err = g.EvictLeaders(ctx, 1)
	require.NoError(t, err, "the cooldown is over")
}

func TestSimKillSwitchCancelsAWaitingDrain(t *testing.T) {
	env := newSimEnv(t)
	g, j, ap, _, done := drainAwaitingApproval(t, env)
	ctx := t.Context()
	g.Kill()
	err := <-done
	require.ErrorIs(t, err, guard.ErrKilled)
	require.ErrorIs(t, err, subject.ErrNotApproved)
	require.Equal(t, subject.StateUp, env.state(4), "nothing was sent to PD")

	_, err = g.SetScheduleLimit(ctx, subject.LeaderLimit, 2)
	require.ErrorIs(t, err, guard.ErrKilled)
	require.Equal(t, []string{"a1 requested", "a1 refused", "a2 requested", "a2 refused"}, j.Events(t))

	g.Resume()
	go func() { _, err := g.DrainStore(ctx, 4); done <- err }()
	<-ap.asked
	ap.answer <- guard.Approval{Approved: true, By: "alice"}
	require.NoError(t, <-done)
	require.Equal(t, subject.StateOffline, env.state(4))
}

// lossy forwards requests to PD, and loses PD's answer to the first
// DELETE of a store, after PD applied it: the operator's process "crashes"
// there, and crashed is called at that moment.
type lossy struct {
	next    http.RoundTripper
	crashed func()
	once    sync.Once
}

var errLost = errors.New("connection reset after the request was applied")

func (l *lossy) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := l.next.RoundTrip(req)
	if err != nil || req.Method != http.MethodDelete || !strings.Contains(req.URL.Path, "/store/") {
		return resp, err
	}
	lost := false
	l.once.Do(func() { lost = true })
	if !lost {
		return resp, nil
	}
	_ = resp.Body.Close()
	l.crashed()
	return nil, errLost
}

func TestSimJournalReplayedAfterACrashMidDrain(t *testing.T) {
	tests := []struct {
		name    string
		confirm string // "checker", "default" (no Config.Confirm) or "unsure"
	}{
		{"with a checker reading the stores", "checker"},
		{"without a checker: a dry run of the drain answers nothing to do", "default"},
		{"with a checker that cannot tell, until someone resolves it", "unsure"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := newSimEnv(t)
			j1 := &journal{}
			var crashed []byte
			tr := http.DefaultTransport.(*http.Transport).Clone()
			t.Cleanup(tr.CloseIdleConnections)
			before := env.subject(&lossy{next: tr, crashed: func() { crashed = j1.Bytes() }})
			g1, _, _ := newGuard(t, before, guard.Config{Mode: guard.ModeAutomatic, Clock: env.sim.Now, Journal: j1})
			_, err := g1.DrainStore(t.Context(), 4)
			require.ErrorIs(t, err, subject.ErrUnconfirmed, "the answer was lost")
			require.ErrorIs(t, err, errLost)
			require.Equal(t, subject.StateOffline, env.state(4), "yet PD applied it")
			require.Equal(t, guard.EventSubmitted, lastEvent(t, crashed))

			// The operator restarts: a new guard, a new subject, the
			// journal as the crash left it.
			var g2 *guard.Guard
			cfg := guard.Config{Mode: guard.ModeAutomatic, Clock: env.sim.Now}
			var checked []guard.Pending
			switch tt.confirm {
			case "checker":
				cfg.Confirm = func(ctx context.Context, p guard.Pending) (guard.Resolution, error) {
					checked = append(checked, p)
					return drainApplied(ctx, g2, p)
				}
			case "unsure":
				cfg.Confirm = func(context.Context, guard.Pending) (guard.Resolution, error) {
					return guard.Resolution{By: "pager", Reason: "asked a person"}, nil
				}
			}
			g2, j2, _ := newGuard(t, env.subject(nil), cfg)
			require.NoError(t, g2.Replay(t.Context(), bytes.NewReader(crashed)))
			recs := j2.Records(t)
			require.NotEmpty(t, recs)
			i := slices.IndexFunc(recs, func(r guard.Record) bool { return r.ID == "a1" })
			require.GreaterOrEqual(t, i, 0)
			last := recs[i]

			if tt.confirm != "unsure" {
				wantBy := guard.ByDryRun
				if tt.confirm == "checker" {
					wantBy = "store-state-check"
					require.Len(t, checked, 1)
					require.NoError(t, checked[0].DryRunErr)
					require.True(t, checked[0].DryRun.DryRun, "checked with a dry run of the same drain")
					require.True(t, checked[0].DryRun.NoChange, "store 4 is Offline already")
				}
				require.Equal(t, guard.EventConfirmed, last.Event)
				require.Equal(t, wantBy, last.By)
				require.Empty(t, g2.Pending())
				// The crashed drain's call is over: the maintenance lock
				// it took is released, and PD's lock is free.
				rel := recs[len(recs)-1]
				require.Equal(t, guard.EventLockReleased, rel.Event)
				require.Equal(t, "a1", rel.ActionID)
				requireLockFree(t, env)
				_, err = g2.DrainStore(t.Context(), 5)
				require.ErrorIs(t, err, subject.ErrPrecondition, "store 4 is still draining")
				return
			}
			require.Equal(t, guard.EventUnresolved, last.Event)
			_, held := g2.HeldMaintenanceLock()
			require.True(t, held, "the drain may still be under way: its lock is kept")
			_, err = g2.DrainStore(t.Context(), 5)
			require.ErrorIs(t, err, guard.ErrUnresolved)
			require.Equal(t, subject.StateUp, env.state(5))
			_, err = g2.UndrainStore(t.Context(), 4)
			require.NoError(t, err, "undoing is allowed")
			require.Equal(t, subject.StateUp, env.state(4))
			require.NoError(t, g2.Resolve(t.Context(), "a1", guard.Resolution{Outcome: guard.OutcomeNotApplied, By: "carol", Reason: "undrained by hand"}))
			requireLockFree(t, env)
			_, err = g2.DrainStore(t.Context(), 5)
			require.NoError(t, err)
			requireLockFree(t, env)
		})
	}
}

// drainApplied is a checker an operator program might give: a drain took
// effect when its store is Offline or gone.
func drainApplied(ctx context.Context, obs subject.Observer, p guard.Pending) (guard.Resolution, error) {
	if p.Record.Action != guard.ActionDrainStore {
		return guard.Resolution{}, nil
	}
	stores, err := obs.Stores(ctx)
	if err != nil {
		return guard.Resolution{}, err
	}
	for _, s := range stores {
		if s.ID != p.Record.Args.Store {
			continue
		}
		switch s.State {
		case subject.StateOffline, subject.StateTombstone:
			return guard.Resolution{Outcome: guard.OutcomeApplied, By: "store-state-check", Reason: "store is " + s.State.String()}, nil
		case subject.StateUp:
			return guard.Resolution{Outcome: guard.OutcomeNotApplied, By: "store-state-check", Reason: "store is Up"}, nil
		}
	}
	return guard.Resolution{By: "store-state-check", Reason: "store state unclear"}, nil
}

// restartActions are tikv's restart actions as a guard's extra actions.
func restartActions(s *tikv.Subject) map[string]guard.ActionFunc {
	return map[string]guard.ActionFunc{
		guard.ActionPrepareRestart: func(ctx context.Context, a guard.Args) (subject.Result, error) {
			return s.PrepareRestart(ctx, a.Store, tikv.RestartOptions{})
		},
		guard.ActionFinishRestart: func(ctx context.Context, a guard.Args) (subject.Result, error) {
			// 40 regions: balance-leader leaves stores a few leaders apart.
			return s.FinishRestart(ctx, a.Store, tikv.RestartOptions{LeaderShare: 0.1})
		},
	}
}

func TestSimDoRunsExtraActionsThroughTheRules(t *testing.T) {
	env := newSimEnv(t)
	sub := env.subject(nil)
	g, j, _ := newGuard(t, sub, guard.Config{Mode: guard.ModeAutomatic, Clock: env.sim.Now, Extra: restartActions(sub)})
	ctx := t.Context()

	dry, err := g.Do(subject.WithDryRun(ctx), guard.ActionPrepareRestart, guard.Args{Store: 2})
	require.NoError(t, err)
	require.True(t, dry.DryRun)
	ev, err := sub.EvictedStores(ctx)
	require.NoError(t, err)
	require.Empty(t, ev, "a dry run evicted nothing")

	res, err := g.Do(ctx, guard.ActionPrepareRestart, guard.Args{Store: 2})
	require.NoError(t, err, res.Summary)
	require.Equal(t, "store 2", res.Target)

	_, err = g.Do(ctx, guard.ActionPrepareRestart, guard.Args{Store: 3})
	require.ErrorIs(t, err, guard.ErrBusy, "two stores evicted at once")
	_, err = g.EvictLeaders(ctx, 3)
	require.ErrorIs(t, err, guard.ErrBusy)

	_, err = g.Do(ctx, guard.ActionFinishRestart, guard.Args{Store: 2})
	require.NoError(t, err)
	_, err = g.Do(ctx, guard.ActionPrepareRestart, guard.Args{Store: 3})
	require.NoError(t, err, "store 2 is back: the next may go")

	_, err = g.Do(ctx, "reboot", guard.Args{Store: 3})
	require.ErrorIs(t, err, subject.ErrNotSupported)

	var got []string
	for _, r := range j.Records(t) {
		if r.Event != guard.EventRequested {
			got = append(got, r.Action+" "+r.Target+" "+string(r.Event))
		}
	}
	// PD's maintenance lock is taken by each prepare_restart and released
	// by the finish_restart of its store.
	require.Equal(t, []string{
		"prepare_restart store 2 dry_run",
		"prepare_restart store 2 approved", "prepare_restart store 2 lock_requested", "prepare_restart store 2 lock_taken",
		"prepare_restart store 2 submitted", "prepare_restart store 2 confirmed",
		"prepare_restart store 3 refused", "evict_leaders store 3 refused",
		"finish_restart store 2 approved", "finish_restart store 2 submitted", "finish_restart store 2 confirmed",
		"prepare_restart store 2 lock_released",
		"prepare_restart store 3 approved", "prepare_restart store 3 lock_requested", "prepare_restart store 3 lock_taken",
		"prepare_restart store 3 submitted", "prepare_restart store 3 confirmed",
		"reboot store 3 refused",
	}, got)
	held, ok := g.HeldMaintenanceLock()
	require.True(t, ok)
	tasks, err := sub.MaintenanceTasks(ctx)
	require.NoError(t, err)
	require.Len(t, tasks, 1)
	require.Equal(t, held.ID, tasks[0].ID, "PD shows the guard's task")
}

func TestExtraActionsValidated(t *testing.T) {
	fn := func(context.Context, guard.Args) (subject.Result, error) { return subject.Result{}, nil }
	for _, extra := range []map[string]guard.ActionFunc{
		{guard.ActionDrainStore: fn},
		{guard.ActionPrepareRestart: nil},
		{"": fn},
	} {
		_, err := guard.New(newFake(3), guard.Config{Mode: guard.ModeAutomatic, Extra: extra})
		require.ErrorIs(t, err, subject.ErrInvalid, "%v", extra)
	}
}

func TestSimDispatcherServesTheSubjectsToolsThroughTheGuard(t *testing.T) {
	env := newSimEnv(t)
	sub := env.subject(nil)
	g, j, _ := newGuard(t, sub, guard.Config{Mode: guard.ModeAutomatic, Clock: env.sim.Now})
	d, err := tools.NewDispatcher(g)
	require.NoError(t, err)
	_, ok := d.Tool(guard.ActionPrepareRestart)
	require.True(t, ok, "the guard serves tikv's prepare_restart")
	ctx := t.Context()

	_, err = d.Call(ctx, guard.ActionPrepareRestart, []byte(`{"store_id": 0}`))
	require.ErrorIs(t, err, subject.ErrInvalid, "the schema is checked first")
	out, err := d.Call(ctx, guard.ActionPrepareRestart, []byte(`{"store_id": 2}`))
	require.NoError(t, err, string(out))
	_, err = d.Call(ctx, guard.ActionPrepareRestart, []byte(`{"store_id": 3}`))
	require.ErrorIs(t, err, guard.ErrBusy, "two stores evicted at once")
	ev, err := sub.EvictedStores(ctx)
	require.NoError(t, err)
	require.Equal(t, []subject.StoreID{2}, ev)

	recs := j.Records(t)
	last := recs[len(recs)-1]
	require.Equal(t, guard.EventRefused, last.Event)
	require.Equal(t, "store 3", last.Target)
	require.JSONEq(t, `{"store_id": 3}`, string(last.Args.Raw), "the journal holds the tool's arguments")
}
