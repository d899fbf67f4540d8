package invariant

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// stateVersion is the version of the saved-state format that Export writes.
// Restore refuses any other.
const stateVersion = 1

// savedState is the JSON form of an evaluator's state.
type savedState struct {
	Version int `json:"version"`
	// Identity is the exporting evaluator's (Config.Identity), omitted when
	// it had none.
	Identity string `json:"identity,omitempty"`
	// Clock is the latest evaluation time.
	Clock   time.Time    `json:"clock,omitzero"`
	Entries []savedEntry `json:"entries"`
}

type savedEntry struct {
	Invariant       string            `json:"invariant"`
	Key             string            `json:"key"`
	State           State             `json:"state"`
	FirstSeen       time.Time         `json:"firstSeen,omitzero"`
	LastSeen        time.Time         `json:"lastSeen,omitzero"`
	FiredAt         time.Time         `json:"firedAt,omitzero"`
	ResolvedAt      time.Time         `json:"resolvedAt,omitzero"`
	KeepFiringSince time.Time         `json:"keepFiringSince,omitzero"`
	Message         string            `json:"message,omitempty"`
	Value           jsonFloat         `json:"value"`
	Labels          map[string]string `json:"labels,omitempty"`
}

// jsonFloat is a float64 that survives JSON when it is NaN or infinite: those
// are written as the strings "NaN", "+Inf" and "-Inf".
type jsonFloat float64

func (f jsonFloat) MarshalJSON() ([]byte, error) {
	v := float64(f)
	switch {
	case math.IsNaN(v):
		return []byte(`"NaN"`), nil
	case math.IsInf(v, 1):
		return []byte(`"+Inf"`), nil
	case math.IsInf(v, -1):
		return []byte(`"-Inf"`), nil
	}
	return strconv.AppendFloat(nil, v, 'g', -1, 64), nil
}

func (f *jsonFloat) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		switch s {
		case "NaN":
			*f = jsonFloat(math.NaN())
		case "+Inf":
			*f = jsonFloat(math.Inf(1))
		case "-Inf":
			*f = jsonFloat(math.Inf(-1))
		default:
			return fmt.Errorf("value %q is not a number", s)
		}
		return nil
	}
	var v float64
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*f = jsonFloat(v)
	return nil
}

// Export returns the whole state of the evaluator as versioned JSON: every
// pending, firing and resolved pair with its clocks, the latest evaluation
// time and the evaluator's identity ([Config].Identity). It never waits for a
// running evaluation's checks. Give it to [Evaluator.Restore] after a restart so that
// grace periods do not start again.
func (e *Evaluator) Export() ([]byte, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	s := savedState{Version: stateVersion, Identity: e.cfg.Identity, Clock: e.clock.Round(0), Entries: []savedEntry{}}
	for _, ru := range e.rules {
		for _, en := range ru.sorted {
			s.Entries = append(s.Entries, savedEntry{
				Invariant:       ru.inv.Name,
				Key:             en.key,
				State:           en.state,
				FirstSeen:       en.firstSeen,
				LastSeen:        en.lastSeen,
				FiredAt:         en.firedAt,
				ResolvedAt:      en.resolvedAt,
				KeepFiringSince: en.keepFiringSince,
				Message:         en.message,
				Value:           jsonFloat(en.value),
				Labels:          labelMap(en.flabels),
			})
		}
	}
	// Marshalled under the lock: the label maps belong to the entries.
	b, err := json.Marshal(s)
	if err != nil {
		return nil, fmt.Errorf("invariant: export: %w", err)
	}
	return b, nil
}

// MarshalJSON is [Evaluator.Export], so that an evaluator can be embedded in
// a larger JSON document.
func (e *Evaluator) MarshalJSON() ([]byte, error) { return e.Export() }

// DroppedEntry is a saved pair that Restore left out because the evaluator
// has no invariant of that name.
type DroppedEntry struct {
	Invariant string
	Key       string
	State     State
}

// RestoreResult says what Restore did with a saved state.
type RestoreResult struct {
	// Restored is the number of pairs restored.
	Restored int
	// Dropped lists the pairs of unknown invariants, in the saved order.
	Dropped []DroppedEntry
	// Unverified is set when the evaluator has an identity but the state
	// carries none (it was saved by an evaluator without one, or before
	// states carried identities): it was restored without knowing whose
	// it is.
	Unverified bool
	// Clamped is the number of pairs whose clocks lay after the state's
	// own evaluation time and were moved back to it.
	Clamped int
}

// Restore replaces the evaluator's state with one written by
// [Evaluator.Export], typically before the first Evaluate after a restart.
// Pairs of invariants the evaluator does not know are dropped and listed in
// the result. A malformed state, an unknown format version or an
// inconsistent entry gives an error matching [ErrState] and leaves the
// evaluator unchanged.
//
// Restored pairs keep their clocks, so a restart does not reset grace
// periods, but nothing fires on restore itself. A restored pending pair
// fires only if an Evaluate sees it again; if the first call whose check
// answers does not see it, it is dropped like any pending pair that
// clears. At the first call that sees it, its grace clock takes the
// meaning Prometheus gives a restored 'for' (Config.OutageTolerance and
// Config.ForGracePeriod, 1h and 10m by default, as Prometheus'
// --rules.alert.for-outage-tolerance and --rules.alert.for-grace-period):
// the time the evaluator was down does not count towards its grace
// period, and it waits at least ForGracePeriod from that call before it
// fires, unless its grace had run out before the restart; a pair last seen
// longer than OutageTolerance before that call, or whose invariant's Grace
// is shorter than ForGracePeriod, starts its grace period afresh. So a
// pending alert restored after a long outage never fires at its first
// look. A restored firing pair stays firing and resolves (or is held) as
// usual when it is no longer seen; here the evaluator differs from
// Prometheus, which keeps no firing state and turns an alert it cannot
// restore back to pending: a firing pair that went back to pending would
// tell an operator the fault had cleared.
//
// Identity: a state saved under an identity other than the evaluator's
// ([Config].Identity) is refused with an [*IdentityError] (matching
// [ErrIdentity] and [ErrState]), and so is a state with an identity restored
// into an evaluator without one. A state without identity (saved by an
// evaluator without one, or by a version of this package that did not
// write identities) is restored, and when the evaluator has an identity
// RestoreResult.Unverified says that nobody could check whose it was.
//
// Time: the evaluation clock becomes the later of the evaluator's and the
// saved one. A clock of a pair that lies after the saved evaluation time
// (an inconsistent state) is moved back to it (RestoreResult.Clamped). A
// state saved on a host whose clock ran ahead lies in the future for this
// one: the first Evaluate, at a now before the saved time, restarts at now
// every clock that lies after it and reports it in Report.ClockJump, so
// that nothing fires early and nothing waits for the other host's time.
func (e *Evaluator) Restore(data []byte) (RestoreResult, error) {
	var s savedState
	if err := json.Unmarshal(data, &s); err != nil {
		return RestoreResult{}, fmt.Errorf("invariant: restore: %w: %w", ErrState, err)
	}
	if s.Version != stateVersion {
		return RestoreResult{}, fmt.Errorf("invariant: restore: format version %d, want %d: %w", s.Version, stateVersion, ErrState)
	}
	var res RestoreResult
	switch {
	case s.Identity == e.cfg.Identity:
	case s.Identity == "":
		res.Unverified = true
	default:
		return RestoreResult{}, &IdentityError{Saved: s.Identity, Evaluator: e.cfg.Identity}
	}
	type pair struct{ inv, key string }
	seen := make(map[pair]bool, len(s.Entries))
	restored := make(map[*rule][]*entry)
	for i, se := range s.Entries {
		if err := checkSaved(se); err != nil {
			return RestoreResult{}, fmt.Errorf("invariant: restore: entries[%d] (%q, %q): %w: %w", i, se.Invariant, se.Key, ErrState, err)
		}
		p := pair{se.Invariant, se.Key}
		if seen[p] {
			return RestoreResult{}, fmt.Errorf("invariant: restore: entries[%d] (%q, %q): pair is repeated: %w", i, se.Invariant, se.Key, ErrState)
		}
		seen[p] = true
		ru := e.index[se.Invariant]
		if ru == nil {
			res.Dropped = append(res.Dropped, DroppedEntry{Invariant: se.Invariant, Key: se.Key, State: se.State})
			continue
		}
		en := &entry{
			key:             se.Key,
			state:           se.State,
			firstSeen:       se.FirstSeen,
			lastSeen:        se.LastSeen,
			firedAt:         se.FiredAt,
			resolvedAt:      se.ResolvedAt,
			keepFiringSince: se.KeepFiringSince,
			message:         se.Message,
			value:           float64(se.Value),
		}
		if !s.Clock.IsZero() && en.clampAfter(s.Clock) {
			res.Clamped++
		}
		if en.state == StatePending {
			en.restoredDown = en.lastSeen
		}
		ru.setLabels(en, se.Labels)
		restored[ru] = append(restored[ru], en)
		res.Restored++
	}

	if res.Unverified {
		e.log.Warn("invariant: restored a saved state that names no identity; it may be another's",
			slog.String("identity", e.cfg.Identity))
	}
	if res.Clamped > 0 {
		e.log.Warn("invariant: restored pairs whose clocks lay after the state's own time; moved them back to it",
			slog.Int("pairs", res.Clamped), slog.Time("clock", s.Clock))
	}

	e.mu.Lock()
	defer e.mu.Unlock()
	for _, ru := range e.rules {
		ens := restored[ru]
		slices.SortFunc(ens, func(a, b *entry) int { return strings.Compare(a.key, b.key) })
		ru.sorted = ens
		ru.added = ru.added[:0]
		// The hints point at the replaced entries.
		ru.hint = nil
		ru.entries = make(map[string]*entry, len(ens))
		for _, en := range ens {
			ru.entries[en.key] = en
		}
	}
	// A zero clock is "no evaluation yet", not year 1: a saved clock
	// before year 1 is still later than none.
	if !s.Clock.IsZero() && (e.clock.IsZero() || s.Clock.After(e.clock)) {
		e.clock = s.Clock
	}
	return res, nil
}

// checkSaved checks that a saved entry has what its state needs.
func checkSaved(se savedEntry) error {
	switch se.State {
	case StatePending, StateFiring, StateResolved:
	default:
		return fmt.Errorf("state %v cannot be saved", se.State)
	}
	if se.FirstSeen.IsZero() {
		return fmt.Errorf("firstSeen is missing")
	}
	if se.LastSeen.IsZero() {
		return fmt.Errorf("lastSeen is missing")
	}
	if se.State == StatePending && !(se.FiredAt.IsZero() && se.ResolvedAt.IsZero() && se.KeepFiringSince.IsZero()) {
		return fmt.Errorf("a pending entry has firedAt, resolvedAt or keepFiringSince")
	}
	if se.State != StatePending && se.FiredAt.IsZero() {
		return fmt.Errorf("firedAt is missing")
	}
	if se.State == StateFiring && !se.ResolvedAt.IsZero() {
		return fmt.Errorf("a firing entry has resolvedAt")
	}
	if se.State == StateResolved && se.ResolvedAt.IsZero() {
		return fmt.Errorf("resolvedAt is missing")
	}
	return nil
}
