package tikvtest

import (
	"fmt"
	"math"
	"net"
	"net/http"
	"sort"
	"syscall"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"

	"github.com/kvops/operator/subject"
)

// scrape GETs a store's /metrics at its status_address, as Prometheus
// would, and parses the text format.
func scrape(t *testing.T, cl *client, c *Cluster, id subject.StoreID) (map[string]*dto.MetricFamily, error) {
	t.Helper()
	addr, err := c.StatusAddress(id)
	require.NoError(t, err)
	require.Equal(t, addr, cl.stores()[uint64(id)].Store.StatusAddress, "PD's status_address is the metrics endpoint")
	resp, err := cl.hc.Get("http://" + addr + "/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	p := expfmt.NewTextParser(model.UTF8Validation)
	return p.TextToMetricFamilies(resp.Body)
}

// quantile is histogram_quantile over one histogram's cumulative buckets:
// linear interpolation inside the bucket that holds the rank.
func quantile(q float64, h *dto.Histogram) float64 {
	rank := q * float64(h.GetSampleCount())
	prevBound, prevCount := 0.0, 0.0
	for _, b := range h.GetBucket() {
		cnt := float64(b.GetCumulativeCount())
		if cnt >= rank {
			return prevBound + (b.GetUpperBound()-prevBound)*(rank-prevCount)/(cnt-prevCount)
		}
		prevBound, prevCount = b.GetUpperBound(), cnt
	}
	return math.Inf(1)
}

func histogram(t *testing.T, fams map[string]*dto.MetricFamily, name, typ string) *dto.Histogram {
	t.Helper()
	fam := fams[name]
	require.NotNil(t, fam, name)
	for _, m := range fam.GetMetric() {
		for _, l := range m.GetLabel() {
			if l.GetName() == "type" && l.GetValue() == typ {
				return m.GetHistogram()
			}
		}
	}
	t.Fatalf("%s{type=%q} missing", name, typ)
	return nil
}

func gauge(t *testing.T, fams map[string]*dto.MetricFamily, name, typ string) float64 {
	t.Helper()
	fam := fams[name]
	require.NotNil(t, fam, name)
	for _, m := range fam.GetMetric() {
		if typ == "" {
			return m.GetGauge().GetValue() + m.GetCounter().GetValue()
		}
		for _, l := range m.GetLabel() {
			if (l.GetName() == "type" || l.GetName() == "name") && l.GetValue() == typ {
				return m.GetGauge().GetValue() + m.GetCounter().GetValue()
			}
		}
	}
	t.Fatalf("%s{%q} missing", name, typ)
	return 0
}

func TestMetricsSlowStore(t *testing.T) {
	c, cl := newStarted(t)
	require.NoError(t, c.SetWriteLatency(2, 300*time.Millisecond))
	for range 4 {
		c.Advance(15 * time.Second)
	}
	require.Len(t, c.ScrapeTargets(), 5)
	p99 := map[subject.StoreID]float64{}
	for id := subject.StoreID(1); id <= 5; id++ {
		fams, err := scrape(t, cl, c, id)
		require.NoError(t, err)
		p99[id] = quantile(0.99, histogram(t, fams, "tikv_storage_engine_async_request_duration_seconds", "write"))
		grpc := quantile(0.99, histogram(t, fams, "tikv_grpc_msg_duration_seconds", "kv_prewrite"))
		require.Greater(t, grpc, p99[id]*0.5)
		histogram(t, fams, "tikv_storage_engine_async_request_duration_seconds", "snapshot")
		histogram(t, fams, "tikv_grpc_msg_duration_seconds", "kv_gc")
		require.Equal(t, float64(100<<30), gauge(t, fams, "tikv_store_size_bytes", "capacity"))
		require.Positive(t, gauge(t, fams, "tikv_store_size_bytes", "available"))
		require.Positive(t, gauge(t, fams, "process_cpu_seconds_total", ""))
		require.Equal(t, float64(cpuQuota), gauge(t, fams, "tikv_server_cpu_cores_quota", ""))
		require.Positive(t, gauge(t, fams, "tikv_thread_cpu_seconds_total", "raftstore_0"))
		st := cl.stores()[uint64(id)]
		require.Equal(t, float64(st.Status.LeaderCount), gauge(t, fams, "tikv_raftstore_region_count", "leader"))
		require.Equal(t, float64(st.Status.RegionCount), gauge(t, fams, "tikv_raftstore_region_count", "region"))
		require.Equal(t, float64(t0.Add(-time.Hour).Unix()), gauge(t, fams, "process_start_time_seconds", ""))
	}
	require.Greater(t, p99[2], 0.25, "the slow store's write p99")
	require.Less(t, p99[2], 0.5)
	for _, id := range []subject.StoreID{1, 3, 4, 5} {
		require.Less(t, p99[id], 0.01, "store %d write p99", id)
		require.Greater(t, p99[id], 0.001, "store %d write p99", id)
	}

	require.NoError(t, c.SetWriteLatency(2, 0))
	before, err := scrape(t, cl, c, 2)
	require.NoError(t, err)
	c.Advance(15 * time.Second)
	after, err := scrape(t, cl, c, 2)
	require.NoError(t, err)
	// What Prometheus' rate() sees: the new observations only.
	delta := deltaHistogram(histogram(t, after, "tikv_storage_engine_async_request_duration_seconds", "write"),
		histogram(t, before, "tikv_storage_engine_async_request_duration_seconds", "write"))
	require.Less(t, quantile(0.99, delta), 0.01, "the store recovered")
}

func deltaHistogram(a, b *dto.Histogram) *dto.Histogram {
	out := &dto.Histogram{SampleCount: ptr(a.GetSampleCount() - b.GetSampleCount())}
	for i, bk := range a.GetBucket() {
		out.Bucket = append(out.Bucket, &dto.Bucket{
			UpperBound:      ptr(bk.GetUpperBound()),
			CumulativeCount: ptr(bk.GetCumulativeCount() - b.GetBucket()[i].GetCumulativeCount()),
		})
	}
	return out
}

func TestMetricsOfStoppedAndRestartedStores(t *testing.T) {
	c, cl := newStarted(t)
	c.Advance(10 * time.Second)
	require.NoError(t, c.StopStore(4))
	_, err := scrape(t, cl, c, 4)
	require.Error(t, err, "a stopped store's endpoint refuses connections")

	c.Advance(time.Minute)
	require.NoError(t, c.StartStore(4))
	fams, err := scrape(t, cl, c, 4)
	require.NoError(t, err, "the endpoint listens again on the same address")
	require.Equal(t, float64(c.Now().Unix()), gauge(t, fams, "process_start_time_seconds", ""))
	require.Zero(t, histogram(t, fams, "tikv_storage_engine_async_request_duration_seconds", "write").GetSampleCount(),
		"a new process starts its counters at zero")

	c.Advance(10 * time.Second)
	require.NoError(t, c.RestartStore(1))
	fams, err = scrape(t, cl, c, 1)
	require.NoError(t, err)
	require.Equal(t, float64(c.Now().Unix()), gauge(t, fams, "process_start_time_seconds", ""))
	require.Zero(t, gauge(t, fams, "tikv_raftstore_region_count", "leader"), "a restarted store lost its leaders")
	log, err := c.StoreLog(1)
	require.NoError(t, err)
	require.Contains(t, string(log), "Welcome to TiKV")
}

func TestMetricsHandlerWithoutStart(t *testing.T) {
	c, err := NewUnstartedCluster(Config{Clock: &fakeClock{t0}, Stores: 3, Regions: 30})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, c.Close()) })
	c.Advance(time.Second)
	h, err := c.MetricsHandler(3)
	require.NoError(t, err)
	rec := newRecorder()
	h.ServeHTTP(rec, mustRequest(t, "GET", "/metrics"))
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(rec.Body)
	require.NoError(t, err)
	var names []string
	for n := range fams {
		names = append(names, n)
	}
	sort.Strings(names)
	require.Equal(t, fmt.Sprint([]string{"process_cpu_seconds_total", "process_start_time_seconds",
		"tikv_grpc_msg_duration_seconds", "tikv_raftstore_region_count", "tikv_server_cpu_cores_quota",
		"tikv_storage_engine_async_request_duration_seconds", "tikv_store_size_bytes", "tikv_thread_cpu_seconds_total"}), fmt.Sprint(names))
	_, err = c.MetricsHandler(4)
	require.ErrorIs(t, err, ErrNoStore)
}

// TestStoppedStoreKeepsItsPort: once StopStore returns, the store's
// metrics port refuses connections, as a dead TiKV's does, and no other
// socket can take it, so the store listens there again when it starts.
// (The port used to be free in between: another process took it and
// StartStore failed with "address already in use". And a store stopped
// right after it started could accept a connection for a moment and then
// reset it.)
func TestStoppedStoreKeepsItsPort(t *testing.T) {
	c, cl := newStarted(t)
	addr, err := c.StatusAddress(2)
	require.NoError(t, err)
	_, port, err := net.SplitHostPort(addr)
	require.NoError(t, err)
	for range 3 { // then over a port held and listened on again
		require.NoError(t, c.StopStore(2))
		_, err = net.Dial("tcp", addr)
		require.ErrorIs(t, err, syscall.ECONNREFUSED, "a stopped store's endpoint")
		for _, a := range []string{addr, ":" + port} {
			l, err := net.Listen("tcp", a)
			if err == nil {
				l.Close()
				t.Fatalf("another socket could listen on %s while store 2 was stopped", a)
			}
			require.ErrorIs(t, err, syscall.EADDRINUSE)
		}
		require.NoError(t, c.StartStore(2))
		again, err := c.StatusAddress(2)
		require.NoError(t, err)
		require.Equal(t, addr, again)
		_, err = scrape(t, cl, c, 2)
		require.NoError(t, err, "the endpoint answers again on the same address")
	}
}
