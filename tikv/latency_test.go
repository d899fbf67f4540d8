package tikv_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"

	"github.com/kvops/operator/internal/promtest"
	"github.com/kvops/operator/invariant"
	"github.com/kvops/operator/pdclient"
	"github.com/kvops/operator/promclient"
	"github.com/kvops/operator/subject"
	"github.com/kvops/operator/tikv"
	"github.com/kvops/operator/tikv/tikvtest"
)

// writeHistogram is the family of TiKV's write latency.
const writeHistogram = "tikv_storage_engine_async_request_duration_seconds"

// latencyRecorder keeps, tick by tick, the write-latency histogram every
// store of a simulated cluster serves on /metrics, as Prometheus would
// scrape it, and writes it as OpenMetrics text for promtool to backfill:
// a real Prometheus then answers over the simulation's own history, at
// the simulation's times, with nothing waited for in real time.
type latencyRecorder struct {
	cl     *tikvtest.Cluster
	stores []subject.StoreID
	lines  map[subject.StoreID]*strings.Builder
}

func newLatencyRecorder(cl *tikvtest.Cluster, stores int) *latencyRecorder {
	r := &latencyRecorder{cl: cl, lines: map[subject.StoreID]*strings.Builder{}}
	for id := subject.StoreID(1); int(id) <= stores; id++ {
		r.stores = append(r.stores, id)
		r.lines[id] = &strings.Builder{}
	}
	return r
}

// scrape records every store's write histogram at the cluster's time.
func (r *latencyRecorder) scrape(t *testing.T) {
	t.Helper()
	ts := r.cl.Now().Unix()
	for _, id := range r.stores {
		h, err := r.cl.MetricsHandler(id)
		require.NoError(t, err)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
		parser := expfmt.NewTextParser(model.UTF8Validation)
		fams, err := parser.TextToMetricFamilies(rec.Body)
		require.NoError(t, err)
		var hist *dto.Histogram
		for _, m := range fams[writeHistogram].GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "type" && l.GetValue() == "write" {
					hist = m.GetHistogram()
				}
			}
		}
		require.NotNil(t, hist, "store %d serves no write histogram", id)
		addr, err := r.cl.StatusAddress(id)
		require.NoError(t, err)
		base := fmt.Sprintf(`instance=%q,job="tikv",type="write"`, addr)
		b := r.lines[id]
		for _, bk := range hist.GetBucket() {
			fmt.Fprintf(b, "%s_bucket{%s,le=%q} %d %d\n", writeHistogram, base, strconv.FormatFloat(bk.GetUpperBound(), 'g', -1, 64), bk.GetCumulativeCount(), ts)
		}
		fmt.Fprintf(b, "%s_bucket{%s,le=\"+Inf\"} %d %d\n", writeHistogram, base, hist.GetSampleCount(), ts)
		fmt.Fprintf(b, "%s_count{%s} %d %d\n%s_sum{%s} %g %d\n", writeHistogram, base, hist.GetSampleCount(), ts, writeHistogram, base, hist.GetSampleSum(), ts)
	}
}

// openMetrics is the recording, ready for promtest.Backfill.
func (r *latencyRecorder) openMetrics() string {
	var b strings.Builder
	fmt.Fprintf(&b, "# TYPE %s histogram\n", writeHistogram)
	for _, id := range r.stores {
		b.WriteString(r.lines[id].String())
	}
	b.WriteString("# EOF\n")
	return b.String()
}

// TestEvictedStoreLatencyResolves runs evict-on-latency against a real
// Prometheus over the simulated cluster's own metrics: store 2 turns slow
// and write_latency_p99 fires; its leaders are evicted, so it serves no
// write, its p99 is NaN (LatencyNoWrites) and the alert resolves, though
// the store is slow still; the store recovers while evicted, which nothing
// can show (no writes); its leaders come back and it reads healthy. (The
// alert used to stay firing for as long as the store was evicted: NaN was
// unknown, and the simulator recorded writes on a store with no leaders.)
func TestEvictedStoreLatencyResolves(t *testing.T) {
	promtest.Require(t)
	const step = 15 * time.Second
	t0 := time.Now().Add(-2 * time.Hour).Truncate(time.Minute) // within the TSDB's retention
	cl, err := tikvtest.NewUnstartedCluster(tikvtest.Config{Stores: 5, Regions: 200, Clock: &fixedClock{t: t0}, Seed: 1})
	require.NoError(t, err)
	require.NoError(t, cl.Start(t.Context()))
	t.Cleanup(func() { _ = cl.Close() })
	pd, err := pdclient.New(pdclient.Config{Endpoints: []string{cl.PDURL()}})
	require.NoError(t, err)
	t.Cleanup(pd.CloseIdleConnections)

	// The operator's script: slow at 10m, evicted at 15m, recovered (while
	// evicted) at 25m, leaders given back at 35m.
	script := map[time.Duration]func(){
		10 * time.Minute: func() { require.NoError(t, cl.SetWriteLatency(2, 300*time.Millisecond)) },
		15 * time.Minute: func() { require.NoError(t, pd.EvictLeader(t.Context(), 2)) },
		25 * time.Minute: func() { require.NoError(t, cl.SetWriteLatency(2, 0)) },
		35 * time.Minute: func() { require.NoError(t, pd.RemoveEvictLeader(t.Context(), 2)) },
	}
	const end = 45 * time.Minute
	rec := newLatencyRecorder(cl, 5)
	for at := time.Duration(0); at <= end; at += step {
		if f := script[at]; f != nil {
			f()
		}
		cl.Advance(step)
		rec.scrape(t)
	}
	dir := t.TempDir()
	promtest.Backfill(t, dir, rec.openMetrics())
	p := promtest.Start(t, promtest.WithDataDir(dir))

	var queryAt atomic.Pointer[time.Time]
	pc := promclient.DefaultConfig()
	pc.Address, pc.Clock = p.URL, func() time.Time { return *queryAt.Load() }
	th := tikv.DefaultThresholds()
	th.WriteLatencyGrace = time.Minute
	sub, err := tikv.New(tikv.Config{PD: pdclient.Config{Endpoints: []string{cl.PDURL()}}, Prometheus: pc, Thresholds: &th})
	require.NoError(t, err)
	t.Cleanup(sub.PD().CloseIdleConnections)
	var latency []invariant.Invariant
	for _, inv := range sub.Invariants() {
		if inv.Name == tikv.InvWriteLatency {
			latency = append(latency, inv)
		}
	}
	e, err := invariant.New(latency, invariant.Config{})
	require.NoError(t, err)

	type seen struct {
		at time.Duration
		tr string
	}
	var transitions []seen
	states := map[time.Duration]tikv.LatencyState{}
	for at := step; at <= end; at += step {
		now := t0.Add(at)
		queryAt.Store(&now)
		rep, err := e.Evaluate(t.Context(), now)
		require.NoError(t, err)
		require.Empty(t, rep.Errors, "at %v", at)
		for _, tr := range rep.Transitions {
			transitions = append(transitions, seen{at, fmt.Sprintf("%s: %s -> %s", tr.Key, tr.From, tr.To)})
		}
		if at%(5*time.Minute) == 0 {
			m, err := sub.StoreMetrics(t.Context(), 2)
			require.NoError(t, err)
			states[at] = th.WriteLatencyState(m.WriteLatencyP99)
		}
	}
	t.Logf("transitions: %v", transitions)
	require.Len(t, transitions, 4, "%v", transitions)
	for i, w := range []struct {
		tr       string
		from, to time.Duration
	}{
		{"store=2: inactive -> pending", 10 * time.Minute, 11 * time.Minute},
		{"store=2: pending -> firing", 11 * time.Minute, 12*time.Minute + 30*time.Second},
		// The eviction takes a few ticks, then the rate window (1m)
		// passes with no write: resolved well before the store
		// recovers at 25m, let alone gets its leaders back at 35m.
		{"store=2: firing -> resolved", 15*time.Minute + 30*time.Second, 18 * time.Minute},
		// The evaluator forgets a resolved alert after its retention:
		// nothing fired again, not even when the leaders came back.
		{"store=2: resolved -> inactive", 30 * time.Minute, 33 * time.Minute},
	} {
		got := transitions[i]
		require.Equal(t, w.tr, got.tr)
		require.True(t, got.at > w.from && got.at <= w.to, "%s at %v, want in (%v, %v]", got.tr, got.at, w.from, w.to)
	}
	require.Equal(t, map[time.Duration]tikv.LatencyState{
		5 * time.Minute: tikv.LatencyOK, 10 * time.Minute: tikv.LatencyOK,
		15 * time.Minute: tikv.LatencyHigh,
		20 * time.Minute: tikv.LatencyNoWrites, 25 * time.Minute: tikv.LatencyNoWrites, 30 * time.Minute: tikv.LatencyNoWrites,
		35 * time.Minute: tikv.LatencyNoWrites, // given back at 35m: the first writes come at the next tick
		40 * time.Minute: tikv.LatencyOK, 45 * time.Minute: tikv.LatencyOK,
	}, states)
}
