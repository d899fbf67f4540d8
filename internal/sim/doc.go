// Package sim is a simulated TiKV cluster for demos and end-to-end tests: a
// stateful double of PD's HTTP API, one Prometheus metrics endpoint per
// store, and per-store logs in the unified log format.
//
// The PD API answers with the shapes and status codes of a recorded real PD
// (the conformance test replays every fixture in testdata/pd against the
// simulator). Time only moves when the caller says so, through
// [Cluster.Tick] or [Cluster.Advance], so tests are deterministic; the demo
// can use [Cluster.Run] to tick on a real ticker.
//
// What is modelled:
//
//   - Stores heartbeat every 10 s, each with its own phase. A stopped store
//     stops heartbeating: PD reports it Disconnected 20 s after its last
//     heartbeat and Down after max-store-down-time (settable through
//     POST /config), as PD does. Leaders of a stopped store move to other
//     voters on the next tick, and its peers show up as down peers once the
//     store is Down.
//
//   - A PD leader change makes every store Disconnected with "0B" sizes until
//     that store's next heartbeat, as the recorded real PD does
//     (stores-follower-leader-just-killed).
//
//   - Operators (transfer-leader, split-region) complete on the next tick,
//     unless [Cluster.FailOperators] says otherwise: they then time out
//     after PD's one minute (TIMEOUT), are cancelled (CANCEL) or are
//     replaced by a balance-leader operator (REPLACE). GET
//     /operators/{region_id} shows the region's latest operator, whoever
//     made it, as the real PD does; a second operator on a region with one
//     pending is refused with PD's ErrAddOperator. The evict-leader
//     scheduler moves leaders off its stores over a few ticks, except those
//     [Cluster.SetStuckLeaders] pins; balance-leader evens leader counts out
//     as PD's does (about ten leaders a second, stores within ten leaders
//     of each other left alone), so a restored store gets its leaders back
//     gradually. An Offline store's regions move away over ticks (a
//     learner is added, then promoted while the old peer is removed) until
//     it becomes Tombstone, and the drain can be cancelled with POST
//     /store/{id}/state?state=Up.
//
//   - Each store's metrics endpoint serves the TiKV series the library reads
//     (write and gRPC latency histograms, store size, CPU, region counts,
//     process start time) from its own client_golang registry. A stopped
//     store's endpoint refuses connections, like a dead TiKV. The address of
//     the endpoint is the store's status_address in PD's answers, so
//     Prometheus' instance label matches PD's status_address. Scrape it with
//     a job name that contains "tikv": the library's CPU and restart queries
//     select job=~".*tikv".
//
//   - Regions write at a low background rate; [Cluster.SetWriteRate] makes
//     one hot (64 KiB/s and more), and it is then listed by
//     /hotspot/regions/write. written_bytes covers a 60 s heartbeat.
//
//   - PD has three members (pd1, pd2, pd3) served at one URL, so /members,
//     /leader and /health look like the recorded three-member cluster.
//
//   - Logs: each store writes raft role changes ("became leader at term N")
//     and lifecycle lines, PD writes "leader changed" and store lifecycle
//     lines, all in the unified log format (logparse.Entry values written
//     with logparse.AppendFormat, so logparse reads every line back as the
//     entry written); read them with [Cluster.StoreLog] and
//     [Cluster.PDLog], or from files in [Config.LogDir].
//
// Faults for demos and tests: [Cluster.StopStore], [Cluster.StartStore],
// [Cluster.RestartStore], [Cluster.SetWriteLatency], [Cluster.SetDiskUsage],
// [Cluster.PDLeaderChange], [Cluster.FailOperators], [Cluster.SetStuckLeaders].
//
// Size: up to 1,000 stores and 1,000,000 regions (a few hundred MB). A tick
// of a quiet cluster costs O(stores): the passes over regions (re-election,
// operators, drains, hot regions) run only when they have work, and region
// answers come from a key-ordered index (GET /regions/key is a binary
// search).
//
// What is not: balance-region, replica repair of down peers, pending
// peers, merge, and the PD gRPC API.
package sim
