package replay

import (
	"fmt"
	"strings"
	"time"

	"github.com/kvops/operator/invariant"
	"github.com/kvops/operator/subject/guard"
)

// Timeline is what happened in a replay, tick by tick.
type Timeline struct {
	// Name is Config.Name.
	Name string
	// Start, End and Step are the replayed window and its step.
	Start, End time.Time
	Step       time.Duration
	// Ticks are in time order, one per step.
	Ticks []TickRecord
}

// TickRecord is one tick of a replay.
type TickRecord struct {
	At time.Time
	// Alerts are the pending and firing alerts at At, Transitions their
	// changes since the previous tick (invariant.Report's).
	Alerts      []invariant.Alert
	Transitions []invariant.Transition
	// Errors are the checks that failed at At (their states were kept).
	Errors []string
	// Actions are what the operator asked the guard at At, in order.
	Actions []Action
	// OperatorError is the operator's error at At, if any.
	OperatorError string
}

// Action is one action the operator asked for, and what the guard
// answered.
type Action struct {
	At time.Time
	// Action is its name ("evict_leaders") and Target what it acts on
	// ("store 3", "region 9 to store 2").
	Action string
	Target string
	// Outcome is guard.EventDryRun when the action passed every rule and
	// check and would have been sent, guard.EventRefused when it would
	// have been refused; Refusal names what refused it
	// (guard.ActionInfo.Refusal).
	Outcome guard.Event
	Refusal string
	// NoChange says the action would have found nothing to do.
	NoChange bool
	// Reason is the dry run's summary ("would evict the 13 leaders of
	// store 3 ..."), or the refusal's error.
	Reason string
}

// Taken reports whether the action would have been sent: the guard let
// it through and it had something to do.
func (a Action) Taken() bool { return a.Outcome == guard.EventDryRun && !a.NoChange }

// String returns e.g. "12:04:00 evict_leaders store 3: dry_run (would evict ...)".
func (a Action) String() string {
	out := fmt.Sprintf("%s %s %s: %s", a.At.UTC().Format(time.TimeOnly), a.Action, a.Target, a.Outcome)
	if a.Refusal != "" {
		out += " by " + a.Refusal
	}
	if a.Reason != "" {
		out += " (" + a.Reason + ")"
	}
	return out
}

// Actions returns every action asked for, in time order.
func (t Timeline) Actions() []Action {
	var out []Action
	for _, tr := range t.Ticks {
		out = append(out, tr.Actions...)
	}
	return out
}

// Transitions returns every alert transition, in time order.
func (t Timeline) Transitions() []invariant.Transition {
	var out []invariant.Transition
	for _, tr := range t.Ticks {
		out = append(out, tr.Transitions...)
	}
	return out
}

// First returns the first action taken (see Action.Taken) with that name
// and target, and whether there is one.
func (t Timeline) First(action, target string) (Action, bool) {
	for _, a := range t.Actions() {
		if a.Taken() && a.Action == action && a.Target == target {
			return a, true
		}
	}
	return Action{}, false
}

// Comparison is how two replays of one recording differ in what their
// operators would have done: by the first time each action was taken on
// each target.
type Comparison struct {
	// A and B are the timelines' names.
	A, B string
	// Shifted are the actions both took, at different times.
	Shifted []Shift
	// Same are the actions both took at the same time.
	Same []Shift
	// OnlyA and OnlyB are the actions (the first of each action and
	// target) only one of them took.
	OnlyA, OnlyB []Action
	// Summary says it in sentences: "v2 would have evicted the leaders of
	// store 3 4m0s earlier than v1. v2 would never have drained store 5;
	// it never touched store 5."
	Summary string
}

// Shift is one action both replays took, and when.
type Shift struct {
	Action, Target string
	A, B           time.Time
	// By is B - A: negative when B took it earlier.
	By time.Duration
}

// Compare compares what the operators of two replays of one recording
// would have done.
func Compare(a, b Timeline) Comparison {
	c := Comparison{A: a.Name, B: b.Name}
	fa, fb := firsts(a), firsts(b)
	for _, x := range fa.order {
		y, ok := fb.by[x.key()]
		switch {
		case !ok:
			c.OnlyA = append(c.OnlyA, x)
		case y.At.Equal(x.At):
			c.Same = append(c.Same, Shift{Action: x.Action, Target: x.Target, A: x.At, B: y.At})
		default:
			c.Shifted = append(c.Shifted, Shift{Action: x.Action, Target: x.Target, A: x.At, B: y.At, By: y.At.Sub(x.At)})
		}
	}
	for _, y := range fb.order {
		if _, ok := fa.by[y.key()]; !ok {
			c.OnlyB = append(c.OnlyB, y)
		}
	}
	c.Summary = c.summary(touched(b))
	return c
}

// String returns the summary.
func (c Comparison) String() string { return c.Summary }

func (c Comparison) summary(bTouched map[string]bool) string {
	var s []string
	for _, x := range c.Shifted {
		when := "earlier"
		d := -x.By
		if x.By > 0 {
			when, d = "later", x.By
		}
		s = append(s, fmt.Sprintf("%s would have %s %s %v %s than %s.", c.B, verb(x.Action), x.Target, d, when, c.A))
	}
	for _, x := range c.OnlyB {
		s = append(s, fmt.Sprintf("%s would have %s %s at %s, which %s never did.", c.B, verb(x.Action), x.Target, x.At.UTC().Format(time.TimeOnly), c.A))
	}
	for _, x := range c.OnlyA {
		line := fmt.Sprintf("%s would never have %s %s (%s did at %s)", c.B, verb(x.Action), x.Target, c.A, x.At.UTC().Format(time.TimeOnly))
		if !bTouched[x.Target] {
			line += fmt.Sprintf("; it never touched %s", x.Target)
		}
		s = append(s, line+".")
	}
	if len(s) == 0 {
		return fmt.Sprintf("%s and %s would have taken the same actions at the same times.", c.A, c.B)
	}
	return strings.Join(s, " ")
}

// verb says what an action does, in the past tense.
func verb(action string) string {
	switch action {
	case guard.ActionEvictLeaders:
		return "evicted the leaders of"
	case guard.ActionRestoreLeaders:
		return "restored the leaders of"
	case guard.ActionTransferLeader:
		return "moved the leader of"
	case guard.ActionSplitRegion:
		return "split"
	case guard.ActionDrainStore:
		return "drained"
	case guard.ActionUndrainStore:
		return "undrained"
	case guard.ActionSetScheduleLimit:
		return "set the"
	case guard.ActionSetLowSpaceThreshold:
		return "set the low-space threshold to"
	}
	return "run " + action + " on"
}

func (a Action) key() string { return a.Action + "\x00" + a.Target }

type firstActions struct {
	order []Action
	by    map[string]Action
}

func firsts(t Timeline) firstActions {
	f := firstActions{by: map[string]Action{}}
	for _, a := range t.Actions() {
		if !a.Taken() {
			continue
		}
		if _, ok := f.by[a.key()]; !ok {
			f.by[a.key()] = a
			f.order = append(f.order, a)
		}
	}
	return f
}

// touched returns the targets of every action a timeline asked for,
// taken or not, and the stores named in them.
func touched(t Timeline) map[string]bool {
	out := map[string]bool{}
	for _, a := range t.Actions() {
		out[a.Target] = true
		if _, st, ok := strings.Cut(a.Target, " to "); ok {
			out[st] = true
		}
	}
	return out
}
