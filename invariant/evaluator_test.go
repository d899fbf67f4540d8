package invariant

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/stretchr/testify/require"
)

var t0 = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

var errDown = errors.New("prometheus is down")

// script is a check whose findings the test sets before each call.
type script struct {
	findings []Finding
	err      error
}

func (s *script) check(context.Context, time.Time) ([]Finding, error) { return s.findings, s.err }

// keys makes findings with the given keys and a message naming the key.
func keys(ks ...string) []Finding {
	out := make([]Finding, len(ks))
	for i, k := range ks {
		out[i] = Finding{Key: k, Message: k + " is bad"}
	}
	return out
}

// step is one call of Evaluate in a scripted scenario.
// unknown returns findings that report the keys as unknown.
func unknown(ks ...string) []Finding {
	fs := keys(ks...)
	for i := range fs {
		fs[i].Unknown = true
	}
	return fs
}

type step struct {
	at       time.Duration // offset from t0
	findings []Finding
	err      error
	// want are the report's transitions as strings, then the violations
	// as "key=state".
	transitions []string
	violations  []string
}

func violationStrings(vs []Alert) []string {
	var out []string
	for _, v := range vs {
		out = append(out, v.Key+":"+v.State.String())
	}
	return out
}

func transitionStrings(ts []Transition) []string {
	var out []string
	for _, tr := range ts {
		out = append(out, tr.String())
	}
	return out
}

func TestRules(t *testing.T) {
	sec := time.Second
	tests := []struct {
		name      string
		grace     time.Duration
		keep      time.Duration
		retention time.Duration // 0 means the default
		steps     []step
	}{
		{
			name:  "grace 0 fires in the call that first sees it",
			grace: 0,
			steps: []step{
				{at: 0, findings: keys("a"), transitions: []string{"inv a: inactive -> firing"}, violations: []string{"a:firing"}},
				{at: 10 * sec, findings: keys("a"), violations: []string{"a:firing"}},
			},
		},
		{
			name:  "pending fires once grace has elapsed since first seen",
			grace: 30 * sec,
			steps: []step{
				{at: 0, findings: keys("a"), transitions: []string{"inv a: inactive -> pending"}, violations: []string{"a:pending"}},
				{at: 29 * sec, findings: keys("a"), violations: []string{"a:pending"}},
				{at: 30 * sec, findings: keys("a"), transitions: []string{"inv a: pending -> firing"}, violations: []string{"a:firing"}},
				{at: 40 * sec, findings: keys("a"), violations: []string{"a:firing"}},
			},
		},
		{
			name:  "a pending finding that clears is dropped and its clock starts again",
			grace: 30 * sec,
			steps: []step{
				{at: 0, findings: keys("a"), transitions: []string{"inv a: inactive -> pending"}, violations: []string{"a:pending"}},
				{at: 20 * sec, findings: nil, transitions: []string{"inv a: pending -> inactive"}},
				{at: 25 * sec, findings: keys("a"), transitions: []string{"inv a: inactive -> pending"}, violations: []string{"a:pending"}},
				{at: 40 * sec, findings: keys("a"), violations: []string{"a:pending"}},
				{at: 55 * sec, findings: keys("a"), transitions: []string{"inv a: pending -> firing"}, violations: []string{"a:firing"}},
			},
		},
		{
			name:  "a firing finding that clears resolves, then expires after the retention",
			grace: 10 * sec,
			steps: []step{
				{at: 0, findings: keys("a"), transitions: []string{"inv a: inactive -> pending"}, violations: []string{"a:pending"}},
				{at: 10 * sec, findings: keys("a"), transitions: []string{"inv a: pending -> firing"}, violations: []string{"a:firing"}},
				{at: 20 * sec, findings: nil, transitions: []string{"inv a: firing -> resolved"}},
				{at: 20*sec + 15*time.Minute - 1, findings: nil},
				{at: 20*sec + 15*time.Minute, findings: nil, transitions: []string{"inv a: resolved -> inactive"}},
				{at: 30 * time.Minute, findings: nil},
			},
		},
		{
			name:  "an unknown key keeps its pending clock, neither firing nor dropping",
			grace: 30 * sec,
			steps: []step{
				{at: 0, findings: keys("a"), transitions: []string{"inv a: inactive -> pending"}, violations: []string{"a:pending"}},
				{at: 20 * sec, findings: unknown("a"), violations: []string{"a:pending"}},
				{at: 40 * sec, findings: unknown("a"), violations: []string{"a:pending"}},
				{at: 41 * sec, findings: keys("a"), transitions: []string{"inv a: pending -> firing"}, violations: []string{"a:firing"}},
			},
		},
		{
			name:  "an unknown key keeps firing and does not resolve",
			grace: 0,
			keep:  5 * sec,
			steps: []step{
				{at: 0, findings: keys("a", "b"), transitions: []string{"inv a: inactive -> firing", "inv b: inactive -> firing"}, violations: []string{"a:firing", "b:firing"}},
				{at: 10 * sec, findings: unknown("a"), violations: []string{"a:firing", "b:firing"}},
				{at: 20 * sec, findings: unknown("a"), transitions: []string{"inv b: firing -> resolved"}, violations: []string{"a:firing"}},
				{at: 30 * sec, findings: nil, violations: []string{"a:firing"}},
				{at: 35 * sec, findings: nil, transitions: []string{"inv a: firing -> resolved"}},
			},
		},
		{
			name:      "an unknown key with no state gets none, and resolved entries keep their retention clock",
			grace:     0,
			retention: time.Minute,
			steps: []step{
				{at: 0, findings: unknown("a")},
				{at: 1 * sec, findings: keys("b"), transitions: []string{"inv b: inactive -> firing"}, violations: []string{"b:firing"}},
				{at: 2 * sec, findings: nil, transitions: []string{"inv b: firing -> resolved"}},
				{at: 90 * sec, findings: unknown("b")},
				{at: 91 * sec, findings: nil, transitions: []string{"inv b: resolved -> inactive"}},
			},
		},
		{
			name:  "a key both unknown and violated counts as violated",
			grace: 0,
			steps: []step{
				{at: 0, findings: append(unknown("a"), keys("a")...), transitions: []string{"inv a: inactive -> firing"}, violations: []string{"a:firing"}},
			},
		},
		{
			name:      "a custom retention",
			grace:     0,
			retention: time.Minute,
			steps: []step{
				{at: 0, findings: keys("a"), transitions: []string{"inv a: inactive -> firing"}, violations: []string{"a:firing"}},
				{at: 10 * sec, findings: nil, transitions: []string{"inv a: firing -> resolved"}},
				{at: 69 * sec, findings: nil},
				{at: 70 * sec, findings: nil, transitions: []string{"inv a: resolved -> inactive"}},
			},
		},
		{
			name:  "a finding back while resolved starts a new pending episode",
			grace: 10 * sec,
			steps: []step{
				{at: 0, findings: keys("a"), transitions: []string{"inv a: inactive -> pending"}, violations: []string{"a:pending"}},
				{at: 10 * sec, findings: keys("a"), transitions: []string{"inv a: pending -> firing"}, violations: []string{"a:firing"}},
				{at: 20 * sec, findings: nil, transitions: []string{"inv a: firing -> resolved"}},
				{at: 30 * sec, findings: keys("a"), transitions: []string{"inv a: resolved -> pending"}, violations: []string{"a:pending"}},
				{at: 39 * sec, findings: keys("a"), violations: []string{"a:pending"}},
				{at: 40 * sec, findings: keys("a"), transitions: []string{"inv a: pending -> firing"}, violations: []string{"a:firing"}},
			},
		},
		{
			name:  "keep-firing hold keeps a cleared finding firing, then resolves it",
			grace: 0,
			keep:  30 * sec,
			steps: []step{
				{at: 0, findings: keys("a"), transitions: []string{"inv a: inactive -> firing"}, violations: []string{"a:firing"}},
				{at: 10 * sec, findings: nil, violations: []string{"a:firing"}},
				{at: 39 * sec, findings: nil, violations: []string{"a:firing"}},
				{at: 40 * sec, findings: nil, transitions: []string{"inv a: firing -> resolved"}},
			},
		},
		{
			name:  "a finding seen again during the hold goes on firing and the hold restarts",
			grace: 0,
			keep:  30 * sec,
			steps: []step{
				{at: 0, findings: keys("a"), transitions: []string{"inv a: inactive -> firing"}, violations: []string{"a:firing"}},
				{at: 10 * sec, findings: nil, violations: []string{"a:firing"}},
				{at: 20 * sec, findings: keys("a"), violations: []string{"a:firing"}},
				{at: 30 * sec, findings: nil, violations: []string{"a:firing"}},
				{at: 59 * sec, findings: nil, violations: []string{"a:firing"}},
				{at: 60 * sec, findings: nil, transitions: []string{"inv a: firing -> resolved"}},
			},
		},
		{
			name:  "the hold does not apply to a pending finding",
			grace: 10 * sec,
			keep:  time.Minute,
			steps: []step{
				{at: 0, findings: keys("a"), transitions: []string{"inv a: inactive -> pending"}, violations: []string{"a:pending"}},
				{at: 5 * sec, findings: nil, transitions: []string{"inv a: pending -> inactive"}},
			},
		},
		{
			name:  "a failed check keeps a pending finding and its clock",
			grace: 30 * sec,
			steps: []step{
				{at: 0, findings: keys("a"), transitions: []string{"inv a: inactive -> pending"}, violations: []string{"a:pending"}},
				{at: 10 * sec, err: errDown, violations: []string{"a:pending"}},
				{at: 40 * sec, err: errDown, violations: []string{"a:pending"}},
				{at: 50 * sec, findings: keys("a"), transitions: []string{"inv a: pending -> firing"}, violations: []string{"a:firing"}},
			},
		},
		{
			name:  "a failed check does not resolve a firing finding",
			grace: 0,
			steps: []step{
				{at: 0, findings: keys("a", "b"), transitions: []string{"inv a: inactive -> firing", "inv b: inactive -> firing"}, violations: []string{"a:firing", "b:firing"}},
				{at: 10 * sec, err: errDown, violations: []string{"a:firing", "b:firing"}},
				{at: 20 * sec, findings: keys("a"), err: errDown, violations: []string{"a:firing", "b:firing"}},
				{at: 30 * sec, findings: keys("b"), transitions: []string{"inv a: firing -> resolved"}, violations: []string{"b:firing"}},
			},
		},
		{
			name:  "a failed check neither ends a hold nor expires a resolved finding",
			grace: 0,
			keep:  10 * sec,
			steps: []step{
				{at: 0, findings: keys("a", "b"), transitions: []string{"inv a: inactive -> firing", "inv b: inactive -> firing"}, violations: []string{"a:firing", "b:firing"}},
				{at: 1 * sec, findings: keys("b"), violations: []string{"a:firing", "b:firing"}},
				{at: 11 * sec, findings: keys("b"), transitions: []string{"inv a: firing -> resolved"}, violations: []string{"b:firing"}},
				{at: 12 * sec, findings: nil, violations: []string{"b:firing"}},
				{at: time.Hour, err: errDown, violations: []string{"b:firing"}},
				{at: time.Hour + sec, findings: nil, transitions: []string{"inv a: resolved -> inactive", "inv b: firing -> resolved"}},
			},
		},
		{
			// Time going back restarts the clocks that lie after the new
			// time: nothing fires early, and nothing waits for the old
			// time to come round again.
			name:  "time going backwards restarts the pending clocks after it",
			grace: 30 * sec,
			steps: []step{
				{at: time.Hour, findings: keys("a"), transitions: []string{"inv a: inactive -> pending"}, violations: []string{"a:pending"}},
				{at: 0, findings: keys("a", "b"), transitions: []string{"inv b: inactive -> pending"}, violations: []string{"a:pending", "b:pending"}},
				{at: 20 * sec, findings: keys("a", "b"), violations: []string{"a:pending", "b:pending"}},
				{at: 30 * sec, findings: keys("a", "b"), transitions: []string{"inv a: pending -> firing", "inv b: pending -> firing"}, violations: []string{"a:firing", "b:firing"}},
			},
		},
		{
			name:  "time going backwards restarts holds and retentions after it",
			grace: 0,
			keep:  30 * sec,
			steps: []step{
				{at: time.Hour, findings: keys("a", "b"), transitions: []string{"inv a: inactive -> firing", "inv b: inactive -> firing"}, violations: []string{"a:firing", "b:firing"}},
				{at: time.Hour + sec, findings: keys("a"), violations: []string{"a:firing", "b:firing"}},
				{at: time.Hour + 31*sec, findings: keys("a"), transitions: []string{"inv b: firing -> resolved"}, violations: []string{"a:firing"}},
				{at: time.Hour + 32*sec, findings: nil, violations: []string{"a:firing"}},
				// Back to 0: a's hold and b's retention start again at 0.
				{at: 0, findings: nil, violations: []string{"a:firing"}},
				{at: 29 * sec, findings: nil, violations: []string{"a:firing"}},
				{at: 30 * sec, findings: nil, transitions: []string{"inv a: firing -> resolved"}},
				{at: 15 * time.Minute, findings: nil, transitions: []string{"inv b: resolved -> inactive"}},
				{at: 15*time.Minute + 30*sec, findings: nil, transitions: []string{"inv a: resolved -> inactive"}},
			},
		},
		{
			name:  "a repeated key: the first finding wins",
			grace: 0,
			steps: []step{
				{
					at:          0,
					findings:    []Finding{{Key: "a", Message: "first"}, {Key: "b"}, {Key: "a", Message: "second"}},
					transitions: []string{"inv a: inactive -> firing", "inv b: inactive -> firing"},
					violations:  []string{"a:firing", "b:firing"},
				},
				{at: 10 * sec, findings: keys("a", "a"), transitions: []string{"inv b: firing -> resolved"}, violations: []string{"a:firing"}},
			},
		},
		{
			name:  "violations and transitions are sorted by key",
			grace: 0,
			steps: []step{
				{
					at: 0, findings: keys("store=4", "store=10", "", "store=1"),
					transitions: []string{"inv: inactive -> firing", "inv store=1: inactive -> firing", "inv store=10: inactive -> firing", "inv store=4: inactive -> firing"},
					violations:  []string{":firing", "store=1:firing", "store=10:firing", "store=4:firing"},
				},
				{
					at: 10 * sec, findings: keys("store=2", "store=10", "store=0"),
					transitions: []string{"inv: firing -> resolved", "inv store=0: inactive -> firing", "inv store=1: firing -> resolved", "inv store=2: inactive -> firing", "inv store=4: firing -> resolved"},
					violations:  []string{"store=0:firing", "store=10:firing", "store=2:firing"},
				},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &script{}
			e, err := New([]Invariant{{Name: "inv", Check: s.check, Grace: tt.grace, KeepFiringFor: tt.keep, Severity: SeverityWarning}}, Config{ResolvedRetention: tt.retention})
			require.NoError(t, err)
			for i, st := range tt.steps {
				s.findings, s.err = st.findings, st.err
				now := t0.Add(st.at)
				r, err := e.Evaluate(context.Background(), now)
				require.NoError(t, err, "step %d", i)
				if diff := cmp.Diff(st.transitions, transitionStrings(r.Transitions)); diff != "" {
					t.Errorf("step %d (%v): transitions (-want +got):\n%s", i, st.at, diff)
				}
				if diff := cmp.Diff(st.violations, violationStrings(r.Violations)); diff != "" {
					t.Errorf("step %d (%v): violations (-want +got):\n%s", i, st.at, diff)
				}
				var wantErrs []string
				if st.err != nil {
					wantErrs = []string{"inv"}
				}
				var gotErrs []string
				for _, ce := range r.Errors {
					gotErrs = append(gotErrs, ce.Invariant)
					if !errors.Is(ce, st.err) {
						t.Errorf("step %d: error %v does not wrap %v", i, ce, st.err)
					}
				}
				if diff := cmp.Diff(wantErrs, gotErrs); diff != "" {
					t.Errorf("step %d: failed checks (-want +got):\n%s", i, diff)
				}
				if !r.At.Equal(now) {
					t.Errorf("step %d: report at %v, want %v", i, r.At, now)
				}
			}
		})
	}
}

// TestAlertFields follows one pair through an episode and checks every field
// of its alerts.
func TestAlertFields(t *testing.T) {
	s := &script{}
	inv := Invariant{
		Name: "disk", Check: s.check, Grace: 20 * time.Second, KeepFiringFor: 10 * time.Second,
		Severity: SeverityCritical, Labels: map[string]string{"team": "storage"},
	}
	e, err := New([]Invariant{inv}, Config{})
	require.NoError(t, err)
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	labels := map[string]string{"team": "storage", "zone": "z1"}
	base := Alert{Invariant: "disk", Key: "store=4", Severity: SeverityCritical, Labels: labels}
	with := func(f func(*Alert)) Alert { a := base; f(&a); return a }

	steps := []struct {
		at          time.Duration
		findings    []Finding
		violations  []Alert
		transitions []Transition
	}{
		{
			at:       0,
			findings: []Finding{{Key: "store=4", Message: "disk 91% full", Value: 0.91, Labels: map[string]string{"zone": "z1", "team": "ignored"}}},
			violations: []Alert{with(func(a *Alert) {
				a.State, a.Message, a.Value, a.FirstSeen, a.LastSeen = StatePending, "disk 91% full", 0.91, at(0), at(0)
			})},
			transitions: []Transition{{Invariant: "disk", Key: "store=4", From: StateInactive, To: StatePending, At: at(0), Alert: with(func(a *Alert) {
				a.State, a.Message, a.Value, a.FirstSeen, a.LastSeen = StatePending, "disk 91% full", 0.91, at(0), at(0)
			})}},
		},
		{
			at:       20 * time.Second,
			findings: []Finding{{Key: "store=4", Message: "disk 93% full", Value: 0.93, Labels: map[string]string{"zone": "z1"}}},
			violations: []Alert{with(func(a *Alert) {
				a.State, a.Message, a.Value, a.FirstSeen, a.LastSeen, a.FiredAt = StateFiring, "disk 93% full", 0.93, at(0), at(20*time.Second), at(20*time.Second)
			})},
			transitions: []Transition{{Invariant: "disk", Key: "store=4", From: StatePending, To: StateFiring, At: at(20 * time.Second), Alert: with(func(a *Alert) {
				a.State, a.Message, a.Value, a.FirstSeen, a.LastSeen, a.FiredAt = StateFiring, "disk 93% full", 0.93, at(0), at(20*time.Second), at(20*time.Second)
			})}},
		},
		{
			at: 25 * time.Second,
			violations: []Alert{with(func(a *Alert) {
				a.State, a.Message, a.Value, a.FirstSeen, a.LastSeen, a.FiredAt, a.KeepFiringSince = StateFiring, "disk 93% full", 0.93, at(0), at(20*time.Second), at(20*time.Second), at(25*time.Second)
			})},
		},
		{
			at: 35 * time.Second,
			transitions: []Transition{{Invariant: "disk", Key: "store=4", From: StateFiring, To: StateResolved, At: at(35 * time.Second), Alert: with(func(a *Alert) {
				a.State, a.Message, a.Value, a.FirstSeen, a.LastSeen, a.FiredAt, a.ResolvedAt = StateResolved, "disk 93% full", 0.93, at(0), at(20*time.Second), at(20*time.Second), at(35*time.Second)
			})}},
		},
	}
	for i, st := range steps {
		s.findings = st.findings
		r, err := e.Evaluate(context.Background(), at(st.at))
		require.NoError(t, err)
		if diff := cmp.Diff(st.violations, r.Violations, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("step %d: violations (-want +got):\n%s", i, diff)
		}
		if diff := cmp.Diff(st.transitions, r.Transitions, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("step %d: transitions (-want +got):\n%s", i, diff)
		}
	}
	want := []Alert{with(func(a *Alert) {
		a.State, a.Message, a.Value, a.FirstSeen, a.LastSeen, a.FiredAt, a.ResolvedAt = StateResolved, "disk 93% full", 0.93, at(0), at(20*time.Second), at(20*time.Second), at(35*time.Second)
	})}
	if diff := cmp.Diff(want, e.Alerts()); diff != "" {
		t.Errorf("Alerts (-want +got):\n%s", diff)
	}
}

func TestLabels(t *testing.T) {
	s := &script{}
	e, err := New([]Invariant{
		{Name: "bare", Check: s.check, Severity: SeverityInfo},
		{Name: "labelled", Check: s.check, Severity: SeverityInfo, Labels: map[string]string{"team": "storage"}},
	}, Config{})
	require.NoError(t, err)
	fl := map[string]string{"store": "4"}
	s.findings = []Finding{{Key: "a", Labels: fl}, {Key: "b"}}
	r, err := e.Evaluate(context.Background(), t0)
	require.NoError(t, err)
	got := map[string]map[string]string{}
	for _, v := range r.Violations {
		got[v.Invariant+"/"+v.Key] = v.Labels
	}
	want := map[string]map[string]string{
		"bare/a":     {"store": "4"},
		"bare/b":     nil,
		"labelled/a": {"store": "4", "team": "storage"},
		"labelled/b": {"team": "storage"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("labels (-want +got):\n%s", diff)
	}

	// The evaluator keeps its own copy: a check that reuses its map does
	// not change what was recorded until it reports the change.
	fl["store"] = "5"
	s.findings = []Finding{{Key: "a"}}
	r, err = e.Evaluate(context.Background(), t0.Add(time.Second))
	require.NoError(t, err)
	require.Len(t, r.Violations, 2)
	if diff := cmp.Diff(map[string]string(nil), r.Violations[0].Labels); diff != "" {
		t.Errorf("labels after the finding dropped them (-want +got):\n%s", diff)
	}
	s.findings = []Finding{{Key: "a", Labels: fl}}
	r, err = e.Evaluate(context.Background(), t0.Add(2*time.Second))
	require.NoError(t, err)
	require.Len(t, r.Violations, 2)
	if diff := cmp.Diff(map[string]string{"store": "5", "team": "storage"}, r.Violations[1].Labels); diff != "" {
		t.Errorf("labels after a change (-want +got):\n%s", diff)
	}
}

func TestNewValidates(t *testing.T) {
	ok := func(context.Context, time.Time) ([]Finding, error) { return nil, nil }
	good := Invariant{Name: "a", Check: ok, Severity: SeverityWarning}
	with := func(f func(*Invariant)) Invariant { i := good; f(&i); return i }
	tests := []struct {
		name       string
		invariants []Invariant
		cfg        Config
		wantErr    bool
	}{
		{name: "valid", invariants: []Invariant{good, with(func(i *Invariant) { i.Name = "b" })}},
		{name: "none", invariants: nil},
		{name: "empty name", invariants: []Invariant{with(func(i *Invariant) { i.Name = "" })}, wantErr: true},
		{name: "repeated name", invariants: []Invariant{good, good}, wantErr: true},
		{name: "nil check", invariants: []Invariant{with(func(i *Invariant) { i.Check = nil })}, wantErr: true},
		{name: "negative grace", invariants: []Invariant{with(func(i *Invariant) { i.Grace = -1 })}, wantErr: true},
		{name: "negative hold", invariants: []Invariant{with(func(i *Invariant) { i.KeepFiringFor = -1 })}, wantErr: true},
		{name: "zero severity", invariants: []Invariant{with(func(i *Invariant) { i.Severity = 0 })}, wantErr: true},
		{name: "severity out of range", invariants: []Invariant{with(func(i *Invariant) { i.Severity = SeverityCritical + 1 })}, wantErr: true},
		{name: "negative retention means none", invariants: []Invariant{good}, cfg: Config{ResolvedRetention: -time.Second}},
		{name: "negative check timeout means none", invariants: []Invariant{good}, cfg: Config{CheckTimeout: -time.Second}},
		{name: "negative concurrency", invariants: []Invariant{good}, cfg: Config{Concurrency: -1}, wantErr: true},
		{name: "concurrency 1", invariants: []Invariant{good}, cfg: Config{Concurrency: 1}},
		{name: "zero config", invariants: []Invariant{good}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := New(tt.invariants, tt.cfg)
			if tt.wantErr {
				if !errors.Is(err, ErrInvalid) {
					t.Fatalf("New: error %v, want one matching ErrInvalid", err)
				}
				if e != nil {
					t.Errorf("New returned an evaluator with an error")
				}
				return
			}
			require.NoError(t, err)
			_, err = e.Evaluate(context.Background(), t0)
			require.NoError(t, err)
		})
	}
}

// TestConfigDefaults: every zero field of Config takes its documented
// default, field by field, and a negative duration means none.
func TestConfigDefaults(t *testing.T) {
	logger := slog.New(slog.DiscardHandler)
	for _, tt := range []struct {
		name string
		cfg  Config
		want Config
	}{
		{name: "zero", want: Config{ResolvedRetention: DefaultResolvedRetention, CheckTimeout: DefaultCheckTimeout,
			Concurrency: DefaultConcurrency, OutageTolerance: time.Hour, ForGracePeriod: 10 * time.Minute}},
		{name: "one field set", cfg: Config{ForGracePeriod: time.Minute, Identity: "7712828691867624985", Logger: logger},
			want: Config{ResolvedRetention: DefaultResolvedRetention, CheckTimeout: DefaultCheckTimeout, Concurrency: DefaultConcurrency,
				OutageTolerance: time.Hour, ForGracePeriod: time.Minute, Identity: "7712828691867624985", Logger: logger}},
		{name: "negative means none", cfg: Config{ResolvedRetention: -1, CheckTimeout: -1, OutageTolerance: -1, ForGracePeriod: -1, Concurrency: 3},
			want: Config{Concurrency: 3}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e, err := New(nil, tt.cfg)
			require.NoError(t, err)
			require.NotNil(t, e.cfg.Logger)
			got := e.cfg
			if tt.cfg.Logger == nil {
				got.Logger = nil
			}
			if diff := cmp.Diff(tt.want, got, cmpopts.IgnoreUnexported(slog.Logger{})); diff != "" {
				t.Errorf("config (-want +got):\n%s", diff)
			}
		})
	}
}

func TestNewCopiesLabels(t *testing.T) {
	s := &script{findings: keys("a")}
	labels := map[string]string{"team": "storage"}
	e, err := New([]Invariant{{Name: "inv", Check: s.check, Severity: SeverityInfo, Labels: labels}}, Config{})
	require.NoError(t, err)
	labels["team"] = "changed"
	r, err := e.Evaluate(context.Background(), t0)
	require.NoError(t, err)
	require.Len(t, r.Violations, 1)
	if got := r.Violations[0].Labels["team"]; got != "storage" {
		t.Errorf("label team = %q after the caller changed its map, want storage", got)
	}
}

func TestEvaluateCallerErrors(t *testing.T) {
	s := &script{findings: keys("a")}
	e, err := New([]Invariant{{Name: "inv", Check: s.check, Grace: time.Minute, Severity: SeverityInfo}}, Config{})
	require.NoError(t, err)
	_, err = e.Evaluate(context.Background(), t0)
	require.NoError(t, err)

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	s.findings = nil
	if _, err := e.Evaluate(ctx, t0.Add(time.Second)); !errors.Is(err, context.Canceled) {
		t.Errorf("Evaluate with a cancelled context: error %v, want context.Canceled", err)
	}
	if _, err := e.Evaluate(context.Background(), time.Time{}); !errors.Is(err, ErrInvalid) {
		t.Errorf("Evaluate at the zero time: error %v, want ErrInvalid", err)
	}
	if err := e.EvaluateInto(context.Background(), t0, nil); !errors.Is(err, ErrInvalid) {
		t.Errorf("EvaluateInto a nil report: error %v, want ErrInvalid", err)
	}
	// None of the refused calls changed anything: the pending pair is
	// still there with its first-seen time.
	got := e.Alerts()
	require.Len(t, got, 1)
	if got[0].State != StatePending || !got[0].FirstSeen.Equal(t0) {
		t.Errorf("after refused calls: %+v, want pending since %v", got[0], t0)
	}
}

func TestContextEndsDuringCall(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := &script{findings: keys("x")}
	var sawCancelled bool
	e, err := New([]Invariant{
		{Name: "a", Severity: SeverityInfo, Check: func(context.Context, time.Time) ([]Finding, error) {
			cancel()
			return keys("k"), nil
		}},
		{Name: "b", Severity: SeverityInfo, Check: func(ctx context.Context, _ time.Time) ([]Finding, error) {
			sawCancelled = ctx.Err() != nil
			return s.check(ctx, time.Time{})
		}},
	}, Config{Concurrency: 1})
	require.NoError(t, err)
	r, err := e.Evaluate(ctx, t0)
	require.NoError(t, err, "a context that ends during the call is not a caller error")
	if sawCancelled {
		t.Errorf("check b ran with a cancelled context")
	}
	if diff := cmp.Diff([]string{"a k: inactive -> firing"}, transitionStrings(r.Transitions)); diff != "" {
		t.Errorf("transitions (-want +got):\n%s", diff)
	}
	require.Len(t, r.Errors, 1)
	if r.Errors[0].Invariant != "b" || !errors.Is(r.Errors[0], context.Canceled) {
		t.Errorf("errors = %v, want b failing with context.Canceled", r.Errors)
	}
}

func TestPanickingCheckKeepsState(t *testing.T) {
	panicking := false
	s := &script{findings: keys("a")}
	e, err := New([]Invariant{{Name: "inv", Severity: SeverityInfo, Check: func(ctx context.Context, _ time.Time) ([]Finding, error) {
		if panicking {
			panic("boom")
		}
		return s.check(ctx, time.Time{})
	}}}, Config{})
	require.NoError(t, err)
	_, err = e.Evaluate(context.Background(), t0)
	require.NoError(t, err)
	panicking = true
	r, err := e.Evaluate(context.Background(), t0.Add(time.Second))
	require.NoError(t, err)
	require.Len(t, r.Errors, 1)
	if !errors.Is(r.Errors[0], ErrPanic) || !strings.Contains(r.Errors[0].Error(), "boom") {
		t.Errorf("error %v, want ErrPanic naming the panic", r.Errors[0])
	}
	if diff := cmp.Diff([]string{"a:firing"}, violationStrings(r.Violations)); diff != "" {
		t.Errorf("violations (-want +got):\n%s", diff)
	}
	var ce CheckError
	if !errors.As(error(r.Errors[0]), &ce) || ce.Invariant != "inv" {
		t.Errorf("errors.As CheckError: %+v", ce)
	}
}

// TestCheckTimeout: a check that outlives the timeout fails with
// DeadlineExceeded, and one that returns in time is applied. It runs in a
// synctest bubble, where the timeout passes only once every check is
// blocked: on a loaded machine a real 1ms could pass before the quick
// check even started.
func TestCheckTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e, err := New([]Invariant{
			{Name: "stuck", Severity: SeverityInfo, Check: func(ctx context.Context, _ time.Time) ([]Finding, error) {
				<-ctx.Done()
				return nil, ctx.Err()
			}},
			{Name: "quick", Severity: SeverityInfo, Check: func(ctx context.Context, _ time.Time) ([]Finding, error) {
				if _, ok := ctx.Deadline(); !ok {
					return nil, errors.New("no deadline")
				}
				return keys("k"), nil
			}},
		}, Config{CheckTimeout: time.Millisecond})
		require.NoError(t, err)
		r, err := e.Evaluate(context.Background(), t0)
		require.NoError(t, err)
		require.Len(t, r.Errors, 1)
		if r.Errors[0].Invariant != "stuck" || !errors.Is(r.Errors[0], context.DeadlineExceeded) {
			t.Errorf("errors = %v, want stuck failing with DeadlineExceeded", r.Errors)
		}
		if diff := cmp.Diff([]string{"k:firing"}, violationStrings(r.Violations)); diff != "" {
			t.Errorf("violations (-want +got):\n%s", diff)
		}
	})
}

// TestConcurrentEvaluate calls Evaluate, Export and Alerts from several
// goroutines: under -race this finds unguarded state, and every transition
// is reported exactly once.
func TestConcurrentEvaluate(t *testing.T) {
	s := &script{findings: keys("a", "b", "c")}
	e, err := New([]Invariant{{Name: "inv", Check: s.check, Grace: 10 * time.Second, Severity: SeverityInfo}}, Config{})
	require.NoError(t, err)
	const workers, calls = 4, 50
	var mu sync.Mutex
	var all []string
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range calls {
				r, err := e.Evaluate(context.Background(), t0.Add(time.Duration(w*calls+i)*time.Second))
				if err != nil {
					t.Error(err)
					return
				}
				if _, err := e.Export(); err != nil {
					t.Error(err)
					return
				}
				_ = e.Alerts()
				mu.Lock()
				all = append(all, transitionStrings(r.Transitions)...)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	slices.Sort(all)
	want := []string{
		"inv a: inactive -> pending", "inv a: pending -> firing",
		"inv b: inactive -> pending", "inv b: pending -> firing",
		"inv c: inactive -> pending", "inv c: pending -> firing",
	}
	if diff := cmp.Diff(want, all); diff != "" {
		t.Errorf("transitions over all goroutines (-want +got):\n%s", diff)
	}
}

func TestEvaluateIntoReusesReport(t *testing.T) {
	s := &script{}
	e, err := New([]Invariant{{Name: "inv", Check: s.check, Severity: SeverityInfo}}, Config{})
	require.NoError(t, err)
	var r Report
	s.err = errDown
	require.NoError(t, e.EvaluateInto(context.Background(), t0, &r))
	require.Len(t, r.Errors, 1)
	s.findings, s.err = keys("a", "b"), nil
	require.NoError(t, e.EvaluateInto(context.Background(), t0.Add(time.Second), &r))
	if len(r.Errors) != 0 || len(r.Transitions) != 2 || len(r.Violations) != 2 {
		t.Fatalf("report after a second call: %d errors, %d transitions, %d violations; want 0, 2, 2", len(r.Errors), len(r.Transitions), len(r.Violations))
	}
	require.NoError(t, e.EvaluateInto(context.Background(), t0.Add(2*time.Second), &r))
	if len(r.Transitions) != 0 || len(r.Violations) != 2 {
		t.Errorf("report after a steady call: %d transitions, %d violations; want 0, 2", len(r.Transitions), len(r.Violations))
	}
}

// TestSteadyStateAllocatesNothing: once nothing changes, a call allocates
// nothing per key. By default it allocates the one context that carries the
// checks' deadline; without a check timeout, nothing at all.
func TestSteadyStateAllocatesNothing(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under the race detector")
	}
	const n = 1000
	findings := make([]Finding, n)
	for i := range findings {
		findings[i] = Finding{Key: fmt.Sprintf("store=%d", i), Message: "bad", Value: float64(i), Labels: map[string]string{"store": fmt.Sprint(i)}}
	}
	for _, tt := range []struct {
		name string
		cfg  Config
		// deadline is the most allocations of the context that carries
		// the checks' deadline.
		deadline float64
	}{
		{name: "default check timeout", deadline: 4},
		{name: "no check timeout", cfg: Config{CheckTimeout: -1}, deadline: 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e, err := New([]Invariant{{
				Name: "inv", Severity: SeverityInfo, Labels: map[string]string{"team": "storage"},
				Check: func(context.Context, time.Time) ([]Finding, error) { return findings, nil },
			}}, tt.cfg)
			require.NoError(t, err)
			var r Report
			now := t0
			require.NoError(t, e.EvaluateInto(context.Background(), now, &r))
			require.Len(t, r.Violations, n)
			allocs := testing.AllocsPerRun(20, func() {
				now = now.Add(time.Second)
				if err := e.EvaluateInto(context.Background(), now, &r); err != nil {
					t.Fatal(err)
				}
			})
			if allocs > tt.deadline {
				t.Errorf("EvaluateInto allocated %v times per call in the steady state, want at most %v", allocs, tt.deadline)
			}
			allocs = testing.AllocsPerRun(20, func() {
				now = now.Add(time.Second)
				if _, err := e.Evaluate(context.Background(), now); err != nil {
					t.Fatal(err)
				}
			})
			if allocs > tt.deadline+1 {
				t.Errorf("Evaluate allocated %v times per call in the steady state, want at most %v (the violations and the deadline)", allocs, tt.deadline+1)
			}
		})
	}
}

func TestSeverityAndStateText(t *testing.T) {
	for _, s := range []Severity{SeverityInfo, SeverityWarning, SeverityCritical} {
		b, err := s.MarshalText()
		require.NoError(t, err)
		var got Severity
		require.NoError(t, got.UnmarshalText(b))
		if got != s {
			t.Errorf("severity %v round-tripped to %v", s, got)
		}
	}
	if !(SeverityInfo < SeverityWarning && SeverityWarning < SeverityCritical) {
		t.Errorf("severities are not ordered")
	}
	tests := []struct {
		got, want string
	}{
		{SeverityInfo.String(), "info"},
		{SeverityWarning.String(), "warning"},
		{SeverityCritical.String(), "critical"},
		{Severity(0).String(), "Severity(0)"},
		{StateInactive.String(), "inactive"},
		{StatePending.String(), "pending"},
		{StateFiring.String(), "firing"},
		{StateResolved.String(), "resolved"},
		{State(7).String(), "State(7)"},
		{Transition{Invariant: "store_health", Key: "store=4", From: StatePending, To: StateFiring}.String(), "store_health store=4: pending -> firing"},
		{Transition{Invariant: "quorum", From: StateFiring, To: StateResolved}.String(), "quorum: firing -> resolved"},
		{CheckError{Invariant: "quorum", Err: errDown}.Error(), `invariant "quorum": check failed: prometheus is down`},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
	for _, st := range []State{StateInactive, StatePending, StateFiring, StateResolved} {
		b, err := st.MarshalText()
		require.NoError(t, err)
		var got State
		require.NoError(t, got.UnmarshalText(b))
		if got != st {
			t.Errorf("state %v round-tripped to %v", st, got)
		}
	}
	var sv Severity
	if err := sv.UnmarshalText([]byte("fatal")); !errors.Is(err, ErrInvalid) {
		t.Errorf("UnmarshalText(fatal): %v, want ErrInvalid", err)
	}
	var st State
	if err := st.UnmarshalText([]byte("burning")); !errors.Is(err, ErrInvalid) {
		t.Errorf("State.UnmarshalText(burning): %v, want ErrInvalid", err)
	}
	if _, err := Severity(9).MarshalText(); !errors.Is(err, ErrInvalid) {
		t.Errorf("Severity(9).MarshalText: %v, want ErrInvalid", err)
	}
	if _, err := State(-1).MarshalText(); !errors.Is(err, ErrInvalid) {
		t.Errorf("State(-1).MarshalText: %v, want ErrInvalid", err)
	}
}

func TestLogger(t *testing.T) {
	var buf strings.Builder
	logger := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	s := &script{findings: keys("store=4")}
	e, err := New([]Invariant{{Name: "inv", Check: s.check, Severity: SeverityInfo}}, Config{Logger: logger})
	require.NoError(t, err)
	_, err = e.Evaluate(context.Background(), t0)
	require.NoError(t, err)
	s.err = errDown
	_, err = e.Evaluate(context.Background(), t0.Add(-time.Second))
	require.NoError(t, err)
	for _, want := range []string{
		`level=DEBUG msg="invariant: transition" transition="inv store=4: inactive -> firing"`,
		`level=WARN msg="invariant: evaluation time is before the previous one; restarting the clocks that lie after it" now=2026-11-27T11:59:59.000Z previous=2026-11-27T12:00:00.000Z restarted=1`,
		`level=WARN msg="invariant: check failed; keeping its state" invariant=inv error="prometheus is down"`,
	} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, buf.String())
		}
	}
}
