package tikv_test

import (
	"net/http"
	"strings"
	"sync"
	"testing"

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
		pd.take()
		prom.take()
		_, err := e.Evaluate(t.Context(), c.sim.Now())
		require.NoError(t, err)
		gotPD, gotProm := pd.take(), prom.take()
		require.Equal(t, 1, gotPD["/pd/api/v1/stores"], "PD stores reads in one evaluation: %v", gotPD)
		require.Equal(t, len(promclient.Metrics()), prom.total("/api/v1/query", gotProm), "Prometheus queries in one evaluation: %v", gotProm)
	}
}
