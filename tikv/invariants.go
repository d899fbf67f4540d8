package tikv

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/kvops/operator/invariant"
	"github.com/kvops/operator/pdclient"
	"github.com/kvops/operator/subject"
)

// Thresholds sets when the TiKV invariants count a violation. Grace
// periods are how long a violation must last before it fires.
type Thresholds struct {
	// StoreHealthGrace is how long a store may be not Up before it fires
	// (default 0: at once).
	StoreHealthGrace time.Duration
	// LeaderChangeHold is the longest store health waits, after a PD
	// leader change, for a store's heartbeat to reach the new leader
	// (default 30s; PD's stores heartbeat every 10s).
	LeaderChangeHold time.Duration

	// WriteLatencyP99 is the highest acceptable p99 write latency (default
	// 100ms), for WriteLatencyGrace (default 60s).
	WriteLatencyP99   time.Duration
	WriteLatencyGrace time.Duration

	// DiskUsage is the highest acceptable fraction of a disk in use
	// (default 0.70), for DiskGrace (default 5m).
	DiskUsage float64
	DiskGrace time.Duration

	// CPUUsage is the highest acceptable fraction of a store's CPU quota
	// (default 0.70), for CPUGrace (default 2m).
	CPUUsage float64
	CPUGrace time.Duration

	// LeaderImbalance is how far above the mean the busiest Up store's
	// leader count may be (default 0.25, i.e. 25 %), when it also holds at
	// least LeaderImbalanceMinGap (default 10) more leaders than the least
	// busy; for LeaderImbalanceGrace (default 10m).
	LeaderImbalance       float64
	LeaderImbalanceMinGap int
	LeaderImbalanceGrace  time.Duration

	// PeerGrace is how long regions may have down or pending peers
	// (default 1m); LowSpaceGrace how long a store may be above PD's
	// low-space ratio (default 1m).
	PeerGrace     time.Duration
	LowSpaceGrace time.Duration

	// RestartHold keeps a restart firing for this long after the restart
	// left Prometheus' window (default 10m), so a crash loop is seen as one
	// alert.
	RestartHold time.Duration

	// StoreStartGrace is how long store health judges a store that
	// registered with PD but never sent a heartbeat (PD lists it Down
	// with no last heartbeat) as starting, unknown, before it counts as
	// Down (default 1m, six of TiKV's 10 s heartbeat intervals). It runs
	// from the first evaluation that saw the store starting.
	StoreStartGrace time.Duration
}

// DefaultThresholds returns the thresholds TiKV's own alert rules and
// dashboards suggest.
func DefaultThresholds() Thresholds {
	return Thresholds{
		LeaderChangeHold:      30 * time.Second,
		WriteLatencyP99:       100 * time.Millisecond,
		WriteLatencyGrace:     60 * time.Second,
		DiskUsage:             0.70,
		DiskGrace:             5 * time.Minute,
		CPUUsage:              0.70,
		CPUGrace:              2 * time.Minute,
		LeaderImbalance:       0.25,
		LeaderImbalanceMinGap: 10,
		LeaderImbalanceGrace:  10 * time.Minute,
		PeerGrace:             time.Minute,
		LowSpaceGrace:         time.Minute,
		RestartHold:           10 * time.Minute,
		StoreStartGrace:       time.Minute,
	}
}

// Names of the invariants Invariants builds.
const (
	InvStoreHealth     = "store_health"
	InvWriteLatency    = "write_latency_p99"
	InvDiskUsage       = "disk_usage"
	InvLowSpace        = "pd_low_space"
	InvCPUUsage        = "cpu_usage"
	InvRegionPeers     = "region_peers"
	InvLeaderImbalance = "leader_imbalance"
	InvStoreRestart    = "store_restart"
)

// Invariants returns the invariants that judge a TiKV cluster with the
// subject's thresholds (Config.Thresholds), for an invariant.Evaluator. Per-store invariants are keyed "store=N". Readings
// that are missing (a store with no series in Prometheus, a store PD has
// no sizes for) are reported as unknown findings, so that missing data
// neither fires nor resolves anything.
//
// The checks of one call share their reads: in one evaluation PD's stores
// are read once and Prometheus is asked once per metric family, whatever
// the number of invariants that use them.
func (s *Subject) Invariants() []invariant.Invariant {
	th := s.th
	stores := newShared(s.Stores)
	metrics := newShared(func(ctx context.Context) ([]subject.StoreMetrics, error) {
		st, err := stores.get(ctx, "metrics")
		if err != nil {
			return nil, err
		}
		return s.allStoreMetrics(ctx, st)
	})
	metric := func(name string, r metricRule) invariant.Check {
		return func(ctx context.Context, now time.Time) ([]invariant.Finding, error) {
			m, err := metrics.get(ctx, name)
			if err != nil && m == nil {
				return nil, err
			}
			// A partial answer (one metric family failed) still judges
			// what it has: the failed family reads as unknown.
			return judgeMetric(m, r), nil
		}
	}
	invs := []invariant.Invariant{
		{
			Name:        InvStoreHealth,
			Description: "Every store that is not a tombstone is Up. After a PD leader change, judgement of stores the new leader has not heard from yet is held; so is judgement of a store that registered but has not sent its first heartbeat, for StoreStartGrace.",
			Severity:    invariant.SeverityCritical,
			Grace:       th.StoreHealthGrace,
			Check: func(ctx context.Context, now time.Time) ([]invariant.Finding, error) {
				return s.checkStoreHealth(ctx, stores)
			},
		},
		{
			Name:        InvWriteLatency,
			Description: fmt.Sprintf("Each store's p99 write latency stays at or below %s.", th.WriteLatencyP99),
			Severity:    invariant.SeverityWarning,
			Grace:       th.WriteLatencyGrace,
			Check: metric(InvWriteLatency, metricRule{what: "p99 write latency", threshold: th.WriteLatencyP99.Seconds(),
				read: func(m subject.StoreMetrics) subject.Value { return m.WriteLatencyP99 }, format: formatSeconds}),
		},
		{
			Name:        InvDiskUsage,
			Description: fmt.Sprintf("Each store's disk is at most %s full.", formatPercent(th.DiskUsage)),
			Severity:    invariant.SeverityWarning,
			Grace:       th.DiskGrace,
			Check: metric(InvDiskUsage, metricRule{what: "disk usage", threshold: th.DiskUsage,
				read: subject.StoreMetrics.DiskUsage, format: formatPercent}),
		},
		{
			Name:        InvLowSpace,
			Description: "No store's disk, as PD sees it, is at or above PD's low-space ratio (where PD stops moving data to it).",
			Severity:    invariant.SeverityWarning,
			Grace:       th.LowSpaceGrace,
			Check: func(ctx context.Context, now time.Time) ([]invariant.Finding, error) {
				return s.checkLowSpace(ctx, stores)
			},
		},
		{
			Name:        InvCPUUsage,
			Description: fmt.Sprintf("Each store uses at most %s of its CPU quota.", formatPercent(th.CPUUsage)),
			Severity:    invariant.SeverityWarning,
			Grace:       th.CPUGrace,
			Check: metric(InvCPUUsage, metricRule{what: "CPU usage", threshold: th.CPUUsage,
				read: subject.StoreMetrics.CPUUsage, format: formatPercent}),
		},
		{
			Name:        InvRegionPeers,
			Description: "No region has down or pending peers (PD's region checks).",
			Severity:    invariant.SeverityWarning,
			Grace:       th.PeerGrace,
			Check:       func(ctx context.Context, _ time.Time) ([]invariant.Finding, error) { return s.checkPeers(ctx) },
		},
		{
			Name:        InvLeaderImbalance,
			Description: fmt.Sprintf("No Up store leads more than %s above the mean number of leaders.", formatPercent(th.LeaderImbalance)),
			Severity:    invariant.SeverityInfo,
			Grace:       th.LeaderImbalanceGrace,
			Check: func(ctx context.Context, now time.Time) ([]invariant.Finding, error) {
				st, err := stores.get(ctx, InvLeaderImbalance)
				if err != nil {
					return nil, err
				}
				return judgeLeaderBalance(st, th.LeaderImbalance, th.LeaderImbalanceMinGap), nil
			},
		},
		{
			Name:          InvStoreRestart,
			Description:   "No store process restarted in the last 5 minutes.",
			Severity:      invariant.SeverityWarning,
			KeepFiringFor: th.RestartHold,
			Check: metric(InvStoreRestart, metricRule{what: "restarts in the last 5m", threshold: 0,
				read: func(m subject.StoreMetrics) subject.Value { return m.Restarts }, format: formatCount}),
		},
	}
	if s.prom == nil {
		invs = slices.DeleteFunc(invs, func(inv invariant.Invariant) bool { return needsMetrics(inv.Name) })
	}
	return invs
}

// needsMetrics tells the invariants that read Prometheus.
func needsMetrics(name string) bool {
	switch name {
	case InvWriteLatency, InvDiskUsage, InvCPUUsage, InvStoreRestart:
		return true
	}
	return false
}

// checkStoreHealth judges every store's state, holding judgement of stores
// the PD leader has no heartbeat from just after a PD leader change, and of
// stores that registered but have not sent their first heartbeat yet.
func (s *Subject) checkStoreHealth(ctx context.Context, shared *shared[[]subject.Store]) ([]invariant.Finding, error) {
	stores, err := shared.get(ctx, InvStoreHealth)
	if err != nil {
		return nil, err
	}
	// The leader's name tells a leader change apart; when it cannot be
	// read, the zero-size signature alone opens the window.
	leader := ""
	if m, err := s.pd.Leader(ctx); err == nil {
		leader = m.Name
	}
	now := s.clock()
	s.mu.Lock()
	hold := s.window.observe(now, leader, stores)
	s.starts.observe(now, stores)
	fs := judgeStoreHealth(stores, hold, &s.starts, now)
	s.mu.Unlock()
	return fs, nil
}

func (s *Subject) checkLowSpace(ctx context.Context, shared *shared[[]subject.Store]) ([]invariant.Finding, error) {
	stores, err := shared.get(ctx, InvLowSpace)
	if err != nil {
		return nil, err
	}
	cfg, err := s.pd.ScheduleConfig(ctx)
	if err != nil {
		return nil, err
	}
	return judgeLowSpace(stores, cfg.LowSpaceRatio), nil
}

func (s *Subject) checkPeers(ctx context.Context) ([]invariant.Finding, error) {
	var out []invariant.Finding
	for _, kind := range []pdclient.RegionCheck{pdclient.CheckDownPeer, pdclient.CheckPendingPeer} {
		regions, err := s.pd.CheckRegions(ctx, kind)
		if err != nil {
			return nil, err
		}
		sub := make([]subject.Region, 0, len(regions))
		for _, r := range regions {
			sr, err := r.Subject()
			if err != nil {
				return nil, err
			}
			sub = append(sub, sr)
		}
		out = append(out, judgePeers(string(kind), sub)...)
	}
	return out, nil
}

// StoreOf returns the store a per-store alert is about, read from its
// "store" label; false for an alert that is not about one store.
func StoreOf(a invariant.Alert) (subject.StoreID, bool) {
	id, err := strconv.ParseUint(a.Labels["store"], 10, 64)
	if err != nil || id == 0 {
		return 0, false
	}
	return subject.StoreID(id), true
}
