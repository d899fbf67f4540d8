// Package invariant decides when a violation counts.
//
// A health check that flaps wakes people up for nothing; one that waits too
// long lets a cluster burn. An [Invariant] pairs a [Check], which reports the
// violations it sees now as keyed [Finding]s (one per store, say), with a
// grace period that a violation must last before it fires. An [Evaluator]
// runs the checks when the caller says so, at the time the caller says:
// it owns no goroutines and no timers, so the caller drives it from its own
// ticker and clock (and tests drive it with explicit times).
//
// # Rules
//
// The evaluator follows Prometheus' alerting rules (rules/alerting.go). For
// each (invariant, key) pair, at each call of [Evaluator.Evaluate] at time t:
//
//   - A finding not tracked yet (or tracked as resolved) starts an episode:
//     it is pending, first seen at t.
//   - A pending finding fires once t - firstSeen >= Grace; Grace 0 fires in
//     the call that first sees it.
//   - A pending finding that the check no longer reports is dropped
//     (pending -> inactive); if it comes back, its clock starts again.
//   - A firing finding that the check no longer reports resolves, unless
//     KeepFiringFor holds it: it then stays firing until it has been
//     missing for KeepFiringFor (measured from the first call that missed
//     it), and is resolved at the first call after that. Seen again during
//     the hold, it simply goes on firing.
//   - A resolved pair is kept for the resolved retention
//     ([Config].ResolvedRetention, 15 minutes by default), then dropped
//     (resolved -> inactive) at the first call at least that long after it
//     resolved. A finding that comes back while resolved starts a new
//     pending episode.
//   - A check that returns an error (or panics) changes nothing for its
//     invariant: every state and clock is kept, nothing fires, resolves or
//     expires, and [Report].Errors says which invariant failed and why. This
//     is where we differ from a naive reading of "no data, no alert": a
//     broken Prometheus must not resolve a real alert. The failed calls do
//     not count as a gap either: a pending finding seen before and after
//     them keeps its first-seen time.
//   - A finding marked [Finding].Unknown (the check could not read that
//     key: a store with no series, say) is the same rule for one key: its
//     state and clocks are kept, it neither fires, resolves nor expires,
//     and an unknown key that had no state gets none.
//   - Time is the caller's: a call is evaluated at its now. When now is
//     before the previous call's (a clock set back, or a state restored
//     from a host whose clock ran ahead), every clock of a pair that lies
//     after now (first seen, last seen, fired, resolved, keep-firing) is
//     restarted at now: a pending pair's grace period starts again, a hold
//     and a resolved pair's retention are measured afresh. Nothing fires
//     early by the caller's time, and no alert waits for the old time to come round again, so
//     a time in the future can never silence alerting. [Report].ClockJump
//     says so and the evaluator logs it at Warn. Times from [time.Now]
//     carry a monotonic reading, and the evaluator compares them with it,
//     so within one process a step of the machine's wall clock does not
//     disturb it.
//   - When a check reports the same key twice in one call, the first finding
//     wins and the others are ignored.
//
// Each call returns a [Report]: the pending and firing pairs, the transitions
// since the previous call (at most one per pair, from its state at the
// previous call to its state now: a finding with Grace 0 goes
// inactive -> firing in one step), and the failed checks. A caller that
// notifies on transitions notifies exactly once per change.
//
// # Restarts
//
// [Evaluator.Export] writes the whole state as versioned JSON and
// [Evaluator.Restore] reads it back, so an operator that restarts does not
// reset its grace clocks. Restoring fires nothing by itself: a restored
// pending pair fires only if a call sees it again, and then, as in
// Prometheus (--rules.alert.for-outage-tolerance and
// --rules.alert.for-grace-period; [Config].OutageTolerance and
// [Config].ForGracePeriod), the outage does not count towards its grace
// period and, unless its grace had run out before the restart, it waits at
// least ForGracePeriod more; after an outage longer than OutageTolerance it
// starts its grace period afresh. A pending alert restored after a long
// outage never fires at its first look. A state carries
// the identity of what it judged ([Config].Identity: a cluster's id), and a
// state saved for another identity is refused ([IdentityError]).
//
// # Concurrency and cost
//
// An Evaluator is safe for concurrent use. A call runs the checks at once,
// at most [Config].Concurrency of them ([DefaultConcurrency]), each bounded by
// [Config].CheckTimeout ([DefaultCheckTimeout]), and applies their results in
// invariant name order. Calls of Evaluate are serialized, but the state lock
// is held only to apply results: [Evaluator.Alerts] and [Evaluator.Export]
// never wait for a check's I/O. Once nothing changes between calls,
// evaluating allocates nothing per key: [Evaluator.EvaluateInto] reuses the
// report's slices and allocates only the checks' deadline contexts (one per
// call for the checks that start at once, one more for each check that
// waits for its turn; none with a negative Config.CheckTimeout) and, with several
// checks, the goroutines that run them.
package invariant
