package guard

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/kvops/operator/subject"
)

// SchemaVersion is the version of the journal's records, written in each
// one. Replay reads records of this version and refuses others.
const SchemaVersion = 1

// Event is what a [Record] records.
type Event string

// The events of an action, in the order they happen. Every action starts
// with EventRequested and ends with one of EventRefused, EventDryRun,
// EventConfirmed, EventFailed or EventNotApplied; EventUnconfirmed and
// EventUnresolved leave it pending (see [Guard.Pending]).
const (
	// EventRequested: the action was asked for.
	EventRequested Event = "requested"
	// EventRefused: refused before anything was submitted; Error says why
	// and By names the approver when it was them.
	EventRefused Event = "refused"
	// EventDryRun: answered as a dry run; Result says what would happen.
	EventDryRun Event = "dry_run"
	// EventApproved: approved by By; Result is the dry run approved.
	EventApproved Event = "approved"
	// EventSubmitted: about to be sent to the subject. It is written
	// before the request goes out.
	EventSubmitted Event = "submitted"
	// EventConfirmed: done and its effect seen, by the subject or, after
	// an unconfirmed outcome, by [Guard.Recheck] or [Guard.Resolve] (By
	// then names who decided).
	EventConfirmed Event = "confirmed"
	// EventFailed: the subject reported that it failed; nothing of it is
	// in effect. Status and Reason are the subject's.
	EventFailed Event = "failed"
	// EventUnconfirmed: submitted, but whether it took effect is unknown.
	EventUnconfirmed Event = "unconfirmed"
	// EventUnresolved: checked again after EventUnconfirmed or a crash,
	// and still not known.
	EventUnresolved Event = "unresolved"
	// EventNotApplied: found, after EventUnconfirmed or a crash, not to
	// have taken effect.
	EventNotApplied Event = "not_applied"
)

// The events of the cluster's maintenance lock (see [MaintenanceLock]),
// in records of their own: Lock names the task, ActionID the action that
// took it, and ID is "lock:" and that action's id. A lock whose last
// record is EventLockRequested or EventLockTaken may be held.
const (
	// EventLockRequested: about to be asked for; written before the
	// request is sent.
	EventLockRequested Event = "lock_requested"
	// EventLockTaken: the guard holds it.
	EventLockTaken Event = "lock_taken"
	// EventLockNotTaken: not taken; Reason says why (another task holds
	// it, the cluster has none, the request failed).
	EventLockNotTaken Event = "lock_not_taken"
	// EventLockReleased: the guard no longer holds it; Reason says what
	// ended it.
	EventLockReleased Event = "lock_released"
)

// pending reports whether an action whose last record is e may have been
// applied, and nobody knows.
func (e Event) pending() bool {
	return e == EventSubmitted || e == EventUnconfirmed || e == EventUnresolved
}

// Args are an action's arguments, named as the subject's capabilities
// name them. Only those of the action are set.
type Args struct {
	Region  subject.RegionID  `json:"region_id,omitempty"`
	Store   subject.StoreID   `json:"store_id,omitempty"`
	ToStore subject.StoreID   `json:"to_store_id,omitempty"`
	Kind    subject.LimitKind `json:"kind,omitempty"`
	Limit   uint64            `json:"limit,omitempty"`
	Percent float64           `json:"percent,omitempty"`
	// Raw holds the JSON arguments of a subject's tool served through
	// the guard (see [Guard.Tools]); Store is then its store_id.
	Raw json.RawMessage `json:"raw,omitempty"`
}

// target names what an action acts on, the key of its per-target
// cooldown: a leader transfer acts on its region.
func target(action string, a Args) string {
	switch action {
	case ActionTransferLeader, ActionSplitRegion:
		return "region " + a.Region.String()
	case ActionSetScheduleLimit:
		return a.Kind.String() + "-schedule-limit"
	case ActionSetLowSpaceThreshold:
		return "low-space-ratio"
	}
	return "store " + a.Store.String()
}

// gateStore is the store an action is about to act on, whose own state
// the stability gate does not hold against the cluster (0 for none).
func gateStore(action string, a Args) subject.StoreID {
	switch action {
	case ActionTransferLeader, ActionSplitRegion, ActionSetScheduleLimit, ActionSetLowSpaceThreshold:
		return 0
	}
	return a.Store
}

// invoke calls the subject's action by name.
func invoke(ctx context.Context, sub subject.Actor, action string, a Args) (subject.Result, error) {
	switch action {
	case ActionTransferLeader:
		return sub.TransferLeader(ctx, a.Region, a.ToStore)
	case ActionSplitRegion:
		return sub.SplitRegion(ctx, a.Region)
	case ActionDrainStore:
		return sub.DrainStore(ctx, a.Store)
	case ActionUndrainStore:
		return sub.UndrainStore(ctx, a.Store)
	case ActionEvictLeaders:
		return sub.EvictLeaders(ctx, a.Store)
	case ActionRestoreLeaders:
		return sub.RestoreLeaders(ctx, a.Store)
	case ActionSetScheduleLimit:
		return sub.SetScheduleLimit(ctx, a.Kind, a.Limit)
	case ActionSetLowSpaceThreshold:
		return sub.SetLowSpaceThreshold(ctx, a.Percent)
	}
	return subject.Result{}, fmt.Errorf("guard: unknown action %q: %w", action, subject.ErrInvalid)
}

// Request is what an [Approver] is asked to approve.
type Request struct {
	// ID is the action's record id in the journal.
	ID string `json:"id"`
	// Action is the action's name, Target what it acts on.
	Action string `json:"action"`
	Target string `json:"target"`
	Args   Args   `json:"args"`
	// Disruptive says whether the action counts against the blast radius.
	Disruptive bool `json:"disruptive"`
	// DryRun is the subject's answer to the same call as a dry run: what
	// the action would do.
	DryRun subject.Result `json:"dry_run"`
}

// Record is one entry of the journal, written as one JSON line.
type Record struct {
	// Schema is SchemaVersion.
	Schema int `json:"schema"`
	// Time is the guard's clock when the decision was made.
	Time time.Time `json:"time"`
	// ID is the action's id, the same in every record of one action.
	ID         string `json:"id"`
	Event      Event  `json:"event"`
	Action     string `json:"action"`
	Target     string `json:"target"`
	Args       Args   `json:"args"`
	Mode       Mode   `json:"mode"`
	Disruptive bool   `json:"disruptive,omitempty"`
	// By names the approver of EventApproved, the one who refused an
	// EventRefused, or who settled a pending action.
	By string `json:"by,omitempty"`
	// Status and Reason are the subject's (from *subject.ActionError) or
	// the guard's explanation.
	Status string `json:"status,omitempty"`
	Reason string `json:"reason,omitempty"`
	// Error is the error the caller was given, as text.
	Error string `json:"error,omitempty"`
	// Result is the dry run approved, or the action's result.
	Result *subject.Result `json:"result,omitempty"`
	// Lock is the maintenance lock's task, in the records of the lock's
	// events; nil in an action's.
	Lock *subject.MaintenanceTask `json:"lock,omitempty"`
	// ActionID is, in the lock's records, the id of the action that took
	// it.
	ActionID string `json:"action_id,omitempty"`
}

// Outcome is what [Guard.Recheck] or [Guard.Resolve] found of an action
// that may have been applied.
type Outcome uint8

// The outcomes.
const (
	// OutcomeUnknown: still not known; the action stays pending.
	OutcomeUnknown Outcome = iota
	// OutcomeApplied: it took effect (recorded as EventConfirmed).
	OutcomeApplied
	// OutcomeNotApplied: it did not (recorded as EventNotApplied).
	OutcomeNotApplied
)

// Resolution settles a pending action.
type Resolution struct {
	Outcome Outcome
	// By names who decided (a person, or the program's checker); it is
	// recorded.
	By string
	// Reason is recorded with the decision.
	Reason string
}

// Pending is an action that may have been applied, and what a fresh dry
// run of it says now.
type Pending struct {
	// Record is the action's last record: EventSubmitted,
	// EventUnconfirmed or EventUnresolved.
	Record Record
	// DryRun and DryRunErr are the subject's answer, now, to the same
	// call as a dry run. A subject whose dry run reports "nothing to do"
	// tells a ConfirmFunc the action took effect.
	DryRun    subject.Result
	DryRunErr error
}

// ConfirmFunc decides whether a pending action took effect. It may read
// the cluster through the guard's subject. An error leaves the action
// pending.
type ConfirmFunc func(ctx context.Context, p Pending) (Resolution, error)
