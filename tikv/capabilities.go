package tikv

import (
	"slices"
	"strings"

	"github.com/kvops/operator/subject"
	"github.com/kvops/operator/subject/tools"
)

var (
	paramRegion = subject.ParamSpec{Name: "region_id", Type: "integer", Required: true, Description: "The region's id, as PD numbers it."}
	paramStore  = subject.ParamSpec{Name: "store_id", Type: "integer", Required: true, Description: "The store's id, as PD numbers it."}
)

// Capabilities describes what the subject observes and does, and the SLOs
// its thresholds judge it by. It marshals to JSON for AI agents'
// tool calling. It lists only what this subject can do: without
// Prometheus, no metric observations or metric SLOs; without a log source,
// no leadership changes; without an eviction ledger, no
// reconcile_evictions.
//
// The input and output schemas and the annotations of each observation
// and action are derived from the Go types ([tools.Describe]), and the
// SLOs are those of the invariants [Subject.Invariants] returns: the same
// names, descriptions, grace periods and severities.
func (s *Subject) Capabilities() subject.Capabilities {
	c := capabilities(s.th)
	c.Observations = slices.DeleteFunc(c.Observations, func(o subject.ObservationSpec) bool {
		return s.prom == nil && strings.HasSuffix(o.Name, "store_metrics") || s.logs == nil && o.Name == "leadership_changes"
	})
	c.Actions = slices.DeleteFunc(c.Actions, func(a subject.ActionSpec) bool {
		return s.acts.Ledger == nil && a.Name == "reconcile_evictions"
	})
	c.SLOs = s.slos()
	d, err := tools.Describe(c)
	if err == nil {
		d, err = s.describeTools(d)
	}
	if err != nil {
		// The schemas come from Go types fixed at build time: a failure is
		// a bug, caught by the tests; the names and descriptions stand.
		s.log.Error("tikv: describing capabilities", "error", err)
		return c
	}
	return d
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
			{Name: "evicted_stores", Result: "[]subject.Eviction", Description: "The stores whose leaders PD keeps off them, one entry per store and scheduler, with who made each when known: \"operator\" for an evict-leader eviction this operator's eviction ledger lists (prepare_restart's), \"cluster\" for PD's own (evict-slow-store for a store PD judges slow, evict-stopping-store for a TiKV that is stopping), which PD lifts by itself and nobody else removes; empty when unknown (evict_leaders, pd-ctl, another operator)."},
			{Name: "schedule_state", Result: "tikv.ScheduleState", Description: "What PD's own automation is doing: whether halt-scheduling (PD's kill switch) is on, under which PD runs no scheduler or checker and evict, restore, drain, undrain and the restarts are refused; the schedulers that run; the evictions; and the task holding PD's maintenance lock (one maintenance task at a time for the whole cluster, shared with tiup and TiDB Operator), if PD has the lock."},
			{Name: "leadership_changes", Result: "[]subject.LeadershipChange", Params: []subject.ParamSpec{{Name: "since", Type: "string", Required: true, Description: "RFC 3339 time to read logs from."}}, Description: "Region leadership changes read from TiKV and PD logs, oldest first."},
		},
		Actions: []subject.ActionSpec{
			{Name: "transfer_leader", Params: []subject.ParamSpec{paramRegion, {Name: "to_store_id", Type: "integer", Required: true, Description: "An Up store that holds a voter of the region and whose leaders are not evicted."}},
				Description: "Moves a region's leadership to its voter on another store and waits (bounded, 90s by default) until PD shows the new leader. Refused when the region has an operator pending. Ends within one poll of PD ending the operator: failed with PD's status (TIMEOUT, CANCEL, REPLACE) or unconfirmed when the bound ends (a pending operator is cancelled)."},
			{Name: "split_region", Params: []subject.ParamSpec{paramRegion},
				Description: "Splits a region at its approximate middle and waits (bounded, 90s by default) until PD shows the split; returns the regions covering its former range. Refused when the region has an operator pending. Failed with PD's status when PD ends the split unsplit; unconfirmed when the bound ends (a pending split is cancelled)."},
			{Name: "drain_store", Params: []subject.ParamSpec{paramStore}, Undo: "undrain_store",
				Description: "Sets a store Offline and returns once PD shows it Offline, with the regions still on it: PD then moves them to other stores (this can take hours) and removes the store. Refused when the other Up stores cannot hold every replica."},
			{Name: "undrain_store", Params: []subject.ParamSpec{paramStore},
				Description: "Cancels a drain that has not finished; waits until PD no longer shows the store Offline."},
			{Name: "evict_leaders", Params: []subject.ParamSpec{paramStore}, Undo: "restore_leaders",
				Description: "Moves every leader off a store and keeps them off (PD's evict-leader scheduler); waits (bounded, 10m by default) until the store leads none, or says how many are left. Refused when the store is not Up or when fewer than the configured number (two by default) of other Up stores, not evicted, would be left to lead. Idempotent."},
			{Name: "restore_leaders", Params: []subject.ParamSpec{paramStore},
				Description: "Lets a store lead regions again after evict_leaders; waits until the scheduler no longer lists it and the store leads regions again. Nothing to do when its leaders are not evicted. Idempotent."},
			{Name: "set_schedule_limit", Params: []subject.ParamSpec{
				{Name: "kind", Type: "string", Required: true, Enum: []string{"leader", "region", "replica"}, Description: "Which of PD's schedule limits to set."},
				{Name: "limit", Type: "integer", Required: true, Description: "Concurrent scheduling tasks of that kind, 0 to 2^53 (PD's defaults: leader 4, region 2048, replica 64); 0 pauses them."},
			}, Description: "Sets PD's leader-, region- or replica-schedule-limit and reads PD's configuration back until it shows the new value."},
			{Name: "set_low_space_threshold", Params: []subject.ParamSpec{
				{Name: "percent", Type: "number", Required: true, Description: "Disk usage in percent above which PD stops moving data to a store; must be above PD's high-space ratio."},
			}, Description: "Sets PD's low-space-ratio and reads PD's configuration back until it shows the new value."},
			{Name: "prepare_restart", Params: []subject.ParamSpec{paramStore}, Undo: "finish_restart",
				Description: "Makes a store ready to restart: refuses unless the cluster is stable (every other store Up, PD has a leader, no region with a down or missing peer), evicts the store's leaders (recording the eviction in the ledger, if configured) and waits until it leads none. Resumable: call it again after a crash or an unconfirmed end."},
			{Name: "finish_restart", Params: []subject.ParamSpec{paramStore},
				Description: "After a store's restart: waits until it is Up and heartbeating, removes the eviction prepare_restart made (never one the ledger does not list), and waits until the store leads half the mean leader count of the Up stores. Resumable."},
			{Name: "reconcile_evictions",
				Description: "Removes the evict-leader schedulers this library left behind (the stores its ledger lists that PD still evicts), and never touches the ones it did not create. Listed only when the subject has an eviction ledger."},
		},
	}
}
