// Package tikv implements subject.Subject for TiKV clusters: it observes a
// cluster through PD's HTTP API (package pdclient), TiKV's metrics in
// Prometheus (package promclient) and, optionally, the logs of TiKV and PD
// (a [LogSource]), judges it with invariants for an invariant.Evaluator,
// and acts on it through PD.
//
// # Observing
//
// [New] composes the clients; [Subject.Stores], [Subject.ClusterMetrics],
// [Subject.HotWriteRegions] and [Subject.HotReadRegions] read PD (never by
// scanning every region); [Subject.StoreMetrics] and
// [Subject.AllStoreMetrics] read Prometheus, matching a store's series by
// its status address, all stores in a constant number of queries;
// [Subject.LeadershipChanges] reads the log source: a log file that may be
// rotated ([NewFileLogSource]), a Docker container (package tikv/dockerlog,
// which tikv does not import, so that importing tikv does not pull in the
// Docker client), or several at once ([MergeLogs]).
//
// # Judging
//
// [Subject.Invariants] returns the invariants (store health, p99 write
// latency, disk usage, PD's low-space ratio, CPU, down and pending peers,
// leader balance, restarts), keyed per store where it makes sense, with
// the thresholds and grace periods of [Config.Thresholds]. A reading that
// is missing is an unknown finding, which keeps that key's state: missing
// data neither fires nor resolves anything.
//
// Store health knows a real PD's habit, recorded from a three-member PD
// whose leader was killed: for a few seconds after a PD leader change, the
// new leader reports every store Disconnected with every size at 0B, until
// the stores' heartbeats reach it. The subject notices the leader change
// (or that signature) and holds its judgement of those stores until they
// report, for at most [Thresholds].LeaderChangeHold; a store that really
// stops at any other time fires at once, and PD's 0B is never read as a
// full disk.
//
// # Acting
//
// Every action checks its arguments and preconditions first and refuses,
// changing nothing, with a *subject.ActionError of phase refused matching
// subject.ErrNotFound, subject.ErrPrecondition or subject.ErrInvalid. Then
// it asks PD once (never twice) and waits, bounded by [ActionTimeouts] and
// the context, until PD shows the effect. It follows its own operator in
// PD, told apart from a scheduler's on the same region, and returns within
// one [ActionConfig].PollInterval of PD ending it: with subject.ErrActionFailed
// and PD's status (TIMEOUT, CANCEL, REPLACE) when PD ended it without the
// effect, with subject.ErrUnconfirmed when the bound ended or the answer
// was lost. With [Config].DryRun, or subject.WithDryRun for one call, it
// reports what it would do instead. While it waits, it hands what each
// poll read (leaders or regions left, PD's operator status, the time
// against the bound) to the progress function of subject.WithProgress,
// and a wait that ends without its effect carries the last progress in
// its *subject.ActionError; the progress costs no request beyond the
// polls listed below. [Subject.PrepareRestart] and
// [Subject.FinishRestart] restart a store safely and resume after a crash;
// [Subject.CheckStable] is the stability gate a guard calls. Every action
// is logged before and after through the configured slog.Logger.
// [Subject.Capabilities] describes them all as JSON for AI agents' tool
// calling.
//
// # What each invariant and action reads
//
// So that a double of PD or Prometheus knows what to serve (package
// tikvtest serves all of it), here is every request each one makes. PD
// paths are under /pd/api/v1; "the stores" is GET
// /stores?state=0&state=1&state=2, "the evict list" is GET
// /scheduler-config/evict-leader-scheduler/list (a 404 there means no
// store is evicted), "the evictions" are GET /schedulers, then GET
// /scheduler-config/{name}/list of each evicting scheduler that runs
// (evict-leader, and PD's own evict-slow-store, evict-slow-trend and
// evict-stopping-store), "halt" is GET /config/schedule
// (halt-scheduling), "the operator" is GET /operators/{region_id}.
//
// Invariants ([Subject.Invariants]); the checks of one evaluation share
// their reads (see there):
//
//   - store_health: the stores; GET /leader only when some store is
//     unreported (Disconnected with every size 0B, as just after a PD leader
//     change).
//   - pd_low_space: the stores (capacity, available) and GET
//     /config/schedule (low-space-ratio), the latter once per
//     [ScheduleConfigMaxAge] of evaluation time.
//   - region_peers: GET /regions/check/down-peer; GET
//     /regions/check/pending-peer only when a store counts pending peers or
//     the stores could not be read.
//   - leader_imbalance: the stores (state, leader_count); only when their
//     counts show an imbalance, GET /schedulers, then GET
//     /scheduler-config/{name}/list of each evicting scheduler that runs
//     (evict-leader, evict-slow-store, evict-slow-trend,
//     evict-stopping-store), to leave out the stores they evict.
//   - write_latency_p99, disk_usage, cpu_usage, store_restart (not built
//     with Config.DisableMetrics): the stores, then one reading of
//     Prometheus shared by the four: POST /api/v1/query once per metric
//     family of promclient's queries (promclient.DefaultQueries: ten
//     instant queries, whatever the number of stores), matched to stores
//     by instance = PD's status_address. Each judges its own families:
//     write_latency_p99 tikv_storage_engine_async_request_duration_seconds
//     (type="write"; NaN, a store that served no write, holds: see
//     [Thresholds.WriteLatencyState]); disk_usage tikv_store_size_bytes (type="capacity",
//     "available"); cpu_usage process_cpu_seconds_total (job=~".*tikv")
//     and tikv_server_cpu_cores_quota; store_restart
//     changes(process_start_time_seconds{job=~".*tikv"}[5m]).
//
// Actions (a dry run makes the reads that come before the request, then
// stops: it sends nothing and polls nothing):
//
//   - [Subject.TransferLeader]: GET /region/id/{id}, GET /store/{to}, the
//     evictions, the operator; POST /operators (transfer-leader); then
//     GET /region/id/{id} and the operator each poll; DELETE
//     /operators/{region_id} when the bound ends with the operator pending
//     (unless Config.Actions.KeepPendingOperators).
//   - [Subject.SplitRegion], [Subject.SplitRegionWith]: GET
//     /region/id/{id}, the operator; POST /operators (split-region); then
//     GET /region/id/{id} and the operator each poll, DELETE as above;
//     after the split, GET /regions/key?key=&end_key=&format=hex&limit=
//     over the old range for the result's regions.
//   - [Subject.DrainStore]: GET /store/{id}, the stores, GET
//     /config/replicate, halt; DELETE /store/{id}; then GET /store/{id} each
//     poll, and GET /regions/store/{id} for the regions left.
//   - [Subject.UndrainStore]: GET /store/{id}, halt; POST
//     /store/{id}/state?state=Up; then GET /store/{id} each poll.
//   - [Subject.EvictLeaders]: GET /store/{id}, the evictions, the stores
//     (unless already evicted), halt; POST /schedulers
//     (evict-leader-scheduler; not when any scheduler evicts it already);
//     then GET /store/{id} each poll, and GET /regions/store/{id} for the
//     leaders left when the bound ends (not when the context ended).
//   - [Subject.RestoreLeaders]: GET /store/{id}, the evictions, halt; DELETE
//     /schedulers/evict-leader-scheduler-{id}; then the evict list and GET
//     /store/{id} each poll.
//   - [Subject.SetScheduleLimit], [Subject.SetLowSpaceThreshold]: GET
//     /config/schedule; POST /config; then GET /config/schedule each poll.
//   - [Subject.CheckStable]: GET /leader, the stores, halt, GET
//     /regions/check/down-peer, GET /regions/check/miss-peer.
//   - [Subject.PrepareRestart]: what CheckStable reads, then what
//     EvictLeaders reads and sends.
//   - [Subject.FinishRestart]: GET /store/{id}, the evictions, halt; GET
//     /store/{id} each poll (state, start_timestamp); DELETE
//     /schedulers/evict-leader-scheduler-{id} when the eviction is its
//     own; the evictions (and each poll while PD's evict-stopping-store
//     still lists the store); then the stores each poll.
//   - [Subject.ReconcileEvictions]: the evictions; DELETE
//     /schedulers/evict-leader-scheduler-{id} per store the ledger lists
//     and PD still evicts.
//
// Observers: [Subject.Stores] the stores; [Subject.ClusterID] GET /cluster;
// [Subject.ClusterMetrics] the stores and GET /regions/count;
// [Subject.HotWriteRegions], [Subject.HotReadRegions] GET
// /hotspot/regions/write, /hotspot/regions/read; [Subject.Region] GET
// /region/id/{id}; [Subject.StoreRegions] GET /store/{id}, GET
// /regions/store/{id}?limit=; [Subject.RangeRegions] GET
// /regions/key?key=&end_key=&format=hex&limit=; [Subject.EvictedStores],
// [Subject.Evictions] the evictions; [Subject.ScheduleState] halt, the
// evictions and GET /pd/api/v2/maintenance; [Subject.MaintenanceTasks] GET
// /pd/api/v2/maintenance; [Subject.StoreMetrics] GET /store/{id} and one
// Prometheus query per family with the store's instance;
// [Subject.AllStoreMetrics] the stores and one query per family.
//
// The maintenance lock (a guard's, see subject/guard.MaintenanceLock):
// [Subject.AcquireMaintenance] PUT /pd/api/v2/maintenance/{type}/{id},
// [Subject.ReleaseMaintenance] DELETE /pd/api/v2/maintenance/{type}/{id}.
package tikv
