package tikvtest

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
)

// PD's own metrics: each member serves, on a listener of its own, the
// series PD's official alert rules (pd.rules.yml) read, with the names,
// types and labels of a real PD's /metrics (testdata/pd-metrics, recorded
// from PD at commit a186e0cc61): the leader the cluster's store and
// region statistics, every member its etcd and process series. Values
// come from the simulated cluster at the time of the scrape.

// pdMemberStats are the counters of one PD member, grown by ticks.
type pdMemberStats struct {
	tsoSaves   float64 // pd_tso_events{type="save"}: the leader persists its TSO window
	cpuSeconds float64
	walFsyncs  float64
	peerRTTs   float64 // round trips measured to each peer
}

// Rates of the member counters, per second of cluster time: what a
// recorded three-member PD did while idle (testdata/pd-metrics).
const (
	tsoSavesPerSecond   = 14
	leaderCPU           = 0.05 // cores
	followerCPU         = 0.01
	walFsyncsPerSecond  = 1
	peerRTTsPerSecond   = 0.2
	pdMaxProcs          = 8
	pdMemoryQuota       = 16 << 30
	pdResidentMemory    = 192 << 20
	etcdQuotaBytes      = 8 << 30
	etcdDBBytes         = 4 << 20
	pdUnhealthyDuration = 10 * time.Minute // PD's storeUnhealthDuration
)

// walFsyncBuckets and peerRTTBuckets are etcd's bucket bounds with the
// cumulative share of observations the recording put at or under each:
// fsyncs mostly under 16 ms, round trips all between 0.8 and 1.6 ms.
var (
	walFsyncBuckets = bucketShares([]float64{0.001, 0.002, 0.004, 0.008, 0.016, 0.032, 0.064, 0.128, 0.256, 0.512, 1.024, 2.048, 4.096, 8.192},
		[]float64{28, 35, 44, 52, 60, 62, 64, 64, 64, 64, 64, 64, 64, 64}, 64)
	peerRTTBuckets = bucketShares([]float64{0.0001, 0.0002, 0.0004, 0.0008, 0.0016, 0.0032, 0.0064, 0.0128, 0.0256, 0.0512, 0.1024, 0.2048, 0.4096, 0.8192, 1.6384, 3.2768},
		[]float64{0, 0, 0, 0, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2}, 2)
)

type bucketShare struct{ le, share float64 }

func bucketShares(les, counts []float64, total float64) []bucketShare {
	out := make([]bucketShare, len(les))
	for i := range les {
		out[i] = bucketShare{les[i], counts[i] / total}
	}
	return out
}

// observePD grows the members' counters over a tick of dt.
func (c *Cluster) observePD(dt time.Duration) {
	if len(c.pdStats) != len(c.members) {
		c.pdStats = make([]pdMemberStats, len(c.members))
	}
	s := dt.Seconds()
	for i := range c.pdStats {
		st := &c.pdStats[i]
		st.walFsyncs += s * walFsyncsPerSecond
		st.peerRTTs += s * peerRTTsPerSecond
		if i == c.leaderIdx {
			st.tsoSaves += s * tsoSavesPerSecond
			st.cpuSeconds += s * leaderCPU
		} else {
			st.cpuSeconds += s * followerCPU
		}
	}
}

// pdFamilies returns member i's metrics now. c.mu is held.
func (c *Cluster) pdFamilies(i int) []*dto.MetricFamily {
	if len(c.pdStats) != len(c.members) {
		c.observePD(0)
	}
	st := c.pdStats[i]
	leader := i == c.leaderIdx
	var fams []*dto.MetricFamily
	add := func(f *dto.MetricFamily) { fams = append(fams, f) }
	if leader {
		add(c.pdClusterStatus())
	}
	add(c.pdRegionsStatus(leader))
	add(gaugeFamily("etcd_server_is_leader", "Whether or not this member is a leader. 1 if is, 0 otherwise.", boolValue(leader)))
	if leader {
		// A follower does not export it at all (testdata/pd-metrics).
		add(gaugeFamily("service_member_role", "The leader/primary of services", 1, "service", "PD"))
	}
	tso := &dto.MetricFamily{Name: ptr("pd_tso_events"), Help: ptr("Counter of tso events"), Type: dto.MetricType_COUNTER.Enum()}
	for _, typ := range []string{"save", "system_time_slow"} {
		v := 0.0
		if typ == "save" {
			v = st.tsoSaves
		}
		tso.Metric = append(tso.Metric, &dto.Metric{Label: labelPairs("group", "0", "type", typ), Counter: &dto.Counter{Value: ptr(v)}})
	}
	add(tso)
	add(histogramFamily("etcd_disk_wal_fsync_duration_seconds", "The latency distributions of fsync called by WAL.",
		walFsyncBuckets, 0.005, []histogramPoint{{count: st.walFsyncs}}))
	var rtts []histogramPoint
	for j, m := range c.members {
		if j != i {
			rtts = append(rtts, histogramPoint{labels: labelPairs("To", strconv.FormatUint(m.id, 16)), count: st.peerRTTs})
		}
	}
	add(histogramFamily("etcd_network_peer_round_trip_time_seconds", "Round-Trip-Time histogram between peers",
		peerRTTBuckets, 0.0012, rtts))
	add(gaugeFamily("process_start_time_seconds", "Start time of the process since unix epoch in seconds.",
		float64(c.start.Add(-time.Hour).Unix())))
	add(&dto.MetricFamily{Name: ptr("process_cpu_seconds_total"), Help: ptr("Total user and system CPU time spent in seconds."),
		Type: dto.MetricType_COUNTER.Enum(), Metric: []*dto.Metric{{Counter: &dto.Counter{Value: ptr(st.cpuSeconds)}}}})
	add(gaugeFamily("process_resident_memory_bytes", "Resident memory size in bytes.", pdResidentMemory))
	add(gaugeFamily("pd_service_maxprocs", "The value of GOMAXPROCS.", pdMaxProcs))
	add(gaugeFamily("pd_service_memory_quota_bytes", "The value of memory quota bytes.", pdMemoryQuota))
	add(gaugeFamily("etcd_mvcc_db_total_size_in_bytes", "Total size of the underlying database physically allocated in bytes.", etcdDBBytes))
	add(gaugeFamily("etcd_server_quota_backend_bytes", "Current backend storage quota size in bytes.", etcdQuotaBytes))
	return fams
}

// pdClusterStatusTypes are the types of pd_cluster_status, per store, as
// the recorded PD exports them.
var pdClusterStatusTypes = []string{
	"leader_count", "learner_count", "region_count", "storage_capacity", "storage_size",
	"store_disconnected_count", "store_down_count", "store_low_space_count", "store_offline_count",
	"store_preparing_count", "store_removed_count", "store_removing_count", "store_serving_count",
	"store_slow_count", "store_tombstone_count", "store_unhealth_count", "store_up_count", "witness_count",
}

// pdClusterStatus is the leader's pd_cluster_status: per store, its
// counts and sizes, and a 1 in the state counter PD's statistics put it
// in (pkg/statistics/store_collection.go, storeStatusStatistics.observe):
// down once max-store-down-time passed without a heartbeat, unhealthy
// after 10 minutes, disconnected after 20 s (or until its first heartbeat
// to a new PD leader), up otherwise; offline while draining (removing),
// tombstone once drained (removed); low space when its used share is over
// low-space-ratio and it is not down. Stores are never slow here.
func (c *Cluster) pdClusterStatus() *dto.MetricFamily {
	f := &dto.MetricFamily{Name: ptr("pd_cluster_status"), Help: ptr("Status of the cluster."), Type: dto.MetricType_GAUGE.Enum()}
	cnt := c.counts()
	for _, s := range c.stores {
		capacity, _, used := c.diskSizes(s)
		v := map[string]float64{
			"leader_count": float64(cnt.leaders[s.id-1]), "learner_count": float64(cnt.learners[s.id-1]),
			"region_count": float64(cnt.peers[s.id-1]), "storage_capacity": float64(capacity), "storage_size": float64(used),
		}
		down := false
		switch {
		case s.tombstone:
			v["store_tombstone_count"], v["store_removed_count"] = 1, 1
		case s.offline:
			v["store_offline_count"], v["store_removing_count"] = 1, 1
		default:
			v["store_serving_count"] = 1
			switch since := c.now.Sub(s.lastHeartbeat); {
			case since >= c.cfg.maxStoreDownTime:
				v["store_down_count"], down = 1, true
			case since > pdUnhealthyDuration:
				v["store_unhealth_count"] = 1
			case s.stale || since > disconnectDuration:
				v["store_disconnected_count"] = 1
			default:
				v["store_up_count"] = 1
			}
		}
		if !s.tombstone && !down && capacity > 0 && float64(used)/float64(capacity) > c.cfg.lowSpaceRatio {
			v["store_low_space_count"] = 1
		}
		id := strconv.FormatUint(s.id, 10)
		for _, typ := range pdClusterStatusTypes {
			f.Metric = append(f.Metric, &dto.Metric{Label: labelPairs("engine", "tikv", "store", id, "type", typ),
				Gauge: &dto.Gauge{Value: ptr(v[typ])}})
		}
	}
	return f
}

// pdRegionsStatusTypes are pd_regions_status' types, as recorded.
var pdRegionsStatusTypes = []string{
	"down-peer-region-count", "empty-region-count", "extra-peer-region-count", "learner-peer-region-count",
	"miss-peer-region-count", "offline-peer-region-count", "oversized-region-count", "pending-peer-region-count",
	"undersized-region-count", "witness-leader-region-count",
}

// pdRegionsStatus counts the regions of each check, on the leader; a
// follower exports the family with zeros, as the recorded followers did.
// Only the leader passes over the regions, and only when a store is not
// Up: a healthy cluster's regions have nothing to count.
func (c *Cluster) pdRegionsStatus(leader bool) *dto.MetricFamily {
	n := map[string]float64{}
	if leader && c.anyStoreNotUp() {
		want := min(3, len(c.stores))
		for _, r := range c.regionsByKey() {
			voters, learners, down, offline := 0, 0, false, false
			for _, p := range r.peers {
				s := c.stores[p.store-1]
				if p.learner {
					learners++
				} else {
					voters++
				}
				down = down || c.stateName(s) == "Down"
				offline = offline || s.offline
			}
			count := func(typ string, yes bool) {
				if yes {
					n[typ]++
				}
			}
			count("down-peer-region-count", down)
			count("miss-peer-region-count", voters < want)
			count("extra-peer-region-count", voters+learners > want)
			count("learner-peer-region-count", learners > 0)
			count("offline-peer-region-count", offline)
		}
	}
	f := &dto.MetricFamily{Name: ptr("pd_regions_status"), Help: ptr("Status of the regions."), Type: dto.MetricType_GAUGE.Enum()}
	for _, typ := range pdRegionsStatusTypes {
		f.Metric = append(f.Metric, &dto.Metric{Label: labelPairs("type", typ), Gauge: &dto.Gauge{Value: ptr(n[typ])}})
	}
	return f
}

// anyStoreNotUp reports whether a store is anything but Up, the only
// case in which a region can be counted by pd_regions_status.
func (c *Cluster) anyStoreNotUp() bool {
	for _, s := range c.stores {
		if c.stateName(s) != "Up" {
			return true
		}
	}
	return false
}

// pdMetricsHandler serves member i's metrics, or the current leader's
// when i is negative (GET /metrics on the PD URL).
func (c *Cluster) pdMetricsHandler(i int) http.Handler {
	return promhttp.HandlerFor(prometheus.GathererFunc(func() ([]*dto.MetricFamily, error) {
		c.mu.Lock()
		defer c.mu.Unlock()
		if i < 0 {
			return c.pdFamilies(c.leaderIdx), nil
		}
		return c.pdFamilies(i), nil
	}), promhttp.HandlerOpts{})
}

// listenPDMembers starts one metrics listener per PD member. c.mu is
// held.
func (c *Cluster) listenPDMembers() error {
	for i := range c.members {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return fmt.Errorf("tikvtest: listen for PD member %s metrics: %w", c.members[i].name, err)
		}
		h := http.NewServeMux()
		h.Handle("GET /metrics", c.pdMetricsHandler(i))
		ctx := c.net.ctx
		srv := &http.Server{Handler: h, BaseContext: func(net.Listener) context.Context { return ctx }, ReadHeaderTimeout: 10 * time.Second}
		c.net.members = append(c.net.members, srv)
		c.net.memberAddrs = append(c.net.memberAddrs, ln.Addr().String())
		c.net.serve(srv, ln)
	}
	return nil
}

// PDScrapeTargets returns the host:port of each PD member's metrics
// endpoint (pd1, pd2, pd3), for a Prometheus scrape job named "pd", which
// PD's alert rules select. GET /metrics on [Cluster.PDURL] answers the
// current leader's. Empty before Start.
func (c *Cluster) PDScrapeTargets() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.net == nil {
		return nil
	}
	return append([]string(nil), c.net.memberAddrs...)
}

// Helpers building client_model's metric families.

func ptr[T any](v T) *T { return &v }

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func labelPairs(kv ...string) []*dto.LabelPair {
	out := make([]*dto.LabelPair, 0, len(kv)/2)
	for i := 0; i < len(kv); i += 2 {
		out = append(out, &dto.LabelPair{Name: ptr(kv[i]), Value: ptr(kv[i+1])})
	}
	return out
}

func gaugeFamily(name, help string, v float64, labels ...string) *dto.MetricFamily {
	return &dto.MetricFamily{Name: ptr(name), Help: ptr(help), Type: dto.MetricType_GAUGE.Enum(),
		Metric: []*dto.Metric{{Label: labelPairs(labels...), Gauge: &dto.Gauge{Value: ptr(v)}}}}
}

// histogramPoint is one histogram series: its labels and observations.
type histogramPoint struct {
	labels []*dto.LabelPair
	count  float64
}

// histogramFamily spreads each point's observations over the buckets by
// their shares; mean is the mean observation, for the sum.
func histogramFamily(name, help string, buckets []bucketShare, mean float64, points []histogramPoint) *dto.MetricFamily {
	f := &dto.MetricFamily{Name: ptr(name), Help: ptr(help), Type: dto.MetricType_HISTOGRAM.Enum()}
	for _, p := range points {
		count := uint64(p.count)
		h := &dto.Histogram{SampleCount: ptr(count), SampleSum: ptr(float64(count) * mean)}
		for _, b := range buckets {
			h.Bucket = append(h.Bucket, &dto.Bucket{UpperBound: ptr(b.le), CumulativeCount: ptr(uint64(b.share * float64(count)))})
		}
		f.Metric = append(f.Metric, &dto.Metric{Label: p.labels, Histogram: h})
	}
	return f
}
