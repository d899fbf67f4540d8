package tikv

import (
	"slices"
	"strings"

	"github.com/kvops/operator/subject"
)

var (
	paramRegion = subject.ParamSpec{Name: "region_id", Type: "integer", Required: true, Description: "The region's id, as PD numbers it."}
	paramStore  = subject.ParamSpec{Name: "store_id", Type: "integer", Required: true, Description: "The store's id, as PD numbers it."}
)

// Capabilities describes what the subject observes and does, and the SLOs
// its thresholds judge it by. It marshals to JSON for AI agents'
// tool calling. It lists only what this subject can do: without
// Prometheus, no metric observations or metric SLOs; without a log source,
// no leadership changes.
//
// The input and output schemas and the annotations of each observation
// and action are derived from the Go types ([subject.Describe]), and the
// SLOs are those of the invariants [Subject.Invariants] returns: the same
// names, descriptions, grace periods and severities.
func (s *Subject) Capabilities() subject.Capabilities {
	c := capabilities(s.th)
	c.Observations = slices.DeleteFunc(c.Observations, func(o subject.ObservationSpec) bool {
		return s.prom == nil && strings.HasSuffix(o.Name, "store_metrics") || s.logs == nil && o.Name == "leadership_changes"
	})
	c.SLOs = s.slos()
	if d, err := subject.Describe(c); err == nil {
		c = d
	} else {
		s.log.Error("tikv: describing capabilities", "error", err)
	}
	return c
}

// slos describes the invariants the subject evaluates, with the target
// and unit each one's threshold is in.
func (s *Subject) slos() []subject.SLOSpec {
	th := s.th
	targets := map[string]struct {
		target float64
		unit   string
	}{
		InvStoreHealth:     {0, "stores not Up"},
		InvWriteLatency:    {th.WriteLatencyP99.Seconds(), "seconds"},
		InvDiskUsage:       {th.DiskUsage, "fraction"},
		InvLowSpace:        {0, "stores above PD's low-space ratio"},
		InvCPUUsage:        {th.CPUUsage, "fraction"},
		InvRegionPeers:     {0, "regions with down or pending peers"},
		InvLeaderImbalance: {th.LeaderImbalance, "fraction above mean"},
		InvStoreRestart:    {0, "restarts in 5m"},
	}
	var out []subject.SLOSpec
	for _, inv := range s.Invariants() {
		t := targets[inv.Name]
		out = append(out, subject.SLOSpec{Name: inv.Name, Target: t.target, Unit: t.unit, Grace: inv.Grace,
			Severity: inv.Severity.String(), Description: inv.Description})
	}
	return out
}

func capabilities(th Thresholds) subject.Capabilities {
	return subject.Capabilities{
		Subject: "tikv",
		Observations: []subject.ObservationSpec{
			{Name: "stores", Result: "[]subject.Store", Description: "Every store PD knows, with state (Up, Disconnected, Down, Offline, Tombstone), disk sizes, leader and region counts and last heartbeat."},
			{Name: "hot_write_regions", Result: "[]subject.HotRegion", Description: "Regions PD's hot-spot statistics show as hot for writes, hottest first."},
			{Name: "hot_read_regions", Result: "[]subject.HotRegion", Description: "Regions PD's hot-spot statistics show as hot for reads, hottest first."},
			{Name: "store_metrics", Result: "subject.StoreMetrics", Params: []subject.ParamSpec{paramStore}, Description: "One store's p99 write and gRPC latency, disk, CPU, leader and region counts and restarts, from Prometheus. Missing readings are null."},
			{Name: "all_store_metrics", Result: "[]subject.StoreMetrics", Description: "The same metrics for every store, in a constant number of Prometheus queries."},
			{Name: "cluster_metrics", Result: "subject.ClusterMetrics", Description: "Stores by state, leaders and regions per store, region count and disk totals, from PD."},
			{Name: "region", Result: "subject.Region", Params: []subject.ParamSpec{paramRegion}, Description: "One region: its key range, epoch, peers, leader, approximate size and traffic, from PD."},
			{Name: "store_regions", Result: "[]subject.Region", Description: "The regions with a peer on a store, at most limit (1 to 1000) of them, from PD."},
			{Name: "range_regions", Result: "[]subject.Region", Description: "The regions of a key range (hex keys, as PD shows them) in key order, at most limit (1 to 1000) of them, from PD."},
			{Name: "leadership_changes", Result: "[]subject.LeadershipChange", Params: []subject.ParamSpec{{Name: "since", Type: "string", Required: true, Description: "RFC 3339 time to read logs from."}}, Description: "Region leadership changes read from TiKV and PD logs, oldest first."},
		},
		Actions: []subject.ActionSpec{
			{Name: "transfer_leader", Params: []subject.ParamSpec{paramRegion, {Name: "to_store_id", Type: "integer", Required: true, Description: "An Up store that holds a voter of the region."}},
				Description: "Moves a region's leadership to its voter on another store, and waits until PD shows the new leader."},
			{Name: "split_region", Params: []subject.ParamSpec{paramRegion},
				Description: "Splits a region at its approximate middle; returns the regions covering its former range."},
			{Name: "drain_store", Params: []subject.ParamSpec{paramStore}, Undo: "undrain_store",
				Description: "Sets a store Offline: PD moves its regions to other stores, then removes it. Refused when the other Up stores cannot hold every replica."},
			{Name: "undrain_store", Params: []subject.ParamSpec{paramStore},
				Description: "Cancels a drain that has not finished: the store returns to Up."},
			{Name: "evict_leaders", Params: []subject.ParamSpec{paramStore}, Undo: "restore_leaders",
				Description: "Moves every leader off a store and keeps them off (PD's evict-leader scheduler). Idempotent."},
			{Name: "restore_leaders", Params: []subject.ParamSpec{paramStore},
				Description: "Lets a store lead regions again after evict_leaders. Idempotent."},
			{Name: "set_schedule_limit", Params: []subject.ParamSpec{
				{Name: "kind", Type: "string", Required: true, Enum: []string{"leader", "region", "replica"}, Description: "Which of PD's schedule limits to set."},
				{Name: "limit", Type: "integer", Required: true, Description: "Concurrent scheduling tasks of that kind, 0 to 1024; 0 pauses them."},
			}, Description: "Sets PD's leader-, region- or replica-schedule-limit."},
			{Name: "set_low_space_threshold", Params: []subject.ParamSpec{
				{Name: "percent", Type: "number", Required: true, Description: "Disk usage in percent above which PD stops moving data to a store; must be above PD's high-space ratio."},
			}, Description: "Sets PD's low-space-ratio."},
		},
	}
}
