package promclient_test

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/kvops/operator/internal/promtest"
	"github.com/kvops/operator/promclient"
)

// BenchmarkStoreMetrics reads N stores' metrics from a real Prometheus
// over the backfilled scenario: "all" is StoreMetrics (one query per
// family), "per-store" the baseline of the design it replaces, a query
// set per store (OneStoreMetrics for each). Reported per call: HTTP
// requests and wall time.
func BenchmarkStoreMetrics(b *testing.B) {
	promtest.Require(b)
	now := time.Now().Truncate(time.Minute)
	dir := b.TempDir()
	promtest.Backfill(b, dir, scenario(now))
	p := promtest.Start(b, promtest.WithDataDir(dir))
	rt := &countingTransport{next: http.DefaultTransport}
	cfg := promclient.DefaultConfig()
	cfg.Address = p.URL
	cfg.RoundTripper = rt
	cfg.Clock = func() time.Time { return now }
	c, err := promclient.New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	for _, n := range []int{3, 30, 300} {
		ids := make([]int, n)
		for i := range ids {
			ids[i] = i%5 + 1
		}
		ss := stores(ids...)
		b.Run(fmt.Sprintf("all/stores=%d", n), func(b *testing.B) {
			start := rt.n.Load()
			for b.Loop() {
				if _, _, err := c.StoreMetrics(b.Context(), ss); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(rt.n.Load()-start)/float64(b.N), "requests/op")
		})
		if n > 30 {
			continue // the baseline at 300 stores takes 3,000 requests a call
		}
		b.Run(fmt.Sprintf("per-store/stores=%d", n), func(b *testing.B) {
			start := rt.n.Load()
			for b.Loop() {
				for _, s := range ss {
					if _, _, err := c.OneStoreMetrics(b.Context(), s); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.ReportMetric(float64(rt.n.Load()-start)/float64(b.N), "requests/op")
		})
	}
}
