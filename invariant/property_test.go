package invariant

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestPropertyNeverFiresEarly drives evaluators with random sequences of
// findings, failed checks and times (some going backwards) and checks, at
// every call:
//
//   - safety: a pair goes to firing only once its grace period has elapsed
//     since the start of the unbroken run of calls that saw it (failed
//     calls do not break a run; when time goes back, a run that started
//     after the new time starts again at it);
//   - liveness: a pair seen for at least its grace period is firing;
//   - a pair that a successful call does not see is not pending, and is
//     firing only if the invariant has a keep-firing hold;
//   - a failed check changes no state;
//   - the transitions are exactly the changes of state between calls.
func TestPropertyNeverFiresEarly(t *testing.T) {
	graces := []time.Duration{0, 10 * time.Second, 30 * time.Second, time.Minute}
	holds := []time.Duration{0, 20 * time.Second}
	allKeys := []string{"a", "b", "c", "d"}
	for seed := range uint64(300) {
		rng := rand.New(rand.NewPCG(seed, 42))
		grace, hold := graces[rng.IntN(len(graces))], holds[rng.IntN(len(holds))]
		s := &script{}
		e, err := New([]Invariant{{Name: "inv", Check: s.check, Grace: grace, KeepFiringFor: hold, Severity: SeverityWarning}}, Config{ResolvedRetention: time.Minute})
		require.NoError(t, err)

		var prevNow time.Time              // the previous call's time
		runStart := map[string]time.Time{} // start of each seen key's unbroken run
		prev := map[string]State{}         // state of every pair after the previous call
		now := t0
		for step := range 200 {
			now = now.Add(time.Duration(rng.IntN(70)-30) * time.Second)
			failing := rng.IntN(10) == 0
			var present []string
			for _, k := range allKeys {
				if rng.IntN(10) < 7 {
					present = append(present, k)
				}
			}
			// Checks report keys in any order, and may repeat one.
			rng.Shuffle(len(present), func(i, j int) { present[i], present[j] = present[j], present[i] })
			if len(present) > 0 && rng.IntN(5) == 0 {
				present = append(present, present[rng.IntN(len(present))])
			}
			s.findings, s.err = keys(present...), nil
			if failing {
				s.err = errDown
			}
			r, err := e.Evaluate(context.Background(), now)
			require.NoError(t, err)
			if now.Before(prevNow) {
				require.True(t, r.ClockJump.Jumped(), "seed %d step %d: time went back from %v to %v, no ClockJump", seed, step, prevNow, now)
				for k, start := range runStart {
					if start.After(now) {
						runStart[k] = now
					}
				}
			} else {
				require.False(t, r.ClockJump.Jumped(), "seed %d step %d: time did not go back, ClockJump %+v", seed, step, r.ClockJump)
			}
			prevNow = now
			hw := now
			if !failing {
				for _, k := range allKeys {
					_, running := runStart[k]
					switch seen := slices.Contains(present, k); {
					case seen && !running:
						runStart[k] = hw
					case !seen:
						delete(runStart, k)
					}
				}
			}
			where := func() string {
				return fmt.Sprintf("seed %d step %d (grace %v, hold %v)", seed, step, grace, hold)
			}

			for _, tr := range r.Transitions {
				if tr.To != StateFiring {
					continue
				}
				start, running := runStart[tr.Key]
				if !running {
					t.Fatalf("%s: %v fired in a call that did not see it", where(), tr)
				}
				if hw.Sub(start) < grace {
					t.Fatalf("%s: %v fired after %v of an unbroken run, before its grace period", where(), tr, hw.Sub(start))
				}
				if !tr.Alert.FirstSeen.Equal(start) || tr.Alert.FiredAt.Sub(tr.Alert.FirstSeen) < grace {
					t.Fatalf("%s: %v: first seen %v (run began %v), fired at %v", where(), tr, tr.Alert.FirstSeen, start, tr.Alert.FiredAt)
				}
			}

			cur := map[string]State{}
			for _, a := range e.Alerts() {
				cur[a.Key] = a.State
			}
			if !failing {
				for _, k := range allKeys {
					start, seen := runStart[k]
					switch {
					case seen && hw.Sub(start) >= grace && cur[k] != StateFiring:
						t.Fatalf("%s: %s seen for %v, state %v, want firing", where(), k, hw.Sub(start), cur[k])
					case seen && cur[k] != StatePending && cur[k] != StateFiring:
						t.Fatalf("%s: %s seen, state %v", where(), k, cur[k])
					case !seen && cur[k] == StatePending:
						t.Fatalf("%s: %s not seen, still pending", where(), k)
					case !seen && cur[k] == StateFiring && hold == 0:
						t.Fatalf("%s: %s not seen, still firing with no hold", where(), k)
					}
				}
			} else if !maps.Equal(prev, cur) {
				t.Fatalf("%s: a failed check changed states from %v to %v", where(), prev, cur)
			}

			type change struct {
				key      string
				from, to State
			}
			var want, got []change
			for _, k := range allKeys {
				if prev[k] != cur[k] {
					want = append(want, change{k, prev[k], cur[k]})
				}
			}
			for _, tr := range r.Transitions {
				got = append(got, change{tr.Key, tr.From, tr.To})
			}
			if !slices.Equal(want, got) {
				t.Fatalf("%s: transitions %v, want %v", where(), got, want)
			}
			prev = cur
		}
	}
}
