package tikv_test

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/kvops/operator/internal/promtest"
	"github.com/kvops/operator/pdclient"
	"github.com/kvops/operator/promclient"
	"github.com/kvops/operator/tikv"
)

// counter counts the requests it carries, by path.
type counter struct {
	mu    sync.Mutex
	paths map[string]int
	next  http.RoundTripper
}

func newCounter() *counter {
	return &counter{paths: map[string]int{}, next: http.DefaultTransport.(*http.Transport).Clone()}
}

func (c *counter) RoundTrip(r *http.Request) (*http.Response, error) {
	c.mu.Lock()
	c.paths[r.URL.Path]++
	c.mu.Unlock()
	return c.next.RoundTrip(r)
}

// take returns the counts since the last call and starts again.
func (c *counter) take() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.paths
	c.paths = map[string]int{}
	return out
}

func (c *counter) total(prefix string, counts map[string]int) int {
	n := 0
	for p, k := range counts {
		if strings.HasPrefix(p, prefix) {
			n += k
		}
	}
	return n
}

// TestInvariantsShareTheirReads checks that one evaluation of every
// invariant reads PD's stores once and asks Prometheus once per metric
// family, and that the next evaluation reads anew.
func TestInvariantsShareTheirReads(t *testing.T) {
	promtest.Require(t)
	p := promtest.Start(t)
	pd, prom := newCounter(), newCounter()
	c := newCluster(t, func(cfg *tikv.Config) {
		cfg.DisableMetrics = false
		cfg.PD = pdclient.Config{Endpoints: cfg.PD.Endpoints, HTTPClient: &http.Client{Transport: pd}}
		cfg.Prometheus = promclient.Config{Address: p.URL, RoundTripper: prom}
	})
	e := evaluator(t, c.sub)
	require.Len(t, c.sub.Invariants(), 8)
	for range 3 {
		c.sim.Advance(time.Second)
		pd.take()
		prom.take()
		_, err := e.Evaluate(t.Context(), c.sim.Now())
		require.NoError(t, err)
		gotPD, gotProm := pd.take(), prom.take()
		require.Equal(t, 1, gotPD["/pd/api/v1/stores"], "PD stores reads in one evaluation: %v", gotPD)
		require.Equal(t, len(promclient.Metrics()), prom.total("/api/v1/query", gotProm), "Prometheus queries in one evaluation: %v", gotProm)
	}
}

// gate holds PD's first stores request until released, or until the
// request's own context ends.
type gate struct {
	once    sync.Once
	entered chan struct{}
	release chan struct{}
	next    http.RoundTripper
}

func (g *gate) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.URL.Path == "/pd/api/v1/stores" {
		first := false
		g.once.Do(func() { first = true })
		if first {
			close(g.entered)
			select {
			case <-g.release:
			case <-r.Context().Done():
				return nil, r.Context().Err()
			}
		}
	}
	return g.next.RoundTrip(r)
}

// TestSharedReadOutlivesACancelledCheck: the check that starts the shared
// read of PD's stores is cancelled while PD is slow; it returns its own
// cancellation, and its sibling of the same evaluation gets the stores,
// not that cancellation.
func TestSharedReadOutlivesACancelledCheck(t *testing.T) {
	g := &gate{entered: make(chan struct{}), release: make(chan struct{}), next: http.DefaultTransport.(*http.Transport).Clone()}
	c := newCluster(t, func(cfg *tikv.Config) {
		cfg.PD = pdclient.Config{Endpoints: cfg.PD.Endpoints, HTTPClient: &http.Client{Transport: g}}
	})
	checks := map[string]func(context.Context, time.Time) error{}
	for _, inv := range c.sub.Invariants() {
		check := inv.Check
		checks[inv.Name] = func(ctx context.Context, now time.Time) error {
			_, err := check(ctx, now)
			return err
		}
	}
	now := c.sim.Now()
	ctx, cancel := context.WithCancel(t.Context())
	first, sibling := make(chan error, 1), make(chan error, 1)
	go func() { first <- checks[tikv.InvStoreHealth](ctx, now) }()
	<-g.entered
	go func() { sibling <- checks[tikv.InvLeaderImbalance](t.Context(), now) }()
	cancel()
	require.ErrorIs(t, <-first, context.Canceled)
	close(g.release)
	require.NoError(t, <-sibling, "the sibling of a cancelled check")
}

// TestSharedMetricErrorNamesEachCheck: without Prometheus, each metric
// check says that the shared reading of store metrics failed and which
// metric families it needed (every check used to report "query
// write_latency_p99: ...", cpu_usage included).
func TestSharedMetricErrorNamesEachCheck(t *testing.T) {
	addr := "http://" + promtest.RefusedAddr(t)
	c := newCluster(t, func(cfg *tikv.Config) {
		cfg.DisableMetrics = false
		cfg.Prometheus = promclient.Config{Address: addr}
	})
	e := evaluator(t, c.sub)
	rep, err := e.Evaluate(t.Context(), c.sim.Now())
	require.NoError(t, err)
	// The wording is checked: these messages are the library's
	// documented promise (Subject.Invariants' doc comment quotes them).
	want := map[string]string{
		tikv.InvCPUUsage:     "tikv: cpu_usage (metric families cpu, cpu_quota): reading store metrics: ",
		tikv.InvDiskUsage:    "tikv: disk_usage (metric families disk_capacity, disk_available): reading store metrics: ",
		tikv.InvStoreRestart: "tikv: store_restart (metric families restarts): reading store metrics: ",
		tikv.InvWriteLatency: "tikv: write_latency_p99 (metric families write_latency_p99): reading store metrics: ",
	}
	got := map[string]string{}
	for _, ce := range rep.Errors {
		require.ErrorIs(t, ce.Err, promclient.ErrUnavailable)
		msg := ce.Err.Error()
		if prefix, ok := want[ce.Invariant]; ok && strings.HasPrefix(msg, prefix) {
			msg = prefix
		}
		got[ce.Invariant] = msg
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("check errors (-want +got):\n%s", diff)
	}
}
