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
// [Subject.LeadershipChanges] reads the log source: a Docker container
// ([NewDockerLogSource]), a log file that may be rotated
// ([NewFileLogSource]), or several at once ([MergeLogs]).
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
// Every action checks its preconditions first and refuses, changing
// nothing, with an error matching subject.ErrNotFound,
// subject.ErrPrecondition or subject.ErrInvalid; then it asks PD, waits
// (bounded by the context) until PD shows the effect, and returns a
// subject.Result. With [Config].DryRun it reports what it would do
// instead. Every action is logged before and after through the configured
// slog.Logger. [Subject.Capabilities] describes them all as JSON for AI
// agents' tool calling.
package tikv
