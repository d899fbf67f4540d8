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
// Every action checks its arguments and preconditions first and refuses,
// changing nothing, with a *subject.ActionError of phase refused matching
// subject.ErrNotFound, subject.ErrPrecondition or subject.ErrInvalid. Then
// it asks PD once (never twice) and waits, bounded by [ActionTimeouts] and
// the context, until PD shows the effect. It follows its own operator in
// PD, told apart from a scheduler's on the same region, and returns within
// one [Config].PollInterval of PD ending it: with subject.ErrActionFailed
// and PD's status (TIMEOUT, CANCEL, REPLACE) when PD ended it without the
// effect, with subject.ErrUnconfirmed when the bound ended or the answer
// was lost. With [Config].DryRun, or subject.WithDryRun for one call, it
// reports what it would do instead. [Subject.PrepareRestart] and
// [Subject.FinishRestart] restart a store safely and resume after a crash;
// [Subject.CheckStable] is the stability gate a guard calls. Every action
// is logged before and after through the configured slog.Logger.
// [Subject.Capabilities] describes them all as JSON for AI agents' tool
// calling.
package tikv
