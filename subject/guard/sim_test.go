package guard_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kvops/operator/pdclient"
	"github.com/kvops/operator/subject"
	"github.com/kvops/operator/subject/guard"
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

// tikvSubject routes dry runs to a tikv.Subject configured with DryRun,
// over the same cluster: tikv on main does not read subject.WithDryRun yet
// (issue 11, section 1, teaches it to). Everything else is the real
// subject's.
type tikvSubject struct {
	*tikv.Subject
	dry *tikv.Subject
}

func (s *tikvSubject) pick(ctx context.Context) *tikv.Subject {
	if subject.IsDryRun(ctx) {
		return s.dry
	}
	return s.Subject
}

func (s *tikvSubject) TransferLeader(ctx context.Context, r subject.RegionID, to subject.StoreID) (subject.Result, error) {
	return s.pick(ctx).TransferLeader(ctx, r, to)
}
func (s *tikvSubject) SplitRegion(ctx context.Context, r subject.RegionID) (subject.Result, error) {
	return s.pick(ctx).SplitRegion(ctx, r)
}
func (s *tikvSubject) DrainStore(ctx context.Context, id subject.StoreID) (subject.Result, error) {
	return s.pick(ctx).DrainStore(ctx, id)
}
func (s *tikvSubject) UndrainStore(ctx context.Context, id subject.StoreID) (subject.Result, error) {
	return s.pick(ctx).UndrainStore(ctx, id)
}
func (s *tikvSubject) EvictLeaders(ctx context.Context, id subject.StoreID) (subject.Result, error) {
	return s.pick(ctx).EvictLeaders(ctx, id)
}
func (s *tikvSubject) RestoreLeaders(ctx context.Context, id subject.StoreID) (subject.Result, error) {
	return s.pick(ctx).RestoreLeaders(ctx, id)
}
func (s *tikvSubject) SetScheduleLimit(ctx context.Context, k subject.LimitKind, n uint64) (subject.Result, error) {
	return s.pick(ctx).SetScheduleLimit(ctx, k, n)
}
func (s *tikvSubject) SetLowSpaceThreshold(ctx context.Context, p float64) (subject.Result, error) {
	return s.pick(ctx).SetLowSpaceThreshold(ctx, p)
}

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
	cl, err := tikvtest.New(tikvtest.Config{Stores: 5, Regions: 40, Clock: &simClock{t: epoch}, Seed: 1})
	require.NoError(t, err)
	require.NoError(t, cl.Start(t.Context()))
	t.Cleanup(func() { _ = cl.Close() })
	cl.Advance(time.Second)
	return &simEnv{t: t, sim: cl}
}

// subject returns a TiKV subject over the cluster; rt, when set, carries
// its requests to PD.
func (e *simEnv) subject(rt http.RoundTripper) *tikvSubject {
	e.t.Helper()
	tr := http.DefaultTransport.(*http.Transport).Clone()
	e.t.Cleanup(tr.CloseIdleConnections)
	if rt == nil {
		rt = tr
	}
	mk := func(dry bool) *tikv.Subject {
		s, err := tikv.New(tikv.Config{
			PD:             pdclient.Config{Endpoints: []string{e.sim.PDURL()}, HTTPClient: &http.Client{Transport: rt}},
			DisableMetrics: true, DryRun: dry, Clock: e.sim.Now, Actions: tikv.ActionConfig{PollInterval: time.Second},
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
	return &tikvSubject{Subject: mk(false), dry: mk(true)}
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
	var region subject.RegionID
	for r, err := range sub.PD().AllRegions(ctx) {
		require.NoError(t, err)
		region = subject.RegionID(r.ID)
		break
	}
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
		confirm bool
	}{
		{"with a checker reading the stores", true},
		{"without a checker, until someone resolves it", false},
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
			if tt.confirm {
				cfg.Confirm = func(ctx context.Context, p guard.Pending) (guard.Resolution, error) {
					checked = append(checked, p)
					return drainApplied(ctx, g2, p)
				}
			}
			g2, j2, _ := newGuard(t, env.subject(nil), cfg)
			require.NoError(t, g2.Replay(t.Context(), bytes.NewReader(crashed)))
			recs := j2.Records(t)
			require.NotEmpty(t, recs)
			last := recs[len(recs)-1]
			require.Equal(t, "a1", last.ID)

			if tt.confirm {
				require.Len(t, checked, 1)
				require.NoError(t, checked[0].DryRunErr)
				require.True(t, checked[0].DryRun.DryRun, "checked with a dry run of the same drain")
				require.Equal(t, guard.EventConfirmed, last.Event)
				require.Equal(t, "store-state-check", last.By)
				require.Empty(t, g2.Pending())
				_, err = g2.DrainStore(t.Context(), 5)
				require.ErrorIs(t, err, subject.ErrPrecondition, "store 4 is still draining")
				return
			}
			require.Equal(t, guard.EventUnresolved, last.Event)
			_, err = g2.DrainStore(t.Context(), 5)
			require.ErrorIs(t, err, guard.ErrUnresolved)
			require.Equal(t, subject.StateUp, env.state(5))
			_, err = g2.UndrainStore(t.Context(), 4)
			require.NoError(t, err, "undoing is allowed")
			require.Equal(t, subject.StateUp, env.state(4))
			require.NoError(t, g2.Resolve(t.Context(), "a1", guard.Resolution{Outcome: guard.OutcomeNotApplied, By: "carol", Reason: "undrained by hand"}))
			_, err = g2.DrainStore(t.Context(), 5)
			require.NoError(t, err)
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
