package promclient_test

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/kvops/operator/internal/promtest"
	"github.com/kvops/operator/promclient"
	"github.com/kvops/operator/subject"
)

// backfilled is a Prometheus serving the scenario and the scenario's now.
type backfilled struct {
	url  string
	now  time.Time
	prom *promtest.Prometheus
}

// startBackfilled returns a Prometheus over the scenario. Without options
// it is the one the tests share, which only read from it; with options, a
// server of the test's own.
func startBackfilled(t *testing.T, opts ...promtest.Option) backfilled {
	t.Helper()
	promtest.Require(t)
	if len(opts) == 0 {
		shared.once.Do(func() {
			now := time.Now().Truncate(time.Minute)
			p, err := promtest.StartShared(scenario(now))
			shared.b, shared.err = backfilled{now: now, prom: p}, err
			if err == nil {
				shared.b.url = p.URL
			}
		})
		require.NoError(t, shared.err, "the shared Prometheus")
		return shared.b
	}
	now := time.Now().Truncate(time.Minute)
	dir := t.TempDir()
	promtest.Backfill(t, dir, scenario(now))
	p := promtest.Start(t, append([]promtest.Option{promtest.WithDataDir(dir)}, opts...)...)
	return backfilled{url: p.URL, now: now, prom: p}
}

// shared is the Prometheus over the scenario that the tests share: started
// by the first that asks, stopped by TestMain.
var shared struct {
	once sync.Once
	b    backfilled
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if shared.b.prom != nil {
		shared.b.prom.Stop()
	}
	os.Exit(code)
}

func stores(ids ...int) []subject.Store {
	out := make([]subject.Store, len(ids))
	for i, id := range ids {
		out[i] = subject.Store{ID: subject.StoreID(id), StatusAddress: inst(id)}
	}
	return out
}

func newClient(t *testing.T, b backfilled, edit func(*promclient.Config)) *promclient.Client {
	t.Helper()
	cfg := promclient.DefaultConfig()
	cfg.Address = b.url
	cfg.Clock = func() time.Time { return b.now }
	if edit != nil {
		edit(&cfg)
	}
	c, err := promclient.New(cfg)
	require.NoError(t, err)
	return c
}

// want is an expected reading: a value within a relative tolerance, or
// unknown with a reason containing a phrase.
type want struct {
	v, tol  float64
	unknown string
}

func approx(v float64) want { return want{v: v, tol: 1e-6} }

func unknownBecause(s string) want { return want{unknown: s} }

// check compares a reading with an expectation and says how they differ.
func check(got subject.Value, w want) string {
	v, ok := got.Get()
	switch {
	case w.unknown != "" && ok:
		return fmt.Sprintf("got %v, want unknown (%s)", v, w.unknown)
	case w.unknown != "" && !strings.Contains(got.Reason(), w.unknown):
		return fmt.Sprintf("got unknown (%s), want reason containing %q", got.Reason(), w.unknown)
	case w.unknown != "":
		return ""
	case !ok:
		return fmt.Sprintf("got unknown (%s), want %v", got.Reason(), w.v)
	case math.Abs(v-w.v) > w.tol*math.Max(1, math.Abs(w.v)):
		return fmt.Sprintf("got %v, want %v (relative tolerance %g)", v, w.v, w.tol)
	}
	return ""
}

func fields(m subject.StoreMetrics) map[promclient.Metric]subject.Value {
	return map[promclient.Metric]subject.Value{
		promclient.WriteLatencyP99: m.WriteLatencyP99, promclient.GRPCLatencyP99: m.GRPCLatencyP99,
		promclient.DiskCapacity: m.DiskCapacity, promclient.DiskAvailable: m.DiskAvailable,
		promclient.CPU: m.CPU, promclient.CPUQuota: m.CPUQuota, promclient.RaftstoreCPU: m.RaftstoreCPU,
		promclient.LeaderCount: m.LeaderCount, promclient.RegionCount: m.RegionCount, promclient.Restarts: m.Restarts,
	}
}

// The expected readings at the scenario's "now". Latencies are exact
// (histogram_quantile interpolates linearly within a bucket, and every
// bucket's rate scales alike); rates of counters that grow by the same
// amount every 15 s are exact too. Tolerance: 1e-6 relative.
func scenarioWant() map[int]map[promclient.Metric]want {
	healthy := func(leaders, avail, cpu float64) map[promclient.Metric]want {
		return map[promclient.Metric]want{
			promclient.WriteLatencyP99: approx(0.002 + 0.002*0.99),
			promclient.GRPCLatencyP99:  approx(0.004 + 0.004*0.99),
			promclient.DiskCapacity:    approx(1e12),
			promclient.DiskAvailable:   approx(avail),
			promclient.CPU:             approx(cpu),
			promclient.CPUQuota:        approx(8),
			promclient.RaftstoreCPU:    approx(0.5),
			promclient.LeaderCount:     approx(leaders),
			promclient.RegionCount:     approx(300),
			promclient.Restarts:        approx(0),
		}
	}
	s2 := healthy(200, 5e11, 2.5)
	s2[promclient.WriteLatencyP99] = approx(0.256 + 0.256/6)
	s3 := healthy(300, 1e11, 3.5)
	s3[promclient.Restarts] = approx(1)
	s5 := healthy(500, 9e11, 0.1)
	s5[promclient.WriteLatencyP99] = unknownBecause("value is NaN")
	s5[promclient.CPUQuota] = unknownBecause("value is infinite")
	s4 := map[promclient.Metric]want{}
	for _, m := range promclient.Metrics() {
		s4[m] = unknownBecause("no " + string(m) + " series for instance tikv-4:20180")
	}
	return map[int]map[promclient.Metric]want{1: healthy(100, 6e11, 1.5), 2: s2, 3: s3, 4: s4, 5: s5}
}

func TestStoreMetricsBackfilled(t *testing.T) {
	t.Parallel()
	b := startBackfilled(t)
	c := newClient(t, b, nil)
	ids := []int{3, 1, 5, 4, 2} // results come back in this order
	got, warnings, err := c.StoreMetrics(t.Context(), stores(ids...))
	require.NoError(t, err)
	require.Empty(t, warnings)
	require.Len(t, got, len(ids))
	wants := scenarioWant()
	for j, id := range ids {
		m := got[j]
		if m.Store != subject.StoreID(id) || m.Instance != inst(id) || !m.At.Equal(b.now) {
			t.Errorf("result %d: store %d instance %q at %v, want store %d instance %q at %v", j, m.Store, m.Instance, m.At, id, inst(id), b.now)
		}
		for metric, v := range fields(m) {
			if d := check(v, wants[id][metric]); d != "" {
				t.Errorf("store %d %s: %s", id, metric, d)
			}
		}
	}
	// The derived readings the invariants use.
	if d := check(got[0].DiskUsage(), approx(0.9)); d != "" {
		t.Errorf("store 3 disk usage: %s", d)
	}
	if d := check(got[4].CPUUsage(), approx(2.5/8)); d != "" {
		t.Errorf("store 2 cpu usage: %s", d)
	}

	// One store alone reads the same, with queries restricted to it.
	valueEq := cmp.Comparer(func(a, b subject.Value) bool { return a.String() == b.String() })
	for j, id := range ids {
		one, _, err := c.OneStoreMetrics(t.Context(), stores(id)[0])
		require.NoError(t, err)
		if diff := cmp.Diff(got[j], one, valueEq); diff != "" {
			t.Errorf("OneStoreMetrics(%d) differs from StoreMetrics (-all +one):\n%s", id, diff)
		}
	}
}

func TestStoreMetricsInstanceMappingAndMatchers(t *testing.T) {
	t.Parallel()
	b := startBackfilled(t)
	// A set-up that relabels: the status address is not the instance.
	relabelled := []subject.Store{{ID: 2, StatusAddress: "10.0.0.2:20180"}, {ID: 9}}
	tests := []struct {
		name     string
		edit     func(*promclient.Config)
		wantW2   want // store 2's write p99
		wantDisk want // store 9's disk capacity
	}{
		{
			name:     "default mapping misses relabelled stores",
			wantW2:   unknownBecause("no write_latency_p99 series for instance 10.0.0.2:20180"),
			wantDisk: unknownBecause("store 9 has no instance"),
		},
		{
			name: "caller's mapping",
			edit: func(c *promclient.Config) {
				c.Instance = func(s subject.Store) string { return inst(int(s.ID)) }
			},
			wantW2:   approx(0.256 + 0.256/6),
			wantDisk: unknownBecause("no disk_capacity series for instance tikv-9:20180"),
		},
		{
			name: "matching job",
			edit: func(c *promclient.Config) {
				c.Instance = func(s subject.Store) string { return inst(int(s.ID)) }
				c.Matchers = []promclient.Matcher{promclient.Equal("job", "tikv")}
			},
			wantW2:   approx(0.256 + 0.256/6),
			wantDisk: unknownBecause("no disk_capacity series"),
		},
		{
			name: "another cluster's label",
			edit: func(c *promclient.Config) {
				c.Instance = func(s subject.Store) string { return inst(int(s.ID)) }
				c.Matchers = []promclient.Matcher{{Name: "tidb_cluster", Op: promclient.MatchRegexp, Value: "other|prod"}}
			},
			wantW2:   unknownBecause("no write_latency_p99 series for instance tikv-2:20180"),
			wantDisk: unknownBecause("no disk_capacity series"),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newClient(t, b, tt.edit)
			got, _, err := c.StoreMetrics(t.Context(), relabelled)
			require.NoError(t, err)
			if d := check(got[0].WriteLatencyP99, tt.wantW2); d != "" {
				t.Errorf("store 2 write p99: %s", d)
			}
			if d := check(got[1].DiskCapacity, tt.wantDisk); d != "" {
				t.Errorf("store 9 disk capacity: %s", d)
			}
		})
	}
}

func TestStoreMetricsRange(t *testing.T) {
	t.Parallel()
	b := startBackfilled(t)
	c := newClient(t, b, nil)
	r := promclient.Range{Start: b.now.Add(-50 * time.Minute), End: b.now, Step: time.Minute}
	got, _, err := c.StoreMetricsRange(t.Context(), stores(2, 4, 5), r)
	require.NoError(t, err)
	require.Len(t, got, 3)
	slowFrom := b.now.Add(-19 * time.Minute) // the first minute-long window wholly after the change
	for _, s := range got {
		for _, m := range promclient.Metrics() {
			if n := len(s.Series[m]); n != 51 {
				t.Fatalf("store %d %s: %d points, want 51 (one per step)", s.Store, m, n)
			}
		}
	}
	for k, p := range got[0].Series[promclient.WriteLatencyP99] {
		if wantAt := r.Start.Add(time.Duration(k) * time.Minute); !p.At.Equal(wantAt) {
			t.Errorf("point %d at %v, want %v", k, p.At, wantAt)
		}
		w := approx(0.002 + 0.002*0.99)
		if !p.At.Before(slowFrom) {
			w = approx(0.256 + 0.256/6)
		} else if p.At.After(b.now.Add(-20 * time.Minute)) {
			continue // the window straddles the change
		}
		if d := check(p.Value, w); d != "" {
			t.Errorf("store 2 write p99 at now%v: %s", p.At.Sub(b.now), d)
		}
	}
	for _, p := range got[1].Series[promclient.DiskCapacity] {
		if d := check(p.Value, unknownBecause("no disk_capacity series for instance tikv-4:20180")); d != "" {
			t.Errorf("store 4 at %v: %s", p.At, d)
		}
	}
	for _, p := range got[2].Series[promclient.WriteLatencyP99] {
		if d := check(p.Value, unknownBecause("NaN")); d != "" {
			t.Errorf("store 5 write p99 at %v: %s", p.At, d)
		}
	}
	if d := check(got[2].Series[promclient.Restarts][50].Value, approx(0)); d != "" {
		t.Errorf("store 5 restarts at now: %s", d)
	}

	// Before the data starts, steps have no sample: unknown, not zero.
	early := promclient.Range{Start: b.now.Add(-2 * time.Hour), End: b.now.Add(-90 * time.Minute), Step: 10 * time.Minute}
	got, _, err = c.StoreMetricsRange(t.Context(), stores(1), early)
	require.NoError(t, err)
	for _, p := range got[0].Series[promclient.LeaderCount] {
		if d := check(p.Value, unknownBecause("no leader_count series")); d != "" {
			t.Errorf("store 1 leaders at %v: %s", p.At, d)
		}
	}
}

func TestStoreMetricsRangeInvalid(t *testing.T) {
	c, err := promclient.New(promclient.DefaultConfig())
	require.NoError(t, err)
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	for _, r := range []promclient.Range{
		{Start: now, End: now.Add(time.Hour)},
		{Start: now, End: now.Add(-time.Hour), Step: time.Minute},
		{Start: now, End: now.Add(24 * time.Hour), Step: time.Second},
	} {
		_, _, err := c.StoreMetricsRange(t.Context(), stores(1), r)
		if !errors.Is(err, subject.ErrInvalid) {
			t.Errorf("range %+v: error %v, want ErrInvalid", r, err)
		}
	}
}

// countingTransport counts the HTTP requests that leave the client.
type countingTransport struct {
	n    atomic.Int64
	auth atomic.Value // last Authorization header
	next http.RoundTripper
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	c.auth.Store(r.Header.Get("Authorization"))
	return c.next.RoundTrip(r)
}

func TestRoundTripsDoNotGrowWithStores(t *testing.T) {
	t.Parallel()
	b := startBackfilled(t)
	rt := &countingTransport{next: http.DefaultTransport}
	c := newClient(t, b, func(c *promclient.Config) { c.RoundTripper = rt })
	many := make([]int, 300)
	for i := range many {
		many[i] = i + 1
	}
	counts := map[string]int64{}
	for name, call := range map[string]func() error{
		"3 stores":   func() error { _, _, err := c.StoreMetrics(t.Context(), stores(1, 2, 3)); return err },
		"300 stores": func() error { _, _, err := c.StoreMetrics(t.Context(), stores(many...)); return err },
		"one store":  func() error { _, _, err := c.OneStoreMetrics(t.Context(), stores(2)[0]); return err },
		"range, 300 stores": func() error {
			_, _, err := c.StoreMetricsRange(t.Context(), stores(many...), promclient.Range{Start: b.now.Add(-time.Hour), End: b.now, Step: time.Minute})
			return err
		},
	} {
		before := rt.n.Load()
		require.NoError(t, call(), name)
		counts[name] = rt.n.Load() - before
	}
	n := int64(len(promclient.Metrics()))
	want := map[string]int64{"3 stores": n, "300 stores": n, "one store": n, "range, 300 stores": n}
	if diff := cmp.Diff(want, counts); diff != "" {
		t.Errorf("HTTP requests per call (-want +got):\n%s", diff)
	}
}
