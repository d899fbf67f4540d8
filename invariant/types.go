package invariant

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/kvops/operator/internal/errs"
)

// Errors that the package wraps, so that callers can tell failures apart
// with [errors.Is].
var (
	// ErrInvalid: an invariant, an option or an argument is malformed. It
	// is the library's one "invalid argument" value, the same as
	// subject.ErrInvalid (both are internal/errs.ErrInvalid), so one
	// errors.Is check covers a malformed invariant and a malformed action
	// argument alike; invariant does not import subject, which knows of
	// clusters. The other errors below have no counterpart in subject.
	ErrInvalid = errs.ErrInvalid
	// ErrState: a saved state cannot be restored (malformed JSON, unknown
	// format version, inconsistent entry).
	ErrState = errors.New("invalid saved state")
	// ErrIdentity: a saved state was exported by an evaluator of another
	// identity ([Config].Identity), a different cluster say. Restore refuses
	// it with an [*IdentityError], which also matches ErrState.
	ErrIdentity = errors.New("saved state belongs to another identity")
	// ErrPanic: a check panicked. The evaluator recovers the panic and
	// treats it as a failed check.
	ErrPanic = errors.New("check panicked")
)

// Severity says how urgent a firing invariant is. Severities are ordered:
// SeverityInfo < SeverityWarning < SeverityCritical. The zero Severity is
// not valid.
type Severity int

// The severities, from least to most urgent.
const (
	SeverityInfo Severity = iota + 1
	SeverityWarning
	SeverityCritical
)

var severityNames = [...]string{SeverityInfo: "info", SeverityWarning: "warning", SeverityCritical: "critical"}

// Valid reports whether s is one of the defined severities.
func (s Severity) Valid() bool { return s >= SeverityInfo && s <= SeverityCritical }

// String returns "info", "warning" or "critical", or "Severity(n)" for an
// invalid value.
func (s Severity) String() string {
	if s.Valid() {
		return severityNames[s]
	}
	return fmt.Sprintf("Severity(%d)", int(s))
}

// MarshalText encodes a valid severity as its name.
func (s Severity) MarshalText() ([]byte, error) {
	if !s.Valid() {
		return nil, fmt.Errorf("invariant: severity %d: %w", int(s), ErrInvalid)
	}
	return []byte(s.String()), nil
}

// UnmarshalText decodes a severity name as written by MarshalText.
func (s *Severity) UnmarshalText(b []byte) error {
	v, err := ParseSeverity(string(b))
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// ParseSeverity returns the severity named "info", "warning" or "critical".
// Any other name gives an error that matches [ErrInvalid].
func ParseSeverity(name string) (Severity, error) {
	for s := SeverityInfo; s <= SeverityCritical; s++ {
		if severityNames[s] == name {
			return s, nil
		}
	}
	return 0, fmt.Errorf("invariant: unknown severity %q: %w", name, ErrInvalid)
}

// State is where one (invariant, key) pair stands.
type State int

// The states of an (invariant, key) pair. See the package documentation for
// the transitions between them.
const (
	// StateInactive: the pair is not tracked (never seen, or dropped).
	StateInactive State = iota
	// StatePending: the check reports the pair, for less than the grace
	// period so far.
	StatePending
	// StateFiring: the check has reported the pair for at least the grace
	// period, or stopped reporting it less than the keep-firing hold ago.
	StateFiring
	// StateResolved: the pair was firing and is no longer; it is kept for
	// the resolved retention so that callers can see it resolved.
	StateResolved
)

var stateNames = [...]string{StateInactive: "inactive", StatePending: "pending", StateFiring: "firing", StateResolved: "resolved"}

// String returns "inactive", "pending", "firing" or "resolved", or
// "State(n)" for an invalid value.
func (s State) String() string {
	if s >= StateInactive && s <= StateResolved {
		return stateNames[s]
	}
	return fmt.Sprintf("State(%d)", int(s))
}

// MarshalText encodes a state as its name.
func (s State) MarshalText() ([]byte, error) {
	if s < StateInactive || s > StateResolved {
		return nil, fmt.Errorf("invariant: state %d: %w", int(s), ErrInvalid)
	}
	return []byte(s.String()), nil
}

// UnmarshalText decodes a state name as written by MarshalText.
func (s *State) UnmarshalText(b []byte) error {
	for v := StateInactive; v <= StateResolved; v++ {
		if stateNames[v] == string(b) {
			*s = v
			return nil
		}
	}
	return fmt.Errorf("invariant: unknown state %q: %w", b, ErrInvalid)
}

// Finding is one violation a check sees now.
type Finding struct {
	// Key tells apart the subjects of one invariant, e.g. "store=4"; it is
	// "" for an invariant with a single subject.
	Key string
	// Message is a human sentence saying what is wrong.
	Message string
	// Value is the observed value, if any.
	Value float64
	// Labels are optional extra labels. The evaluator keeps its own copy.
	Labels map[string]string
	// Unknown says the check could not judge this key now (its reading
	// is missing), so the key is neither violated nor clear: its state
	// and clocks are kept as they are, as for a check that failed, but
	// for this key alone. An unknown key with no state gets none. A key
	// reported both unknown and as a violation in one call counts as a
	// violation.
	Unknown bool
}

// Check looks at the system and returns the violations it sees at now, the
// evaluation time the caller passed to [Evaluator.Evaluate] (never earlier
// than the evaluator's previous evaluation): none when all is well. A check
// judges by now rather than by a clock of its own, so that an evaluator
// driven by an injected clock sees the same time everywhere. An error means the check could not look (the system is
// unreachable, a query failed); it is not a violation, and the evaluator
// keeps the invariant's state as it was.
type Check func(ctx context.Context, now time.Time) ([]Finding, error)

// Invariant is a condition that must hold, and how long a violation must
// last before it counts.
type Invariant struct {
	// Name identifies the invariant; it must be unique in an Evaluator and
	// not empty.
	Name string
	// Description says what the invariant means, for people.
	Description string
	// Check reports the current violations; it must not be nil.
	Check Check
	// Grace is how long a finding must be seen without a gap before it
	// fires (Prometheus' "for"). Zero fires at once.
	Grace time.Duration
	// KeepFiringFor holds a firing finding that is no longer seen in the
	// firing state for this long before it resolves (Prometheus'
	// "keep_firing_for"), so that a flapping condition does not resolve
	// and fire again. Zero resolves at once.
	KeepFiringFor time.Duration
	// Severity says how urgent a firing finding is; it must be valid.
	Severity Severity
	// Labels are added to every alert of the invariant. They win over a
	// finding's labels of the same name, as a rule's labels do in
	// Prometheus.
	Labels map[string]string
}

// Alert is the state of one (invariant, key) pair.
//
// Labels is shared with the evaluator and with other reports: treat it as
// read-only.
type Alert struct {
	Invariant string
	Key       string
	State     State
	Severity  Severity
	// Message and Value are the latest the check reported for the key.
	Message string
	Value   float64
	// Labels are the invariant's labels merged with the finding's.
	Labels map[string]string
	// FirstSeen is when the current episode began: the first call of an
	// unbroken run in which the check reported the key.
	FirstSeen time.Time
	// LastSeen is the latest call in which the check reported the key.
	LastSeen time.Time
	// FiredAt is when the episode started firing; zero while pending.
	FiredAt time.Time
	// ResolvedAt is when the episode resolved; zero unless resolved.
	ResolvedAt time.Time
	// KeepFiringSince is set while a firing alert is held by the
	// invariant's KeepFiringFor: the first call that no longer saw it.
	KeepFiringSince time.Time
}

// Transition is a change of state of one (invariant, key) pair between two
// calls of Evaluate.
type Transition struct {
	Invariant, Key string
	From, To       State
	At             time.Time
	// Alert is the pair after the change.
	Alert Alert
}

// String returns e.g. "store_health store=4: pending -> firing".
func (t Transition) String() string {
	if t.Key == "" {
		return fmt.Sprintf("%s: %s -> %s", t.Invariant, t.From, t.To)
	}
	return fmt.Sprintf("%s %s: %s -> %s", t.Invariant, t.Key, t.From, t.To)
}

// CheckError says that the check of an invariant failed in one call. The
// invariant's state was kept as it was.
type CheckError struct {
	Invariant string
	Err       error
}

// Error returns the invariant's name and the check's error.
func (e CheckError) Error() string {
	return fmt.Sprintf("invariant %q: check failed: %v", e.Invariant, e.Err)
}

// Unwrap returns the check's error.
func (e CheckError) Unwrap() error { return e.Err }

// Report is what one call of Evaluate saw and changed.
type Report struct {
	// At is the time the caller passed to Evaluate.
	At time.Time
	// Violations are the pending and firing pairs (held ones included),
	// sorted by invariant name, then key.
	Violations []Alert
	// Transitions are the changes since the previous call, at most one per
	// pair, sorted by invariant name, then key.
	Transitions []Transition
	// Errors lists the invariants whose check failed in this call, sorted
	// by name. Their states were kept.
	Errors []CheckError
	// ClockJump is set when At is before the previous call's time: time
	// went back, and the clocks of the pairs that lay after At were
	// restarted at At. Its zero value means time did not go back.
	ClockJump ClockJump
}

// ClockJump says that an evaluation's time was before the previous one's:
// a clock set back, or a restored state saved on a host whose clock ran
// ahead. The evaluator evaluates at the earlier time and restarts at it
// every clock (first seen, last seen, fired, resolved, keep-firing) that
// lay after it: a pending pair's grace period starts again, a hold or a
// resolved pair's retention is measured afresh, so that no alert waits for
// the old time to come round again.
type ClockJump struct {
	// Previous is the time of the previous evaluation (or of the restored
	// state); zero when time did not go back.
	Previous time.Time
	// Restarted is the number of pairs whose clocks were restarted.
	Restarted int
}

// Jumped reports whether time went back.
func (j ClockJump) Jumped() bool { return !j.Previous.IsZero() }

// IdentityError says that [Evaluator.Restore] refused a state saved under
// another identity ([Config].Identity). It matches [ErrIdentity] and
// [ErrState].
type IdentityError struct {
	// Saved is the identity written in the state; Evaluator is the
	// restoring evaluator's.
	Saved, Evaluator string
}

// Error names both identities.
func (e *IdentityError) Error() string {
	return fmt.Sprintf("invariant: restore: state saved for %q, this evaluator judges %q: %v", e.Saved, e.Evaluator, ErrIdentity)
}

// Is matches [ErrIdentity] and [ErrState].
func (e *IdentityError) Is(target error) bool { return target == ErrIdentity || target == ErrState }
