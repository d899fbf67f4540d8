package guard

import (
	"errors"
	"time"

	"github.com/kvops/operator/subject"
)

// ActionInfo is how one action the guard was asked for ended, as
// [Config].OnAction receives it: the guard's decisions and the actions'
// outcomes and durations, given as plain data so that this package links
// no metrics library. Package tikv/opmetrics turns it into Prometheus
// metrics.
//
// Every call of an action method and of [Guard.Do] is reported once,
// when it returns. What [Guard.Recheck], [Guard.Resolve] and
// [Guard.Replay] later settle of an unconfirmed action is not: the
// journal has it.
type ActionInfo struct {
	// Action is the action's name; Disruptive whether it counted against
	// the blast radius.
	Action     string
	Disruptive bool
	// Outcome is how the call ended: [EventConfirmed], [EventFailed],
	// [EventUnconfirmed], [EventRefused] or [EventDryRun].
	Outcome Event
	// Refusal names what refused an EventRefused, a short fixed name fit
	// for a metric label: a rule of the guard ("observe_only", "killed",
	// "busy", "unresolved", "cooldown", "rate_limited", "journal",
	// "approval_expired", "not_leader", "maintenance_lock"), the approver
	// ("not_approved"),
	// or the sentinel the refusal matches, from the stability gate or the
	// subject ("precondition", "not_found", "invalid", "not_supported",
	// "unavailable"), else "other". Empty for the other outcomes.
	Refusal string
	// Approved says the action was approved: by the Approver in
	// ModeApproveEach, by the guard itself in ModeAutomatic. An approved
	// action may still be refused before it is sent (leadership, the
	// kill switch, the re-check of the cluster).
	Approved bool
	// Mode is the guard's mode.
	Mode Mode
	// Submitted is when the action was sent to the subject, by the
	// guard's clock; zero when it was not.
	Submitted time.Time
	// Duration is how long the subject took from submission to the end of
	// the call, by the guard's clock; zero when nothing was submitted.
	Duration time.Duration
	// Err is the error the caller was given; nil for a confirmed action
	// or a dry run.
	Err error
}

// trace is what run learns of an action for Config.OnAction while it
// passes the rules.
type trace struct {
	approved  bool
	submitted time.Time
}

// report tells Config.OnAction how an action ended. tr may be nil (a
// call refused before it entered the rules).
func (g *Guard) report(action string, tr *trace, res subject.Result, err error) {
	if g.onAction == nil {
		return
	}
	ai := ActionInfo{Action: action, Disruptive: g.disruptive[action], Mode: g.mode, Err: err}
	ai.Outcome, _, _ = classify(err)
	if err == nil && res.DryRun {
		ai.Outcome = EventDryRun
	}
	if ai.Outcome == EventRefused {
		ai.Refusal = refusalName(err)
	}
	if tr != nil {
		ai.Approved, ai.Submitted = tr.approved, tr.submitted
		if !tr.submitted.IsZero() {
			ai.Duration = max(0, g.clock().Sub(tr.submitted))
		}
	}
	g.onAction(ai)
}

// refusalName names what refused an action (see ActionInfo.Refusal).
func refusalName(err error) string {
	var r *refusal
	if errors.As(err, &r) {
		return r.name
	}
	for _, s := range []struct {
		err  error
		name string
	}{
		{subject.ErrNotApproved, "not_approved"},
		{subject.ErrPrecondition, "precondition"},
		{subject.ErrNotFound, "not_found"},
		{subject.ErrInvalid, "invalid"},
		{subject.ErrNotSupported, "not_supported"},
		{subject.ErrUnavailable, "unavailable"},
	} {
		if errors.Is(err, s.err) {
			return s.name
		}
	}
	return "other"
}
