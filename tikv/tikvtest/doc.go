// Package tikvtest is a simulated TiKV cluster for the tests of programs
// built on this library, in the manner of net/http/httptest: a stateful
// double of PD's HTTP API, one Prometheus metrics endpoint per store, and
// per-store logs in the unified log format, all on real 127.0.0.1
// listeners.
//
// In a test:
//
//	c := tikvtest.NewCluster(t, tikvtest.Config{Stores: 5, Clock: fake})
//	sub, err := tikv.New(tikv.Config{
//		PD:    pdclient.Config{Endpoints: []string{c.PDURL()}},
//		Clock: c.Now,
//		Sleep: func(ctx context.Context, d time.Duration) error { c.Advance(d); return ctx.Err() },
//	})
//	...
//	c.StopStore(2)              // a dead TiKV
//	c.SetWriteLatency(3, 300*time.Millisecond) // a slow one
//	c.SetDiskUsage(4, 0.9)      // a full disk
//	c.PDLeaderChange()          // a PD leader election
//	c.Advance(30 * time.Second) // time moves only when the test says so
//
// The constructors have httptest's shape: [NewCluster] starts a cluster
// for a test and registers its Close with t.Cleanup, as httptest.NewServer
// starts a server; programs and Examples use [NewUnstartedCluster], then
// [Cluster.Start], and call [Cluster.Close] themselves, as with
// httptest.NewUnstartedServer. Both take a [Config] whose zero fields take
// their documented defaults. [Cluster.StartPrometheus] and
// [NewPrometheus] run a real Prometheus (the prometheus binary on PATH)
// scraping the stores and PD's members, for the metric invariants and
// rule files.
//
// Time only moves when the caller says so, through [Cluster.Tick] or
// [Cluster.Advance], so tests are deterministic; a demo can use
// [Cluster.Run] to tick on a real ticker.
//
// # PD endpoints
//
// The PD API follows the recordings of a real PD (v8.5.0) in testdata/pd,
// testdata/pd-cluster, testdata/pd-operators and testdata/realpd: the
// conformance test replays every recorded exchange against the simulator
// and compares status code, content type and JSON shape, so a change of
// shape fails it. Its behaviour follows a real PD too: the suite in
// tikvtest/conformance runs the same scenarios, every action of
// tikv.Subject and its PD-based invariants, against the simulator and
// against a real PD with pd-simulator's stores, and both must give the
// same outcome. Served, under /pd/api/v1, each with a recorded shape unless
// said otherwise:
//
//   - GET /ping, /health, /members, /leader, /version, /status, /cluster,
//     /cluster/status
//   - GET /config, /config/schedule, /config/replicate; POST /config
//     (leader-schedule-limit, region-schedule-limit, replica-schedule-limit,
//     low-space-ratio, high-space-ratio, max-store-down-time; unknown keys
//     and bad values answer as PD does)
//   - GET /stores (with ?state=), /stores/check?state=, /stores/limit,
//     /store/{id}; DELETE /store/{id}; POST /store/{id}/state,
//     /store/{id}/label, /store/{id}/weight
//   - GET /regions, /regions/count, /regions/key, /regions/store/{id},
//     /region/id/{id}, /regions/writeflow, /regions/check/down-peer,
//     /regions/check/pending-peer (always empty), /regions/check/miss-peer,
//     and /regions/check/offline-peer (not recorded: the region-list shape
//     of the other checks, since PD's server/api/region.go answers it
//     through the same getRegionsByType as down-peer and miss-peer)
//   - GET /hotspot/regions/write, /hotspot/regions/read, /hotspot/stores
//   - GET /operators (with ?kind=), /operators/records, /operators/{region};
//     POST /operators (transfer-leader, split-region; other names are
//     refused as PD refuses them); DELETE /operators/{region}
//   - GET /schedulers; POST /schedulers (evict-leader-scheduler);
//     DELETE /schedulers/{name};
//     GET /scheduler-config/evict-leader-scheduler/list,
//     /scheduler-config/evict-slow-store-scheduler/list and
//     /scheduler-config/evict-stopping-store-scheduler/list (PD's own
//     evicting schedulers: see [Cluster.SetSlowStoreEvicted] and
//     [Cluster.SetStoppingStoreEvicted])
//   - POST /config {"halt-scheduling":"true"} (PD's kill switch: see below),
//     shown in GET /config/schedule only while on
//   - PD's maintenance lock, API v2 (RFC-0118): PUT, GET and DELETE
//     /pd/api/v2/maintenance/{type}/{id}, GET /pd/api/v2/maintenance and
//     /pd/api/v2/maintenance/{type}, with the recorded shapes: one task at
//     a time for the whole cluster, 409 with existing_task for any second
//     PUT (not re-entrant) and for a DELETE with another id, 404 for
//     another type, no expiry. [Cluster.SetMaintenanceEndpoint] makes it
//     answer as a PD older than the lock (its router's plain-text 404).
//
// Any other path answers 404 (under /pd/api/v2, gin's plain-text one). The
// PD gRPC API is not served.
//
// What is modelled:
//
//   - Stores heartbeat every 10 s, each with its own phase. A stopped store
//     stops heartbeating: PD reports it Disconnected 20 s after its last
//     heartbeat and Down after max-store-down-time (settable through
//     POST /config), as PD does. Leaders of a stopped store move to other
//     voters on the next tick when a majority of the region's voters runs;
//     a region that lost its majority elects no one, and PD keeps showing
//     the last leader it heard of. A store's peers show up as down peers,
//     reported by regions whose leader runs, once it has been stopped for
//     max-store-down-time. With [Config.Fresh] the cluster starts as a new
//     one does: every store registered and listed Down, with no heartbeat,
//     until its first heartbeat within 10 s.
//
//   - A PD leader change ([Cluster.PDLeaderChange]) leaves PD without a
//     leader for [Config.PDElection] (12 s by default): every request but
//     PD's local ones is answered 500 [PD:apiutil:ErrRedirect], as the real
//     followers answer. Then the new leader shows every store with "0B"
//     sizes, and Up, Disconnected or Down by the last heartbeat PD wrote
//     to its storage (it writes one every 5 minutes), until that store's
//     next heartbeat reaches it (testdata/realpd, pd-cluster).
//
//   - Operators (transfer-leader, split-region) complete on the next tick,
//     unless [Cluster.FailOperators] says otherwise: they then time out
//     after PD's one minute (TIMEOUT), are cancelled (CANCEL) or are
//     replaced by a balance-leader operator (REPLACE); with
//     [Config.NoSplits] no split ever executes, as with pd-simulator. A
//     transfer whose target's or leader's store does not run stays RUNNING
//     until it times out, or is cancelled as stale once its target store
//     is Down, as PD's operator controller does; PD accepts a transfer to
//     any store it sees Up, running or not. An operator whose region's
//     membership (conf_ver) changes under it, as a drain moves a peer, is
//     cancelled at the next tick, as PD's checkStaleOperator does at the
//     region's next heartbeat. GET /operators/{region_id}
//     shows the region's latest operator, whoever made it, as the real PD
//     does; a second operator on a region with one pending is refused with
//     PD's ErrAddOperator. The evict-leader scheduler (and PD's own
//     evict-slow-store and evict-stopping-store) moves about ten leaders a
//     second off its stores at leader-schedule-limit 4 (the real PD: 7 to
//     10, scaled with the limit), except those
//     [Cluster.SetStuckLeaders] pins; balance-leader evens leader counts out
//     as PD's does (about ten leaders a second, stores within ten leaders
//     of each other left alone), so a restored store gets its leaders back
//     gradually. An Offline store's regions move away over ticks (a
//     learner is added, then promoted while the old peer is removed) until
//     it becomes Tombstone, and the drain can be cancelled with POST
//     /store/{id}/state?state=Up.
//
//   - halt-scheduling, PD's own kill switch, as recorded: while on, no
//     scheduler and no checker runs (evict-leader, PD's evict-slow-store
//     and evict-stopping-store, balance-leader and a drain's moves stop;
//     schedulers are still added), but admin operators are created and
//     run. PD's evict-stopping-store lets its store go at its first round
//     after the store was started again ([Cluster.StartStore]): the new
//     process no longer reports stopping.
//
//   - Each store's metrics endpoint serves the TiKV series the library reads
//     (write and gRPC latency histograms, store size, CPU, region counts,
//     process start time) from its own client_golang registry. Clients
//     send reads and writes to region leaders, so a store records requests
//     in proportion to the leaders it holds, and a store that leads no
//     region (its leaders evicted) records none: its write histogram stops
//     moving and Prometheus' p99 over it is NaN, as for a real TiKV. A stopped
//     store's endpoint refuses connections, like a dead TiKV, from the
//     moment StopStore returns, and keeps its port (no other socket can take
//     it) until the store starts again. The address of
//     the endpoint is the store's status_address in PD's answers, so
//     Prometheus' instance label matches PD's status_address. Scrape it with
//     a job name that contains "tikv": the library's CPU and restart queries
//     select job=~".*tikv".
//
//   - PD's own metrics: each of PD's three members serves, at an address of
//     its own ([Cluster.PDScrapeTargets]; job "pd"), the series PD's
//     official alert rules (pd.rules.yml) read, with the types and labels
//     of a real PD's /metrics (testdata/pd-metrics): the leader's
//     pd_cluster_status per store (up, disconnected, down, unhealthy,
//     offline, tombstone, low space, sizes and counts, as PD's statistics
//     count them) and pd_regions_status, every member's
//     etcd_server_is_leader, pd_tso_events (the leader's saves grow, so a
//     leader change shows), etcd's WAL fsync and peer round-trip
//     histograms, and process and quota gauges. GET /metrics on
//     [Cluster.PDURL] answers the leader's. Not served: TiDB's PD-client
//     histogram (pd_client_request_handle_requests_duration_seconds), which
//     no PD serves either.
//
//   - Regions write at a low background rate; [Cluster.SetWriteRate] makes
//     one hot (64 KiB/s and more), and it is then listed by
//     /hotspot/regions/write. written_bytes covers a 60 s heartbeat.
//
//   - PD has three members (pd1, pd2, pd3) served at one URL, so /members,
//     /leader and /health look like the recorded three-member cluster. That
//     URL is the started cluster's, or, when the caller serves PDHandler,
//     the one each request came in on, so that a client learning the
//     members comes back to the same server.
//
//   - Logs: each store writes raft role changes ("became leader at term N")
//     and lifecycle lines, PD writes "leader changed" and store lifecycle
//     lines, all in the unified log format (logparse.Entry values written
//     with logparse.AppendFormat, so logparse reads every line back as the
//     entry written); read them with [Cluster.StoreLog] and
//     [Cluster.PDLog], or from files in [Config.LogDir].
//
// # Metric tests
//
// A test of an operator driven by metrics (latency, disk) is deterministic
// and fast with a [History]: with [Config].RecordMetrics the cluster
// records, at its own time, what a Prometheus scraping it would store
// ([Cluster.History]), while the test drives time and faults; a test adds
// series of its own at given times with given values ([History.Add]);
// [NewBackfilledPrometheus] (or [BackfillPrometheus]) writes the history
// into a real Prometheus with promtool, and the operator queries it at any
// evaluation time (promclient.Config.Clock), nothing waiting for a scrape.
// See [ExampleHistory].
//
// # Replaying a recording
//
// [NewReplay] serves a recorded incident (package tikv/record) as PD's
// API at a replay clock that only moves forward ([Replay.SetTime],
// [Replay.Advance]): each request answered as PD answered it then (no
// answer at all where PD could not be reached), the regions rebuilt from
// the recorded reads, GET /stores and /store/{id} from the all-states
// answer, every write refused. [Replay.Handler] is a plain http.Handler,
// for a program of its own (examples/simpd -recording); [NewReplayServer]
// serves it for a test. [ReadHistory] reads the recording's series over a
// window for [BackfillPrometheus] ([NewReplayPrometheus] for a test).
// Package tikv/replay runs an operator against both.
//
// # Faults
//
// Faults are methods: stop a store ([Cluster.StopStore], and
// [Cluster.StartStore], [Cluster.RestartStore]), slow it
// ([Cluster.SetWriteLatency]), fill its disk ([Cluster.SetDiskUsage],
// [Cluster.ClearDiskUsage]), make a region hot ([Cluster.SetWriteRate]),
// change the PD leader ([Cluster.PDLeaderChange]), make PD end admin
// operators otherwise than SUCCESS ([Cluster.FailOperators]), keep
// leaders on a store the evict-leader scheduler should empty
// ([Cluster.SetStuckLeaders]), and have PD's own schedulers evict a slow or
// a stopping store ([Cluster.SetSlowStoreEvicted],
// [Cluster.SetStoppingStoreEvicted]). What the cluster then looks like from
// outside is readable without going through PD: [Cluster.StoreState],
// [Cluster.RegionLeader], [Cluster.OperatorEnded], [Cluster.StoreLog],
// [Cluster.PDLog].
//
// A [Scenario] is faults on a schedule: [Cluster.RunScenario] ticks the
// cluster with its clock, as [Cluster.Run] does, and injects each step
// at its time. [DemoScenario] is the demos' (examples/watch,
// examples/simpd): stores stop, slow down and fill up, then recover, and
// the PD leader changes.
//
// Errors match subject's sentinels (errors.Is): an unknown store or
// region is subject.ErrNotFound, an argument out of range
// subject.ErrInvalid.
//
// Size: up to 1,000 stores and 1,000,000 regions (a few hundred MB). A tick
// of a quiet cluster costs O(stores): the passes over regions (re-election,
// operators, drains, hot regions) run only when they have work, and region
// answers come from a key-ordered index (GET /regions/key is a binary
// search).
//
// What is not: balance-region, replica repair of down peers, pending
// peers, merge, and the PD gRPC API.
package tikvtest
