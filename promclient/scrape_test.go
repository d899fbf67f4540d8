package promclient_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/stretchr/testify/require"

	"github.com/kvops/operator/internal/promtest"
	"github.com/kvops/operator/promclient"
	"github.com/kvops/operator/subject"
)

// tikvExporter serves tikv_* metrics from a client_golang registry, as a
// TiKV status port does. Every scrape first records a batch of work, so
// that counters and histograms grow between scrapes.
func tikvExporter(t *testing.T) *httptest.Server {
	t.Helper()
	reg := prometheus.NewRegistry()
	buckets := []float64{0.001, 0.002, 0.004, 0.008, 0.016, 0.032}
	write := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "tikv_storage_engine_async_request_duration_seconds", Buckets: buckets,
	}, []string{"type"})
	grpc := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "tikv_grpc_msg_duration_seconds", Buckets: buckets,
	}, []string{"type"})
	size := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "tikv_store_size_bytes"}, []string{"type"})
	regions := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "tikv_raftstore_region_count"}, []string{"type"})
	quota := prometheus.NewGauge(prometheus.GaugeOpts{Name: "tikv_server_cpu_cores_quota"})
	threads := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tikv_thread_cpu_seconds_total"}, []string{"name"})
	cpu := prometheus.NewCounter(prometheus.CounterOpts{Name: "process_cpu_seconds_total"})
	started := prometheus.NewGauge(prometheus.GaugeOpts{Name: "process_start_time_seconds"})
	reg.MustRegister(write, grpc, size, regions, quota, threads, cpu, started)

	size.WithLabelValues("capacity").Set(2e12)
	size.WithLabelValues("available").Set(5e11)
	regions.WithLabelValues("leader").Set(7)
	regions.WithLabelValues("region").Set(21)
	quota.Set(4)
	started.Set(float64(time.Now().Add(-time.Hour).Unix()))

	metrics := promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for range 100 {
			write.WithLabelValues("write").Observe(0.005) // (4 ms, 8 ms]
			grpc.WithLabelValues("kv_get").Observe(0.003) // (2 ms, 4 ms]
		}
		cpu.Add(0.5)
		threads.WithLabelValues("raftstore_0").Add(0.1)
		metrics.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestStoreMetricsScraped(t *testing.T) {
	t.Parallel()
	promtest.Require(t)
	srv := tikvExporter(t)
	target := strings.TrimPrefix(srv.URL, "http://")
	p := promtest.Start(t, promtest.WithScrape("tikv", time.Second, target))
	// Rates need two scrapes in the window.
	p.WaitFor(t, `count_over_time(tikv_storage_engine_async_request_duration_seconds_count[1m]) >= 2`, 60*time.Second)

	cfg := promclient.DefaultConfig()
	cfg.Address = p.URL
	c, err := promclient.New(cfg)
	require.NoError(t, err)
	store := subject.Store{ID: 1, StatusAddress: target}
	got, _, err := c.StoreMetrics(t.Context(), []subject.Store{store, {ID: 2, StatusAddress: "127.0.0.1:1"}})
	require.NoError(t, err)

	wants := map[promclient.Metric]want{
		promclient.WriteLatencyP99: approx(0.004 + 0.004*0.99),
		promclient.GRPCLatencyP99:  approx(0.002 + 0.002*0.99),
		promclient.DiskCapacity:    approx(2e12),
		promclient.DiskAvailable:   approx(5e11),
		promclient.CPUQuota:        approx(4),
		promclient.LeaderCount:     approx(7),
		promclient.RegionCount:     approx(21),
		promclient.Restarts:        approx(0),
	}
	for m, v := range fields(got[0]) {
		w, ok := wants[m]
		if !ok {
			continue
		}
		if d := check(v, w); d != "" {
			t.Errorf("%s: %s", m, d)
		}
	}
	// CPU rates depend on when the scrapes happened: they are known and
	// positive, and the raftstore's is a fifth of the process's.
	cpu, ok1 := got[0].CPU.Get()
	rs, ok2 := got[0].RaftstoreCPU.Get()
	if !ok1 || !ok2 || cpu <= 0 || rs <= 0 {
		t.Errorf("cpu %v, raftstore cpu %v: want both known and positive", got[0].CPU, got[0].RaftstoreCPU)
	} else if d := check(subject.Known(rs/cpu), want{v: 0.2, tol: 1e-6}); d != "" {
		t.Errorf("raftstore/process cpu: %s", d)
	}
	for m, v := range fields(got[1]) {
		if d := check(v, unknownBecause("no "+string(m)+" series for instance 127.0.0.1:1")); d != "" {
			t.Errorf("unscraped store %s: %s", m, d)
		}
	}
}
