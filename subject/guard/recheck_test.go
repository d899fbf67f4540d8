package guard_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/time/rate"

	"github.com/kvops/operator/subject"
	"github.com/kvops/operator/subject/guard"
	"github.com/kvops/operator/tikv"
)

// evictAwaitingApproval starts an eviction of store 1's leaders through a
// guard in approve-each mode and returns once the approver holds it; done
// receives the eviction's error.
func evictAwaitingApproval(t *testing.T, env *simEnv) (g *guard.Guard, j *journal, ap *approvals, done chan error) {
	t.Helper()
	ap = newApprovals()
	g, j, _ = newGuard(t, env.subject(nil), guard.Config{Mode: guard.ModeApproveEach, Approver: ap.approve, Clock: env.sim.Now})
	done = make(chan error, 1)
	go func() { _, err := g.EvictLeaders(t.Context(), 1); done <- err }()
	<-ap.asked
	return g, j, ap, done
}

// TestSimClusterChangesWhileApproverDecides: the blast radius and the
// stability gate are read again after approval, right before the action
// is sent: a store that went Disconnected, or an eviction someone else
// made, while a person decided stops the eviction that person approves.
func TestSimClusterChangesWhileApproverDecides(t *testing.T) {
	tests := []struct {
		name    string
		change  func(t *testing.T, env *simEnv)
		wantErr error
	}{
		{"another store goes Disconnected", func(t *testing.T, env *simEnv) {
			require.NoError(t, env.sim.StopStore(3))
			env.sim.Advance(25 * time.Second)
			require.Equal(t, subject.StateDisconnected, env.state(3))
		}, subject.ErrPrecondition},
		{"someone else evicts another store", func(t *testing.T, env *simEnv) {
			require.NoError(t, env.subject(nil).PD().EvictLeader(t.Context(), 2))
		}, guard.ErrBusy},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := newSimEnv(t)
			g, j, ap, done := evictAwaitingApproval(t, env)
			tt.change(t, env)
			ap.answer <- guard.Approval{Approved: true, By: "alice"}
			err := <-done
			require.ErrorIs(t, err, tt.wantErr)
			var ae *subject.ActionError
			require.ErrorAs(t, err, &ae)
			require.Equal(t, subject.PhaseRefused, ae.Phase)
			require.NotErrorIs(t, err, subject.ErrUnconfirmed)

			ev, err := env.subject(nil).EvictedStores(t.Context())
			require.NoError(t, err)
			require.NotContains(t, ev, subject.StoreID(1), "the approved eviction was sent")
			require.Equal(t, []string{"a1 requested", "a1 approved", "a1 refused"}, j.Events(t))
			require.Empty(t, g.Pending())
		})
	}
}

// TestApprovalTimeout: an approver that does not decide within
// Config.ApprovalTimeout refuses the action with ErrApprovalExpired, its
// context cancelled; an answer that comes after the bound is refused too;
// the default bound is DefaultApprovalTimeout.
func TestApprovalTimeout(t *testing.T) {
	tests := []struct {
		name    string
		timeout time.Duration
		want    time.Duration
		// late, when set, makes the approver ignore its context and
		// approve after this long.
		late time.Duration
	}{
		{"configured", 10 * time.Minute, 10 * time.Minute, 0},
		{"default", 0, guard.DefaultApprovalTimeout, 0},
		{"an approval after the bound", time.Minute, 2 * time.Minute, 2 * time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := newFake(5)
				var cancelled atomic.Bool
				approve := func(ctx context.Context, _ guard.Request) (guard.Approval, error) {
					if tt.late > 0 {
						time.Sleep(tt.late)
						return guard.Approval{Approved: true, By: "bob"}, nil
					}
					<-ctx.Done()
					cancelled.Store(true)
					return guard.Approval{}, ctx.Err()
				}
				g, _, _ := newGuard(t, f, guard.Config{Mode: guard.ModeApproveEach, Approver: approve, ApprovalTimeout: tt.timeout})
				start := time.Now()
				_, err := g.DrainStore(t.Context(), 4)
				require.Equal(t, tt.want, time.Since(start))
				require.ErrorIs(t, err, guard.ErrApprovalExpired)
				require.ErrorIs(t, err, subject.ErrNotApproved)
				var ae *subject.ActionError
				require.ErrorAs(t, err, &ae)
				require.Equal(t, subject.PhaseRefused, ae.Phase)
				require.Equal(t, tt.late == 0, cancelled.Load(), "the approver's context was cancelled")
				require.Equal(t, []string{"dry drain_store store 4"}, f.Calls(), "nothing was sent")

				// The blast radius is free again: the next drain waits for
				// its own approval rather than finding the slot taken.
				_, err = g.DrainStore(t.Context(), 5)
				require.ErrorIs(t, err, guard.ErrApprovalExpired)
				require.NotErrorIs(t, err, guard.ErrBusy)
			})
		})
	}
	_, err := guard.New(newFake(1), guard.Config{Mode: guard.ModeApproveEach, Approver: approveAll, ApprovalTimeout: -time.Second})
	require.ErrorIs(t, err, subject.ErrInvalid)
}

// proxy503 forwards requests to PD and answers the first split (POST
// /operators) with a proxy's 503 page after PD applied it, as a load
// balancer in front of PD may.
type proxy503 struct {
	next    http.RoundTripper
	applied atomic.Int64
}

func (p *proxy503) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := p.next.RoundTrip(req)
	if err != nil || req.Method != http.MethodPost || !strings.HasSuffix(req.URL.Path, "/operators") {
		return resp, err
	}
	p.applied.Add(1)
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	page := "<html><head><title>503 Service Temporarily Unavailable</title></head><body><center><h1>503 Service Temporarily Unavailable</h1></center></body></html>\r\n"
	return &http.Response{
		Status: "503 Service Unavailable", StatusCode: http.StatusServiceUnavailable,
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: http.Header{"Content-Type": {"text/html"}}, Body: io.NopCloser(strings.NewReader(page)),
		ContentLength: int64(len(page)), Request: req,
	}, nil
}

// TestSimSplitAnswered503ByAProxyAfterApplying is issue 19's first case:
// a proxy applies a split and answers 503. The guard reads what the
// subject says (unconfirmed, not refused): the split stays pending, starts
// its cooldown and keeps its rate token, and the same split does not go
// through again.
func TestSimSplitAnswered503ByAProxyAfterApplying(t *testing.T) {
	for _, disruptive := range []bool{true, false} {
		t.Run(map[bool]string{true: "split disruptive", false: "split not disruptive"}[disruptive], func(t *testing.T) {
			env := newSimEnv(t)
			tr := http.DefaultTransport.(*http.Transport).Clone()
			t.Cleanup(tr.CloseIdleConnections)
			proxy := &proxy503{next: tr}
			sub := env.subject(proxy)
			cfg := guard.Config{
				Mode: guard.ModeAutomatic, Clock: env.sim.Now,
				Cooldowns: map[string]guard.Cooldown{guard.ActionSplitRegion: {Target: time.Hour}},
				Rate:      rate.Every(time.Hour), Burst: 1,
			}
			if !disruptive {
				cfg.Disruptive = map[string]bool{}
			}
			g, _, _ := newGuard(t, sub, cfg)
			ctx := t.Context()
			region := firstRegion(t, sub)
			before, err := sub.Region(ctx, region)
			require.NoError(t, err)

			_, err = g.SplitRegion(ctx, region)
			require.ErrorIs(t, err, subject.ErrUnconfirmed)
			var ae *subject.ActionError
			require.ErrorAs(t, err, &ae)
			require.Equal(t, subject.PhaseUnconfirmed, ae.Phase, "%v", err)
			for _, r := range []error{subject.ErrNotFound, subject.ErrInvalid, subject.ErrPrecondition, subject.ErrNotSupported, subject.ErrNotApproved} {
				require.NotErrorIs(t, err, r)
			}
			pending := g.Pending()
			require.Len(t, pending, 1)
			require.Equal(t, guard.EventUnconfirmed, pending[0].Event)

			_, err = g.SplitRegion(ctx, region)
			if disruptive {
				require.ErrorIs(t, err, guard.ErrUnresolved)
			} else {
				require.ErrorIs(t, err, guard.ErrCooldown)
			}
			require.Equal(t, int64(1), proxy.applied.Load(), "the same split went through again")

			// The rate token of the split was spent, not handed back.
			_, err = g.SetScheduleLimit(ctx, subject.LeaderLimit, 8)
			require.ErrorIs(t, err, guard.ErrRateLimited)

			env.sim.Advance(5 * time.Second)
			after, err := sub.Region(ctx, region)
			require.NoError(t, err)
			require.Equal(t, before.Epoch.Version+1, after.Epoch.Version, "PD split the region once")
		})
	}
}

// TestClassifyReadsUnconfirmedFirst: an error that is not an ActionError
// and says the action may have been applied counts as unconfirmed even
// when it also matches a refusal sentinel.
func TestClassifyReadsUnconfirmedFirst(t *testing.T) {
	f := newFake(5)
	f.setErr(guard.ActionSetScheduleLimit, errors.Join(subject.ErrUnconfirmed, subject.ErrInvalid))
	g, _, _ := newGuard(t, f, guard.Config{Mode: guard.ModeAutomatic})
	_, err := g.SetScheduleLimit(t.Context(), subject.LeaderLimit, 4)
	var ae *subject.ActionError
	require.ErrorAs(t, err, &ae)
	require.Equal(t, subject.PhaseUnconfirmed, ae.Phase)
	require.NotErrorIs(t, err, subject.ErrInvalid)
	require.Len(t, g.Pending(), 1)
}

// firstRegion returns the first region PD lists.
func firstRegion(t *testing.T, sub *tikv.Subject) subject.RegionID {
	t.Helper()
	for r, err := range sub.PD().AllRegions(t.Context()) {
		require.NoError(t, err)
		return subject.RegionID(r.ID)
	}
	t.Fatal("PD lists no region")
	return 0
}
