package tikvtest

import (
	"math"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// storeMetrics is one TiKV process's metrics. A restarted store gets a new
// one, so counters start again from zero, as in a new process.
type storeMetrics struct {
	reg          *prometheus.Registry
	handler      http.Handler
	engine       *prometheus.HistogramVec
	grpc         *prometheus.HistogramVec
	size         *prometheus.GaugeVec
	cpu          prometheus.Counter
	quota        prometheus.Gauge
	threadCPU    *prometheus.CounterVec
	regionCount  *prometheus.GaugeVec
	startSeconds prometheus.Gauge
}

// latencyBuckets go from 0.1 ms to 10 s in steps of about 34%, fine enough
// for histogram_quantile to land near the true p99.
var latencyBuckets = prometheus.ExponentialBucketsRange(0.0001, 10, 40)

// cpuQuota is each simulated store's CPU quota, in cores.
const cpuQuota = 8

func newStoreMetrics(start time.Time) *storeMetrics {
	m := &storeMetrics{
		reg: prometheus.NewRegistry(),
		engine: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "tikv_storage_engine_async_request_duration_seconds",
			Help:    "Bucketed histogram of processing successful asynchronous requests.",
			Buckets: latencyBuckets,
		}, []string{"type"}),
		grpc: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "tikv_grpc_msg_duration_seconds",
			Help:    "Bucketed histogram of grpc server messages.",
			Buckets: latencyBuckets,
		}, []string{"type"}),
		size: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "tikv_store_size_bytes",
			Help: "Size of storage.",
		}, []string{"type"}),
		cpu: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "process_cpu_seconds_total",
			Help: "Total user and system CPU time spent in seconds.",
		}),
		quota: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "tikv_server_cpu_cores_quota",
			Help: "Total CPU cores quota for TiKV server.",
		}),
		threadCPU: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tikv_thread_cpu_seconds_total",
			Help: "Total user and system CPU time spent in seconds by threads.",
		}, []string{"name", "tid"}),
		regionCount: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "tikv_raftstore_region_count",
			Help: "Number of regions collected in region_collection_worker.",
		}, []string{"type"}),
		startSeconds: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "process_start_time_seconds",
			Help: "Start time of the process since unix epoch in seconds.",
		}),
	}
	m.reg.MustRegister(m.engine, m.grpc, m.size, m.cpu, m.quota, m.threadCPU, m.regionCount, m.startSeconds)
	m.quota.Set(cpuQuota)
	m.startSeconds.Set(float64(start.UnixNano()) / 1e9)
	// Every series exists from the start, as in TiKV.
	for _, t := range []string{"write", "snapshot"} {
		m.engine.WithLabelValues(t)
	}
	for _, t := range grpcTypes {
		m.grpc.WithLabelValues(t)
	}
	m.threadCPU.WithLabelValues("raftstore_0", "1")
	m.handler = promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
	return m
}

var grpcTypes = []string{"kv_get", "kv_prewrite", "kv_commit", "kv_batch_get", "kv_scan", "kv_gc"}

// defaultWriteLatency is a healthy store's typical write latency.
const defaultWriteLatency = 3 * time.Millisecond

// observe records a tick's worth of synthetic requests on every running
// store, latencies spread ±20% around the store's write latency. Clients
// send reads and writes to region leaders (TiKV records a write's latency
// where the leader serves it), so the cluster's requests, about 50 a
// second per type and running store (at most 1000 per tick and store on
// average), are shared among the stores in proportion to the leaders each
// holds: a store that leads no region records none, and a store that
// leads a few records a few. Background work (GC, CPU) goes on everywhere.
func (c *Cluster) observe(dt time.Duration) {
	c.observePD(dt)
	n := math.Min(maxPerTick, math.Max(1, dt.Seconds()*50))
	cnt := c.counts()
	running, leaders := 0, 0
	for _, s := range c.stores {
		if s.running {
			running++
			leaders += cnt.leaders[s.id-1]
		}
	}
	for _, s := range c.stores {
		if !s.running {
			continue
		}
		m := s.metrics
		w := s.writeLatency
		if w == 0 {
			w = defaultWriteLatency
		}
		jitter := func(d time.Duration) float64 { return d.Seconds() * (0.8 + 0.4*c.rng.Float64()) }
		for range served(n, running, leaders, cnt.leaders[s.id-1]) {
			lat := jitter(w)
			m.engine.WithLabelValues("write").Observe(lat)
			m.engine.WithLabelValues("snapshot").Observe(jitter(time.Millisecond))
			m.grpc.WithLabelValues("kv_get").Observe(jitter(time.Millisecond))
			m.grpc.WithLabelValues("kv_batch_get").Observe(jitter(2 * time.Millisecond))
			m.grpc.WithLabelValues("kv_scan").Observe(jitter(3 * time.Millisecond))
			m.grpc.WithLabelValues("kv_prewrite").Observe(lat + jitter(time.Millisecond))
			m.grpc.WithLabelValues("kv_commit").Observe(lat + jitter(time.Millisecond))
		}
		m.grpc.WithLabelValues("kv_gc").Observe(jitter(20 * time.Millisecond))
		busy := 1.5
		if s.writeLatency > 50*time.Millisecond {
			busy = 6 // a slow store is usually a busy one
		}
		m.cpu.Add(dt.Seconds() * busy * (0.9 + 0.2*c.rng.Float64()))
		m.threadCPU.WithLabelValues("raftstore_0", "1").Add(dt.Seconds() * 0.3 * busy / 1.5)
	}
}

// served is how many of a tick's requests a store leading `leads` of the
// running stores' `leaders` leaders serves, perStore being the mean per
// running store: its share, at least one when it leads any region, none
// when it leads none.
func served(perStore float64, running, leaders, leads int) int {
	if leads == 0 || leaders == 0 {
		return 0
	}
	k := int(math.Round(perStore * float64(running) * float64(leads) / float64(leaders)))
	return max(1, min(k, 4*maxPerTick))
}

// maxPerTick bounds the requests a store serves in one tick, on average.
const maxPerTick = 1000

// updateGauges sets the gauges that mirror the cluster's state.
func (c *Cluster) updateGauges() {
	for _, s := range c.stores {
		capacity, available, _ := c.diskSizes(s)
		s.metrics.size.WithLabelValues("capacity").Set(float64(capacity))
		s.metrics.size.WithLabelValues("available").Set(float64(available))
		cnt := c.counts()
		leaders, peers := cnt.leaders[s.id-1], cnt.peers[s.id-1]
		s.metrics.regionCount.WithLabelValues("leader").Set(float64(leaders))
		s.metrics.regionCount.WithLabelValues("region").Set(float64(peers))
	}
}

// diskSizes returns a store's capacity, available and used bytes: used is
// its peers' data unless a fault set the usage.
func (c *Cluster) diskSizes(s *store) (capacity, available, used uint64) {
	capacity = s.capacity
	if s.diskUsage >= 0 {
		used = uint64(s.diskUsage * float64(capacity))
	} else {
		used = uint64(c.peerCount(s.id)) * regionSizeMiB << 20
	}
	used = min(used, capacity)
	return capacity, capacity - used, used
}
