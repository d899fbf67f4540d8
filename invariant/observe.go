package invariant

import "time"

// EvaluationInfo is what one call of [Evaluator.Evaluate] or
// [Evaluator.EvaluateInto] did, as [Config].OnEvaluation receives it: the
// evaluator's counterpart of Prometheus' rule group metrics (evaluations,
// failures, durations, alerts by state), given as plain data so that this
// package links no metrics library. Package tikv/opmetrics turns it into
// Prometheus metrics.
type EvaluationInfo struct {
	// At is the evaluation time the caller passed.
	At time.Time
	// Duration is how long the call took by the machine's clock, checks
	// included.
	Duration time.Duration
	// Err is the call's own error when it evaluated nothing (a context
	// already done, a zero time, a nil report); nil otherwise. A failed
	// check is not the call's error: it is in its invariant's
	// InvariantInfo.
	Err error
	// Invariants says what the call found of each invariant, in name
	// order; nil when Err is set. The slice is borrowed: the evaluator
	// reuses it in its next call, so read it during the callback and do
	// not keep it.
	Invariants []InvariantInfo
}

// Failed reports whether the call did not judge every invariant: it
// failed as a whole, or a check failed.
func (ev EvaluationInfo) Failed() bool {
	if ev.Err != nil {
		return true
	}
	for i := range ev.Invariants {
		if ev.Invariants[i].Err != nil {
			return true
		}
	}
	return false
}

// InvariantInfo is one invariant's part of an [EvaluationInfo].
type InvariantInfo struct {
	// Name is the invariant's name.
	Name string
	// Pending and Firing count its pairs in those states after the call
	// (pairs held by KeepFiringFor are firing), as the report's
	// Violations list them.
	Pending, Firing int
	// Err is its check's error in this call; nil when the check
	// succeeded.
	Err error
	// CheckDuration is how long its check ran, by the machine's clock.
	CheckDuration time.Duration
}

// observing reports whether the evaluator tells anyone about its calls.
func (e *Evaluator) observing() bool { return e.cfg.OnEvaluation != nil }

// notify tells Config.OnEvaluation what the call that started at start
// did: each rule's counts of the call when r is not nil, err alone
// otherwise. evalMu is held when r is not nil, so e.info and the rules'
// counts are the caller's.
func (e *Evaluator) notify(start time.Time, at time.Time, r *Report, err error) {
	ev := EvaluationInfo{At: at, Duration: time.Since(start), Err: err}
	if r != nil && err == nil {
		// Errors are sorted by invariant name, as e.rules are.
		errs := r.Errors
		for i, ru := range e.rules {
			in := &e.info[i]
			in.Pending, in.Firing, in.Err, in.CheckDuration = ru.pending, ru.firing, nil, ru.took
			if len(errs) > 0 && errs[0].Invariant == ru.inv.Name {
				in.Err, errs = errs[0].Err, errs[1:]
			}
		}
		ev.Invariants = e.info
	}
	e.cfg.OnEvaluation(ev)
}
