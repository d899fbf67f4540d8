// Package subject defines what an automated operator can observe of a
// distributed key-value cluster and what it can do to it.
//
// A [Subject] is the contract between an operator's judgement (invariants,
// alert rules, an AI agent's tool calls) and one cluster. It is made of two
// small interfaces, [Observer] and [Actor], plus [Subject.Capabilities], a
// plain-data description of everything the subject offers that marshals to
// JSON, so that a program can discover at run time what it may ask.
//
// The vocabulary is the one shared by Raft-based stores: stores, regions with
// peers and a leader, and per-store metrics. Nothing here depends on how a
// particular cluster is reached; package tikv implements Subject for TiKV.
// Nothing here depends on a library beyond Go's own either: package
// subject/tools serves a Subject's capabilities as tools called by name,
// with JSON Schemas.
//
// How a call is made travels in its context, whatever wraps the subject:
// [WithDryRun] asks for what an action would do, and [WithProgress] for
// its [Progress] while it waits for its effect (its doc says why a
// context value rather than configuration).
package subject

import (
	"context"
	"errors"
	"time"

	"github.com/kvops/operator/internal/errs"
)

// Observer reads the state of a cluster. Every method does I/O and honours
// the context's deadline and cancellation.
type Observer interface {
	// Stores returns every store the cluster knows, tombstones included.
	Stores(ctx context.Context) ([]Store, error)
	// HotWriteRegions returns the regions the cluster currently sees as hot
	// for writes, hottest first.
	HotWriteRegions(ctx context.Context) ([]HotRegion, error)
	// HotReadRegions returns the regions the cluster currently sees as hot
	// for reads, hottest first.
	HotReadRegions(ctx context.Context) ([]HotRegion, error)
	// StoreMetrics returns the metrics of one store.
	StoreMetrics(ctx context.Context, id StoreID) (StoreMetrics, error)
	// AllStoreMetrics returns the metrics of every store in one call, in
	// ascending store order.
	AllStoreMetrics(ctx context.Context) ([]StoreMetrics, error)
	// ClusterMetrics returns cluster-wide counts.
	ClusterMetrics(ctx context.Context) (ClusterMetrics, error)
	// LeadershipChanges returns the leadership changes seen since the given
	// time, oldest first. A subject with no log source returns an error
	// that matches [ErrNotSupported].
	LeadershipChanges(ctx context.Context, since time.Time) ([]LeadershipChange, error)
	// Region returns one region; [ErrNotFound] when there is none with
	// that id.
	Region(ctx context.Context, id RegionID) (Region, error)
	// StoreRegions returns at most limit regions that have a peer on the
	// store, limit between 1 and [MaxRegionsPerCall].
	StoreRegions(ctx context.Context, store StoreID, limit int) ([]Region, error)
	// RangeRegions returns at most limit regions, in key order, from the
	// one that contains start up to the last that begins before end (an
	// empty end means the end of the key space); limit between 1 and
	// [MaxRegionsPerCall].
	RangeRegions(ctx context.Context, start, end []byte, limit int) ([]Region, error)
}

// MaxRegionsPerCall bounds the regions one call of [Observer.StoreRegions]
// or [Observer.RangeRegions] returns, so that a caller (an AI agent, say)
// cannot ask for a million regions by mistake.
const MaxRegionsPerCall = 1000

// Actor changes a cluster. Every method returns a [Result] that says what was
// done (or, in dry-run mode, what would have been done), and an error that
// matches [ErrNotFound], [ErrInvalid] or [ErrPrecondition] when the action was
// refused before anything changed.
type Actor interface {
	// TransferLeader moves the leadership of a region to the region's peer
	// on the given store.
	TransferLeader(ctx context.Context, region RegionID, to StoreID) (Result, error)
	// SplitRegion splits a region in two; the result lists the regions that
	// cover the original key range afterwards.
	SplitRegion(ctx context.Context, region RegionID) (Result, error)
	// DrainStore takes a store out of service: the cluster moves its
	// regions elsewhere.
	DrainStore(ctx context.Context, store StoreID) (Result, error)
	// UndrainStore cancels a drain that has not finished, returning the
	// store to service.
	UndrainStore(ctx context.Context, store StoreID) (Result, error)
	// EvictLeaders moves every leader off a store and keeps them off, until
	// RestoreLeaders. Calling it twice is harmless.
	EvictLeaders(ctx context.Context, store StoreID) (Result, error)
	// RestoreLeaders undoes EvictLeaders. Calling it on a store whose
	// leaders are not evicted is harmless.
	RestoreLeaders(ctx context.Context, store StoreID) (Result, error)
	// SetScheduleLimit sets how many scheduling tasks of one kind the
	// cluster runs at once.
	SetScheduleLimit(ctx context.Context, kind LimitKind, n uint64) (Result, error)
	// SetLowSpaceThreshold sets the disk usage, in percent, above which the
	// cluster considers a store short of space and stops moving data to it.
	SetLowSpaceThreshold(ctx context.Context, percent float64) (Result, error)
}

// Subject is a cluster an operator can observe and act on.
type Subject interface {
	Observer
	Actor
	// Capabilities describes the subject's observations, actions and
	// service-level objectives. It does no I/O.
	Capabilities() Capabilities
}

// Errors that implementations wrap, so that callers can tell refusals apart
// with errors.Is whatever subject they talk to. They are the values of
// package internal/errs, which packages below subject (pdclient) match
// without importing subject.
var (
	// ErrNotFound: the store or region named does not exist.
	ErrNotFound = errs.ErrNotFound
	// ErrInvalid: an argument is out of range or malformed.
	ErrInvalid = errs.ErrInvalid
	// ErrPrecondition: the cluster is not in a state that allows the
	// action (the target store is down, holds no voter, ...).
	ErrPrecondition = errs.ErrPrecondition
	// ErrNotSupported: the subject cannot do or see this.
	ErrNotSupported = errs.ErrNotSupported
	// ErrUnavailable: a source the subject reads (PD, Prometheus, a log
	// source) cannot be reached now. It is worth retrying later; for an
	// action it says nothing about whether a request was applied (see
	// [ActionError]).
	ErrUnavailable = errs.ErrUnavailable
	// ErrActionFailed: an action was submitted and the cluster reported
	// that it failed (an operator that timed out, was cancelled or was
	// replaced). Nothing of it is in effect; it may be retried once the
	// reason is understood.
	ErrActionFailed = errs.ErrActionFailed
	// ErrUnconfirmed: an action was submitted but its effect could not be
	// confirmed: the wait bound ended, or the answer was lost. It may have
	// been applied: read the cluster before retrying.
	ErrUnconfirmed = errs.ErrUnconfirmed
	// ErrNotApproved: a guard or an approval hook refused the action before
	// anything was submitted.
	ErrNotApproved = errs.ErrNotApproved
)

// Phase says how far an action got before it ended.
type Phase string

// The phases of an action, in order.
const (
	// PhaseRefused: refused before anything was sent; nothing changed.
	PhaseRefused Phase = "refused"
	// PhaseSubmitted: the request was sent; what followed is in the
	// error. It may have been applied, as in PhaseUnconfirmed.
	PhaseSubmitted Phase = "submitted"
	// PhaseFailed: submitted, and the cluster reported that it failed.
	PhaseFailed Phase = "failed"
	// PhaseUnconfirmed: submitted, but the effect was not confirmed within
	// the bound, or the answer was lost: it may have been applied.
	PhaseUnconfirmed Phase = "unconfirmed"
	// PhaseConfirmed: done, and its effect seen.
	PhaseConfirmed Phase = "confirmed"
)

// ActionError is the error of an action that did not end confirmed. Its
// Phase tells a caller (or an AI agent) whether anything may have changed,
// and errors.Is agrees with it whatever the error wraps:
//
//   - [PhaseRefused]: nothing was sent. The error wraps [ErrNotFound],
//     [ErrInvalid], [ErrPrecondition], [ErrNotSupported] or [ErrNotApproved]
//     (or [ErrUnavailable]: what the action needed to read could not be
//     read), and never matches [ErrUnconfirmed] nor [ErrActionFailed].
//   - [PhaseFailed]: matches [ErrActionFailed], never a refusal sentinel
//     nor [ErrUnconfirmed].
//   - [PhaseSubmitted] and [PhaseUnconfirmed]: match [ErrUnconfirmed],
//     never a refusal sentinel nor [ErrActionFailed].
//
// So a guard that reads the phase and a caller that tests the sentinels
// reach the same conclusion.
type ActionError struct {
	// Action is the action's name as listed in [Capabilities].
	Action string
	// Target names what was acted on ("region 9", "store 4").
	Target string
	// Phase says how far the action got.
	Phase Phase
	// Status is the cluster's own status for the action, when it gave one
	// (PD's operator status: "TIMEOUT", "CANCEL", "REPLACE", "RUNNING").
	Status string
	// Reason is the cluster's description or the library's explanation.
	Reason string
	// Err is the underlying error, if any.
	Err error
	// Progress is what the action's wait saw at its last read, when it
	// waited: what was left when the bound, the context or the cluster
	// ended it. nil when it ended before waiting.
	Progress *Progress
}

// Error returns e.g. "split_region region 9: failed: TIMEOUT: ...".
func (e *ActionError) Error() string {
	msg := e.Action
	if e.Target != "" {
		msg += " " + e.Target
	}
	msg += ": " + string(e.Phase)
	if e.Status != "" {
		msg += ": " + e.Status
	}
	if e.Reason != "" {
		msg += ": " + e.Reason
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// refusals are the sentinels that say nothing was sent.
var refusals = []error{ErrNotFound, ErrInvalid, ErrPrecondition, ErrNotSupported, ErrNotApproved}

// hidden returns the sentinels an error in phase p must not match, whatever
// it wraps: those of the other phases. A region that vanished while the
// action waited does not make a submitted action a refusal, and a
// pdclient error saying a write may have been applied does not make a
// refusal unconfirmed.
func hidden(p Phase) []error {
	switch p {
	case PhaseRefused:
		return []error{ErrUnconfirmed, ErrActionFailed}
	case PhaseFailed:
		return append([]error{ErrUnconfirmed}, refusals...)
	case PhaseConfirmed:
		return append([]error{ErrUnconfirmed, ErrActionFailed}, refusals...)
	}
	return append([]error{ErrActionFailed}, refusals...)
}

// Unwrap returns the underlying error, seen through the phase: it matches
// what Err matches except the sentinels of the other phases (see
// [ActionError]).
func (e *ActionError) Unwrap() error {
	if e.Err == nil {
		return nil
	}
	return phaseError{e.Err, hidden(e.Phase)}
}

// phaseError hides the sentinels of the other phases of an ActionError.
type phaseError struct {
	err  error
	hide []error
}

func (p phaseError) Error() string { return p.err.Error() }

// Is matches what the error matches, except the hidden sentinels.
func (p phaseError) Is(target error) bool {
	for _, h := range p.hide {
		if target == h || errors.Is(target, h) {
			return false
		}
	}
	return errors.Is(p.err, target)
}

// As finds what the error holds.
func (p phaseError) As(target any) bool { return errors.As(p.err, target) }

// Is makes a failed action match [ErrActionFailed] and a submitted or
// unconfirmed one match [ErrUnconfirmed].
func (e *ActionError) Is(target error) bool {
	switch e.Phase {
	case PhaseFailed:
		return target == ErrActionFailed
	case PhaseSubmitted, PhaseUnconfirmed:
		return target == ErrUnconfirmed
	}
	return false
}

// Result reports what an action did.
type Result struct {
	// Action is the action's name as listed in [Capabilities].
	Action string `json:"action"`
	// Target names what was acted on ("region 9", "store 4").
	Target string `json:"target"`
	// DryRun is true when nothing was changed.
	DryRun bool `json:"dry_run"`
	// NoChange is true when the action found the cluster already as it
	// would leave it ("nothing to do": a leader already where asked, a
	// store already drained or not evicted, a setting already at its
	// value), so nothing was or would be sent. A subject sets it in a dry
	// run and in the real call alike; a dry run answering NoChange after a
	// crash tells that the action took effect.
	NoChange bool `json:"no_change"`
	// Summary says in one sentence what was (or would have been) done.
	Summary string `json:"summary"`
	// Regions lists regions the action produced or touched, such as the
	// regions that cover a split region's range.
	Regions []RegionID `json:"regions,omitempty"`
	// Started and Finished bound the action in time.
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished"`
	// Warnings are what the caller should know that does not change the
	// outcome, such as a guard's journal that could not record an action
	// that was done (the action is confirmed: retrying it would repeat it).
	Warnings []string `json:"warnings,omitempty"`
}

type dryRunKey struct{}

// WithDryRun returns a context that asks every action called with it to
// report what it would do (a [Result] with DryRun set) instead of doing it,
// whatever the subject's own configuration says. A dry run checks the same
// preconditions, in the same order, as the real call, and refuses with the
// same errors.
func WithDryRun(ctx context.Context) context.Context {
	return context.WithValue(ctx, dryRunKey{}, true)
}

// IsDryRun reports whether ctx was made by [WithDryRun].
func IsDryRun(ctx context.Context) bool {
	v, _ := ctx.Value(dryRunKey{}).(bool)
	return v
}

// StabilityChecker is implemented by subjects that can tell whether the
// cluster is stable enough for a disruptive action (every other store up,
// a consensus leader present, no region missing replicas). Guards call it
// before disruptive actions when the subject implements it.
type StabilityChecker interface {
	// CheckStable returns nil when the cluster is stable, or an error
	// matching [ErrPrecondition] that says why not. except names a store
	// the caller is about to act on, whose own state is not held against
	// stability (0 for none).
	CheckStable(ctx context.Context, except StoreID) error
}
