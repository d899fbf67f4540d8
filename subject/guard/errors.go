package guard

import "github.com/kvops/operator/subject"

// refusal is a rule of the guard that refused an action. Every one
// matches subject.ErrNotApproved: nothing was submitted. name is the
// rule's name in ActionInfo.Refusal.
type refusal struct{ name, msg string }

func (r *refusal) Error() string { return r.msg }

func (r *refusal) Is(target error) bool { return target == subject.ErrNotApproved }

// The guard's refusals. Each is the Err of a *subject.ActionError in
// subject.PhaseRefused, whose Reason says more, and each matches
// subject.ErrNotApproved: nothing was submitted, and the same call may
// succeed once the rule no longer holds.
var (
	// ErrObserveOnly: the guard is in ModeObserveOnly.
	ErrObserveOnly error = &refusal{"observe_only", "guard: observe-only mode refuses every action"}
	// ErrKilled: the kill switch is engaged ([Guard.Kill]), or was engaged
	// while the action waited (for approval, the stability gate or its dry
	// run). Retry after [Guard.Resume].
	ErrKilled error = &refusal{"killed", "guard: kill switch engaged"}
	// ErrBusy: the blast radius is used up: another disruptive action is in
	// flight, or another store has its leaders evicted. Retry once it
	// ended or the leaders were restored.
	ErrBusy error = &refusal{"busy", "guard: another disruption is in progress"}
	// ErrUnresolved: an earlier action was submitted but its outcome is
	// not known (it ended unconfirmed, or was found submitted in the
	// journal), or the journal is being replayed. Disruptive actions wait
	// until [Guard.Recheck] or [Guard.Resolve] settles it.
	ErrUnresolved error = &refusal{"unresolved", "guard: an earlier action's outcome is unknown"}
	// ErrCooldown: the same action ended too recently (on any target or
	// on this one); the Reason says until when.
	ErrCooldown error = &refusal{"cooldown", "guard: cooling down"}
	// ErrRateLimited: the rate limit is used up; the Reason says when the
	// next action would be allowed.
	ErrRateLimited error = &refusal{"rate_limited", "guard: rate limit reached"}
	// ErrJournal: the journal could not be written before submission, so
	// the action was not sent: an action must never run unrecorded.
	ErrJournal error = &refusal{"journal", "guard: journal not written"}
	// ErrNotLeader: [Config.Leadership] says this replica does not lead
	// its operator's replicas, or could not confirm that it does, just
	// before the action would have been submitted. The error also wraps
	// the Leadership's own error (subject.ErrUnavailable when the
	// election could not be reached, say). Retry only once this replica
	// leads again, with a guard whose journal was replayed.
	ErrNotLeader error = &refusal{"not_leader", "guard: this replica does not lead"}
	// ErrMaintenanceLock: the cluster's maintenance lock (see
	// [MaintenanceLock]), which the action takes, could not be taken:
	// another task holds it (the error also carries a
	// *subject.MaintenanceHeldError naming it, and matches
	// subject.ErrPrecondition), this guard holds it for another store's
	// maintenance, or taking it failed (the error wraps why). Retry once
	// the holder released it.
	ErrMaintenanceLock error = &refusal{"maintenance_lock", "guard: the cluster's maintenance lock is not this action's"}
	// ErrApprovalExpired: the Approver did not decide within
	// [Config.ApprovalTimeout]; the Reason says how long it had. Ask
	// again: the guard reads the cluster afresh for the new request.
	ErrApprovalExpired error = &refusal{"approval_expired", "guard: no approval in time"}
)
