package tikv_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kvops/operator/invariant"
	"github.com/kvops/operator/pdclient"
	"github.com/kvops/operator/tikv"
	"github.com/kvops/operator/tikv/tikvtest"
)

// TestLeaderImbalanceLeavesEvictedStoresOut: in a three-store cluster, a
// store whose leaders are evicted, by the library, by hand (pd-ctl's
// evict-leader-scheduler), or by PD's own evict-slow-store or
// evict-stopping-store scheduler, is left out of leader_imbalance: nothing
// goes pending while it leads no region (it used to be counted, and the
// library's own eviction fired leader_imbalance after its grace).
func TestLeaderImbalanceLeavesEvictedStoresOut(t *testing.T) {
	for _, tt := range []struct {
		name  string
		evict func(t *testing.T, cl *tikvtest.Cluster, sub *tikv.Subject)
	}{
		{"the library's EvictLeaders", func(t *testing.T, _ *tikvtest.Cluster, sub *tikv.Subject) {
			_, err := sub.EvictLeaders(t.Context(), 2)
			require.NoError(t, err)
		}},
		{"by hand", func(t *testing.T, _ *tikvtest.Cluster, sub *tikv.Subject) {
			require.NoError(t, sub.PD().EvictLeader(t.Context(), 2))
		}},
		{"PD's evict-slow-store", func(t *testing.T, cl *tikvtest.Cluster, _ *tikv.Subject) {
			require.NoError(t, cl.SetSlowStoreEvicted(2, true))
		}},
		{"PD's evict-stopping-store", func(t *testing.T, cl *tikvtest.Cluster, _ *tikv.Subject) {
			require.NoError(t, cl.SetStoppingStoreEvicted(2, true))
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cl, err := tikvtest.NewUnstartedCluster(tikvtest.Config{Stores: 3, Regions: 90, Clock: &fixedClock{t: start}, Seed: 1})
			require.NoError(t, err)
			require.NoError(t, cl.Start(t.Context()))
			t.Cleanup(func() { _ = cl.Close() })
			cl.Advance(time.Second)
			th := tikv.DefaultThresholds()
			th.LeaderImbalanceGrace = time.Nanosecond // fire at the first look; zero takes the default
			sub, err := tikv.New(tikv.Config{
				PD: pdclient.Config{Endpoints: []string{cl.PDURL()}}, DisableMetrics: true, Clock: cl.Now, Thresholds: &th,
				Actions: tikv.ActionConfig{PollInterval: time.Second},
				Sleep:   func(ctx context.Context, d time.Duration) error { cl.Advance(d); return ctx.Err() },
			})
			require.NoError(t, err)
			t.Cleanup(sub.PD().CloseIdleConnections)
			e := evaluator(t, sub)
			require.Empty(t, evaluate(t, e, cl.Now(), tikv.InvLeaderImbalance))

			tt.evict(t, cl, sub)
			for range 6 {
				cl.Advance(10 * time.Second)
				require.Empty(t, evaluate(t, e, cl.Now(), tikv.InvLeaderImbalance), "store 2's eviction moved leader_imbalance")
			}
			stores, err := sub.Stores(t.Context())
			require.NoError(t, err)
			require.Zero(t, stores[1].LeaderCount, "precondition: store 2 leads no region")
			require.Greater(t, stores[0].LeaderCount, 30, "precondition: the other stores lead every region")
			for _, a := range e.Alerts() {
				require.NotEqual(t, tikv.InvLeaderImbalance, a.Invariant, "%+v", a)
			}
		})
	}
}

// TestLeaderImbalanceEvictionsUnreadable: when the leader counts show an
// imbalance and the evicting schedulers' lists cannot be read, the check
// fails (typed, as PD answered) and keeps its state: it neither fires on
// counts that may include an evicted store nor resolves.
func TestLeaderImbalanceEvictionsUnreadable(t *testing.T) {
	noLeaks(t)
	th := tikv.DefaultThresholds()
	th.LeaderImbalance = 0.1 // five stores, one leading none: 1.25x the mean
	th.LeaderImbalanceGrace = time.Nanosecond
	c := newFrontCluster(t, nil, func(cfg *tikv.Config) { cfg.Thresholds = &th })
	e := evaluator(t, c.sub)
	require.Empty(t, transitions(evalAt(t, e, c.sim.Now()), tikv.InvLeaderImbalance))
	require.NoError(t, c.sim.SetSlowStoreEvicted(2, true))
	c.sim.Advance(10 * time.Second)
	rep := evalAt(t, e, c.sim.Now())
	require.Empty(t, transitions(rep, tikv.InvLeaderImbalance), "the store PD evicts as slow is counted")
	require.Empty(t, failed(rep))

	c.front.setFault(fault{kind: serverError, method: http.MethodGet, path: "/pd/api/v1/schedulers"})
	c.sim.Advance(10 * time.Second)
	rep = evalAt(t, e, c.sim.Now())
	require.Equal(t, []string{tikv.InvLeaderImbalance}, failed(rep))
	require.ErrorIs(t, rep.Errors[0].Err, pdclient.ErrServer)
	var ae *pdclient.APIError
	require.ErrorAs(t, rep.Errors[0].Err, &ae)
	require.Equal(t, "/pd/api/v1/schedulers", ae.Path)
	require.Empty(t, transitions(rep, tikv.InvLeaderImbalance))

	c.front.setFault(fault{})
	c.sim.Advance(10 * time.Second)
	rep = evalAt(t, e, c.sim.Now())
	require.Empty(t, failed(rep))
	require.Empty(t, transitions(rep, tikv.InvLeaderImbalance))
	for _, a := range e.Alerts() {
		require.False(t, a.Invariant == tikv.InvLeaderImbalance && a.State != invariant.StateInactive, "%+v", a)
	}
}
