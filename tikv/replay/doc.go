// Package replay answers "what would the operator have done?": it runs an
// operator against a recorded incident (package tikv/record) instead of
// the live cluster, and says, tick by tick, which alerts were pending,
// firing or resolved and which actions the operator would have taken,
// each with the guard's decision and reason.
//
// [Run] serves the recording as PD (tikvtest.Replay) and its Prometheus
// series from a real Prometheus they are backfilled into
// (tikvtest.BackfillPrometheus), builds a tikv.Subject over them, a guard
// (subject/guard) in dry-run mode and an evaluator of the Subject's
// invariants and of rule files, then steps the replay's clock from the
// recording's start to its end and calls the [Operator] at each tick.
// Nothing can change: the Subject is a dry-run one, the guard answers
// every action as a dry run (checked against the replayed state, as the
// live cluster would have checked it), and the replayed PD refuses every
// write. Every clock is the replay's and nothing waits in real time, so
// a replay of an hour takes seconds, and the same recording and operator
// give the same [Timeline].
//
// [Compare] tells two timelines apart (two versions of an operator, two
// configurations): "v2 would have evicted the leaders of store 3 2m0s
// earlier than v1", with the differences as fields a test asserts on.
package replay
