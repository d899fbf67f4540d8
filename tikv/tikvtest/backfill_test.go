package tikvtest_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kvops/operator/invariant"
	"github.com/kvops/operator/pdclient"
	"github.com/kvops/operator/promclient"
	"github.com/kvops/operator/subject"
	"github.com/kvops/operator/tikv"
	"github.com/kvops/operator/tikv/tikvtest"
)

// TestBackfilledHistoryJudged is the test a user writes of a
// latency-driven operator: the cluster records 10 minutes of its time in
// 15-second scrapes while store 3 turns slow at 2 minutes; the history is
// backfilled into a real Prometheus; tikv's write-latency invariant, read
// at each 15-second step of the recorded time, goes pending for store 3
// alone within 30 seconds of the fault, and fires one grace period later.
// Nothing waits for a scrape: the test takes the time Prometheus takes to
// start.
func TestBackfilledHistoryJudged(t *testing.T) {
	c := tikvtest.NewCluster(t, tikvtest.Config{Stores: 3, Regions: 30, Seed: 1,
		Clock: fixedClock{h0}, RecordMetrics: 15 * time.Second})
	for range 40 {
		if c.Now().Equal(h0.Add(2 * time.Minute)) {
			require.NoError(t, c.SetWriteLatency(3, 300*time.Millisecond))
		}
		c.Advance(15 * time.Second)
	}
	p := tikvtest.NewBackfilledPrometheus(t, c.History())

	var now time.Time
	th := tikv.DefaultThresholds()
	sub, err := tikv.New(tikv.Config{
		PD:         pdclient.Config{Endpoints: []string{c.PDURL()}},
		Prometheus: promclient.Config{Address: p.URL, Clock: func() time.Time { return now }},
		Thresholds: &th,
	})
	require.NoError(t, err)
	defer sub.Close()
	var latency []invariant.Invariant
	for _, inv := range sub.Invariants() {
		if inv.Name == tikv.InvWriteLatency {
			latency = append(latency, inv)
		}
	}
	e, err := invariant.New(latency, invariant.Config{})
	require.NoError(t, err)

	var pending, firing time.Duration
	for now = h0.Add(time.Minute); !now.After(h0.Add(10 * time.Minute)); now = now.Add(15 * time.Second) {
		rep, err := e.Evaluate(context.Background(), now)
		require.NoError(t, err)
		require.Empty(t, rep.Errors)
		for _, tr := range rep.Transitions {
			require.Equal(t, "store=3", tr.Key, "only store 3 is slow: %v", tr)
			switch tr.To {
			case invariant.StatePending:
				pending = now.Sub(h0)
			case invariant.StateFiring:
				firing = now.Sub(h0)
			}
		}
	}
	require.Greater(t, pending, 2*time.Minute, "pending before the fault")
	require.LessOrEqual(t, pending, 2*time.Minute+30*time.Second, "the fault was seen late")
	require.Equal(t, pending+th.WriteLatencyGrace, firing)

	// The stores PD lists are the stores the history has series of.
	stores, err := sub.Stores(context.Background())
	require.NoError(t, err)
	require.Len(t, stores, 3)
	m, err := sub.StoreMetrics(context.Background(), subject.StoreID(3))
	require.NoError(t, err)
	v, ok := m.WriteLatencyP99.Get()
	require.True(t, ok, "%v", m.WriteLatencyP99)
	require.Greater(t, v, 0.2, "store 3's p99 at the end")
}

// TestBackfillEmptyHistory: there is nothing to backfill.
func TestBackfillEmptyHistory(t *testing.T) {
	_, err := tikvtest.BackfillPrometheus(context.Background(), &tikvtest.History{})
	require.ErrorIs(t, err, subject.ErrInvalid)
}
