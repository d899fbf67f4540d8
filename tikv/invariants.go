package tikv

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/kvops/operator/invariant"
	"github.com/kvops/operator/pdclient"
	"github.com/kvops/operator/promclient"
	"github.com/kvops/operator/subject"
)

// Thresholds sets when the TiKV invariants count a violation. Grace
// periods are how long a violation must last before it fires.
//
// Every zero field takes its default, field by field: Thresholds{DiskUsage:
// 0.8} changes the disk threshold and nothing else. A field cannot be set
// to zero where its default is not zero: for a grace that fires at the
// first look after the violation began, set one evaluation interval. New
// refuses negative durations, fractions outside their range and NaN, with
// an error matching subject.ErrInvalid that names the field.
type Thresholds struct {
	// StoreHealthGrace is how long a store may be not Up before it fires
	// (default 0: at once).
	StoreHealthGrace time.Duration
	// LeaderChangeHold is the longest store health waits, after a PD
	// leader change, for a store's heartbeat to reach the new leader
	// (default 30s; PD's stores heartbeat every 10s).
	LeaderChangeHold time.Duration

	// WriteLatencyP99 is the highest acceptable p99 write latency (default
	// 100ms). It is a time.Duration: write 100 * time.Millisecond, not
	// 100 (which is 100 ns). New refuses a latency below
	// MinWriteLatencyP99.
	WriteLatencyP99 time.Duration
	// WriteLatencyGrace is how long the latency may stay above it (default
	// 60s).
	WriteLatencyGrace time.Duration

	// DiskUsage is the highest acceptable fraction of a disk in use, in
	// (0, 1] (default 0.70).
	DiskUsage float64
	// DiskGrace is how long a disk may stay above it (default 5m).
	DiskGrace time.Duration

	// CPUUsage is the highest acceptable fraction of a store's CPU quota,
	// in (0, 1] (default 0.70).
	CPUUsage float64
	// CPUGrace is how long a store may stay above it (default 2m).
	CPUGrace time.Duration

	// LeaderImbalance is how far above the mean the busiest Up store's
	// leader count may be, as a fraction of the mean (default 0.25, i.e.
	// 25 %).
	LeaderImbalance float64
	// LeaderImbalanceMinGap is how many more leaders than the least busy
	// store the busiest must hold before it counts (default 10; 1 counts
	// any gap).
	LeaderImbalanceMinGap int
	// LeaderImbalanceGrace is how long the imbalance may last (default
	// 10m).
	LeaderImbalanceGrace time.Duration

	// PeerGrace is how long regions may have down or pending peers
	// (default 1m).
	PeerGrace time.Duration
	// LowSpaceGrace is how long a store may be above PD's low-space ratio
	// (default 1m).
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

// MinWriteLatencyP99 is the lowest Thresholds.WriteLatencyP99 New
// accepts: 100µs. A TiKV write is a raft log append replicated to a
// quorum, and its p99 stays well above that even on local NVMe, so a lower
// threshold would fire on every healthy store: it is almost always a
// number written without its unit (WriteLatencyP99: 100 is 100 ns).
const MinWriteLatencyP99 = 100 * time.Microsecond

// DefaultThresholds returns the thresholds TiKV's own alert rules and
// dashboards suggest: the default of every field of Thresholds.
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

// withDefaults returns th with every zero field set to its default.
func (th Thresholds) withDefaults() Thresholds {
	d := DefaultThresholds()
	return Thresholds{
		StoreHealthGrace:      cmp.Or(th.StoreHealthGrace, d.StoreHealthGrace),
		LeaderChangeHold:      cmp.Or(th.LeaderChangeHold, d.LeaderChangeHold),
		WriteLatencyP99:       cmp.Or(th.WriteLatencyP99, d.WriteLatencyP99),
		WriteLatencyGrace:     cmp.Or(th.WriteLatencyGrace, d.WriteLatencyGrace),
		DiskUsage:             cmp.Or(th.DiskUsage, d.DiskUsage),
		DiskGrace:             cmp.Or(th.DiskGrace, d.DiskGrace),
		CPUUsage:              cmp.Or(th.CPUUsage, d.CPUUsage),
		CPUGrace:              cmp.Or(th.CPUGrace, d.CPUGrace),
		LeaderImbalance:       cmp.Or(th.LeaderImbalance, d.LeaderImbalance),
		LeaderImbalanceMinGap: cmp.Or(th.LeaderImbalanceMinGap, d.LeaderImbalanceMinGap),
		LeaderImbalanceGrace:  cmp.Or(th.LeaderImbalanceGrace, d.LeaderImbalanceGrace),
		PeerGrace:             cmp.Or(th.PeerGrace, d.PeerGrace),
		LowSpaceGrace:         cmp.Or(th.LowSpaceGrace, d.LowSpaceGrace),
		RestartHold:           cmp.Or(th.RestartHold, d.RestartHold),
		StoreStartGrace:       cmp.Or(th.StoreStartGrace, d.StoreStartGrace),
	}
}

// validate refuses values that make no sense, naming the field.
func (th Thresholds) validate() error {
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"StoreHealthGrace", th.StoreHealthGrace}, {"LeaderChangeHold", th.LeaderChangeHold},
		{"WriteLatencyP99", th.WriteLatencyP99}, {"WriteLatencyGrace", th.WriteLatencyGrace},
		{"DiskGrace", th.DiskGrace}, {"CPUGrace", th.CPUGrace}, {"LeaderImbalanceGrace", th.LeaderImbalanceGrace},
		{"PeerGrace", th.PeerGrace}, {"LowSpaceGrace", th.LowSpaceGrace}, {"RestartHold", th.RestartHold},
		{"StoreStartGrace", th.StoreStartGrace},
	} {
		if d.v < 0 {
			return fmt.Errorf("tikv: Thresholds.%s %v is negative: %w", d.name, d.v, subject.ErrInvalid)
		}
	}
	if th.WriteLatencyP99 < MinWriteLatencyP99 {
		return fmt.Errorf("tikv: Thresholds.WriteLatencyP99 %v is below the floor of %v (a time.Duration: 100 means 100ns, write 100 * time.Millisecond): %w",
			th.WriteLatencyP99, MinWriteLatencyP99, subject.ErrInvalid)
	}
	for _, f := range []struct {
		name string
		v    float64
	}{{"DiskUsage", th.DiskUsage}, {"CPUUsage", th.CPUUsage}} {
		if !(f.v > 0 && f.v <= 1) {
			return fmt.Errorf("tikv: Thresholds.%s %v is not a fraction in (0, 1]: %w", f.name, f.v, subject.ErrInvalid)
		}
	}
	if !(th.LeaderImbalance >= 0) || math.IsInf(th.LeaderImbalance, 1) {
		return fmt.Errorf("tikv: Thresholds.LeaderImbalance %v is not a finite fraction of at least 0: %w", th.LeaderImbalance, subject.ErrInvalid)
	}
	if th.LeaderImbalanceMinGap < 0 {
		return fmt.Errorf("tikv: Thresholds.LeaderImbalanceMinGap %d is negative: %w", th.LeaderImbalanceMinGap, subject.ErrInvalid)
	}
	return nil
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
// subject's thresholds (Config.Thresholds), for an invariant.Evaluator.
// Per-store invariants are keyed "store=N". Readings that are missing (a
// store with no series in Prometheus, a store PD has no sizes for) are
// reported as unknown findings, so that missing data neither fires nor
// resolves anything. The checks judge time by the evaluation time the
// evaluator passes them, not by Config.Clock.
//
// The checks of one evaluation share their reads: the checks called with
// the same evaluation time read PD's stores once and ask Prometheus once
// per metric family, whatever the number of invariants that use them and
// whether they run at once or one after the other; a check that gives up
// (its context ends) does not end the read for the others. A failed shared
// read fails every check that needs it, each naming what it needed: the
// metric checks say "tikv: cpu_usage (metric families cpu, cpu_quota):
// reading store metrics: ...". Call Invariants once per evaluator: each
// call's invariants share only among themselves. A healthy cluster's
// evaluation costs at most three PD requests, whatever its size: the
// stores, the down-peer regions, and the schedule configuration once per
// ScheduleConfigMaxAge; the pending-peer regions, the PD leader and the
// lists of the schedulers that evict leaders are read only when the stores
// show a reason to (a pending peer, an unreported store, leaders spread
// unevenly).
func (s *Subject) Invariants() []invariant.Invariant {
	th := s.th
	stores := newShared(s.bg, func(ctx context.Context, _ time.Time) ([]subject.Store, error) { return s.Stores(ctx) })
	config := &configCache{read: s.pd.ScheduleConfig}
	metrics := newShared(s.bg, func(ctx context.Context, now time.Time) ([]subject.StoreMetrics, error) {
		st, err := stores.get(ctx, now)
		if err != nil {
			return nil, fmt.Errorf("reading store metrics: %w", err)
		}
		m, err := s.allStoreMetrics(ctx, st)
		if err != nil {
			return m, fmt.Errorf("reading store metrics: %w", err)
		}
		return m, nil
	})
	metricCheck := func(name string, families []promclient.Metric, judge func([]subject.StoreMetrics) []invariant.Finding) invariant.Check {
		return func(ctx context.Context, now time.Time) ([]invariant.Finding, error) {
			m, err := metrics.get(ctx, now)
			if err != nil && m == nil {
				// The reading is shared by every metric check: say
				// which families this one needed.
				return nil, fmt.Errorf("tikv: %s (metric families %s): %w", name, joinMetrics(families), err)
			}
			// A partial answer (one metric family failed) still judges
			// what it has: the failed family reads as unknown.
			return judge(m), nil
		}
	}
	metric := func(name string, families []promclient.Metric, r metricRule) invariant.Check {
		return metricCheck(name, families, func(m []subject.StoreMetrics) []invariant.Finding { return judgeMetric(m, r) })
	}
	invs := []invariant.Invariant{
		{
			Name:        InvStoreHealth,
			Description: "Every store that is not a tombstone is Up. After a PD leader change, judgement of stores the new leader has not heard from yet is held; so is judgement of a store that registered but has not sent its first heartbeat, for StoreStartGrace.",
			Severity:    invariant.SeverityCritical,
			Grace:       th.StoreHealthGrace,
			Check: func(ctx context.Context, now time.Time) ([]invariant.Finding, error) {
				return s.checkStoreHealth(ctx, now, stores)
			},
		},
		{
			Name:        InvWriteLatency,
			Description: fmt.Sprintf("Each store's p99 write latency stays at or below %s. A store that served no write in the rate window (one that leads no region, its leaders evicted) holds: see Thresholds.WriteLatencyState.", th.WriteLatencyP99),
			Severity:    invariant.SeverityWarning,
			Grace:       th.WriteLatencyGrace,
			Check: metricCheck(InvWriteLatency, []promclient.Metric{promclient.WriteLatencyP99}, func(m []subject.StoreMetrics) []invariant.Finding {
				return judgeWriteLatency(m, th)
			}),
		},
		{
			Name:        InvDiskUsage,
			Description: fmt.Sprintf("Each store's disk is at most %s full.", formatPercent(th.DiskUsage)),
			Severity:    invariant.SeverityWarning,
			Grace:       th.DiskGrace,
			Check: metric(InvDiskUsage, []promclient.Metric{promclient.DiskCapacity, promclient.DiskAvailable}, metricRule{what: "disk usage", threshold: th.DiskUsage,
				read: subject.StoreMetrics.DiskUsage, format: formatPercent}),
		},
		{
			Name:        InvLowSpace,
			Description: "No store's disk, as PD sees it, is at or above PD's low-space ratio (where PD stops moving data to it).",
			Severity:    invariant.SeverityWarning,
			Grace:       th.LowSpaceGrace,
			Check: func(ctx context.Context, now time.Time) ([]invariant.Finding, error) {
				return s.checkLowSpace(ctx, now, stores, config)
			},
		},
		{
			Name:        InvCPUUsage,
			Description: fmt.Sprintf("Each store uses at most %s of its CPU quota.", formatPercent(th.CPUUsage)),
			Severity:    invariant.SeverityWarning,
			Grace:       th.CPUGrace,
			Check: metric(InvCPUUsage, []promclient.Metric{promclient.CPU, promclient.CPUQuota}, metricRule{what: "CPU usage", threshold: th.CPUUsage,
				read: subject.StoreMetrics.CPUUsage, format: formatPercent}),
		},
		{
			Name:        InvRegionPeers,
			Description: "No region has down or pending peers (PD's region checks).",
			Severity:    invariant.SeverityWarning,
			Grace:       th.PeerGrace,
			Check: func(ctx context.Context, now time.Time) ([]invariant.Finding, error) {
				return s.checkPeers(ctx, now, stores)
			},
		},
		{
			Name:        InvLeaderImbalance,
			Description: fmt.Sprintf("No Up store leads more than %s above the mean number of leaders. Stores whose leaders are evicted (PD's evict-leader, evict-slow-store, evict-slow-trend or evict-stopping-store scheduler) are left out.", formatPercent(th.LeaderImbalance)),
			Severity:    invariant.SeverityInfo,
			Grace:       th.LeaderImbalanceGrace,
			Check: func(ctx context.Context, now time.Time) ([]invariant.Finding, error) {
				return s.checkLeaderBalance(ctx, now, stores)
			},
		},
		{
			Name:          InvStoreRestart,
			Description:   "No store process restarted in the last 5 minutes.",
			Severity:      invariant.SeverityWarning,
			KeepFiringFor: th.RestartHold,
			Check: metric(InvStoreRestart, []promclient.Metric{promclient.Restarts}, metricRule{what: "restarts in the last 5m", threshold: 0,
				read: func(m subject.StoreMetrics) subject.Value { return m.Restarts }, format: formatCount}),
		},
	}
	if s.prom == nil {
		invs = slices.DeleteFunc(invs, func(inv invariant.Invariant) bool { return needsMetrics(inv.Name) })
	}
	return invs
}

func joinMetrics(ms []promclient.Metric) string {
	names := make([]string, len(ms))
	for i, m := range ms {
		names[i] = string(m)
	}
	return strings.Join(names, ", ")
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
func (s *Subject) checkStoreHealth(ctx context.Context, now time.Time, shared *shared[[]subject.Store]) ([]invariant.Finding, error) {
	stores, err := shared.get(ctx, now)
	if err != nil {
		return nil, err
	}
	// The leader's name tells a leader change apart; when it cannot be
	// read, the zero-size signature alone opens the window. It is read
	// only when a store is unreported, the only stores the window holds:
	// a store newly unreported opens the window by itself (see
	// leaderWindow.observe), so a change missed between two reads is not
	// missed by the window.
	leader := ""
	if anyUnreported(stores) {
		if m, err := s.pd.Leader(ctx); err == nil {
			leader = m.Name
		}
	}
	s.mu.Lock()
	hold := s.window.observe(now, leader, stores)
	s.starts.observe(now, stores)
	fs := judgeStoreHealth(stores, hold, &s.starts, now)
	s.mu.Unlock()
	return fs, nil
}

// checkLeaderBalance judges the spread of leaders over the Up stores whose
// leaders are not evicted. Leaving out a store that leads fewer than the
// mean (as an evicted store does once its leaders are gone) raises the
// mean and the least count, so it can end an imbalance but never make one:
// the evicting schedulers' lists are read only when the counts of every Up
// store show an imbalance, and a healthy cluster costs no request more.
// Only while an eviction is still moving leaders off a store that leads
// more than the mean can an imbalance among the others go unseen; it shows
// once the eviction is done.
func (s *Subject) checkLeaderBalance(ctx context.Context, now time.Time, shared *shared[[]subject.Store]) ([]invariant.Finding, error) {
	stores, err := shared.get(ctx, now)
	if err != nil {
		return nil, err
	}
	th := s.th
	fs := judgeLeaderBalance(stores, nil, th.LeaderImbalance, th.LeaderImbalanceMinGap)
	if !imbalanced(fs) {
		return fs, nil
	}
	evicted, err := s.leaderEvictions(ctx)
	if err != nil {
		return nil, fmt.Errorf("tikv: %s: reading the stores whose leaders are evicted: %w", InvLeaderImbalance, err)
	}
	return judgeLeaderBalance(stores, evicted, th.LeaderImbalance, th.LeaderImbalanceMinGap), nil
}

func (s *Subject) checkLowSpace(ctx context.Context, now time.Time, shared *shared[[]subject.Store], config *configCache) ([]invariant.Finding, error) {
	stores, err := shared.get(ctx, now)
	if err != nil {
		return nil, err
	}
	cfg, err := config.get(ctx, now)
	if err != nil {
		return nil, err
	}
	return judgeLowSpace(stores, cfg.LowSpaceRatio), nil
}

// checkPeers lists the regions PD's down-peer and pending-peer checks
// report. The pending-peer list is read only when some store counts a
// pending peer (see anyPending).
func (s *Subject) checkPeers(ctx context.Context, now time.Time, shared *shared[[]subject.Store]) ([]invariant.Finding, error) {
	// Without the stores, both lists are read: a failed read of the
	// stores must not hide pending peers.
	stores, err := shared.get(ctx, now)
	kinds := []pdclient.RegionCheck{pdclient.CheckDownPeer}
	if err != nil || anyPending(stores) {
		kinds = append(kinds, pdclient.CheckPendingPeer)
	}
	var out []invariant.Finding
	for _, kind := range kinds {
		regions, err := s.pd.CheckRegions(ctx, kind)
		if err != nil {
			return nil, err
		}
		sub := make([]subject.Region, 0, len(regions))
		for _, r := range regions {
			sr, err := regionFromPD(r)
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
// "store" label or, as TiKV's own metrics (and so alerts of Prometheus
// rules over them) spell it, its "store_id" label; false for an alert that
// is not about one store. Rule alerts that name a store by its instance
// need the stores: see StoreOfIn.
func StoreOf(a invariant.Alert) (subject.StoreID, bool) {
	for _, label := range []string{"store", "store_id"} {
		if id, err := strconv.ParseUint(a.Labels[label], 10, 64); err == nil && id != 0 {
			return subject.StoreID(id), true
		}
	}
	return 0, false
}

// StoreOfIn is StoreOf, and for an alert with neither label the store,
// among stores (as Subject.Stores returns them), whose status address is
// the alert's "instance" label: the address Prometheus scrapes a TiKV's
// metrics from, which alerts of Prometheus rules (package
// promclient/rules) carry. False when no store matches, as for PD's
// instances.
func StoreOfIn(a invariant.Alert, stores []subject.Store) (subject.StoreID, bool) {
	if id, ok := StoreOf(a); ok {
		return id, true
	}
	if inst := a.Labels["instance"]; inst != "" {
		for _, s := range stores {
			if s.StatusAddress == inst {
				return s.ID, true
			}
		}
	}
	return 0, false
}
