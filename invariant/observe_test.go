package invariant

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/stretchr/testify/require"
)

// TestOnEvaluation: Config.OnEvaluation hears of every call: the pending
// and firing pairs of each invariant after it (a failed check's kept ones
// included), each check's error and duration, and the call's own error
// when it evaluated nothing.
func TestOnEvaluation(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		disk := &script{}
		slow := &script{}
		var got []EvaluationInfo
		e, err := New([]Invariant{
			{Name: "disk", Check: disk.check, Grace: time.Minute, Severity: SeverityWarning},
			{Name: "latency", Check: func(ctx context.Context, now time.Time) ([]Finding, error) {
				time.Sleep(2 * time.Second) // synctest's clock: the check's duration is exact
				return slow.check(ctx, now)
			}, Severity: SeverityCritical},
			{Name: "quiet", Check: (&script{}).check, Severity: SeverityInfo},
		}, Config{Concurrency: 1, OnEvaluation: func(ev EvaluationInfo) {
			// The slice is borrowed: keep a copy.
			ev.Invariants = append([]InvariantInfo(nil), ev.Invariants...)
			got = append(got, ev)
		}})
		require.NoError(t, err)
		ctx := context.Background()

		disk.findings = []Finding{{Key: "store=1"}, {Key: "store=2"}}
		slow.findings = []Finding{{Key: "store=3"}}
		_, err = e.Evaluate(ctx, t0)
		require.NoError(t, err)
		slow.findings, slow.err = nil, errDown
		_, err = e.Evaluate(ctx, t0.Add(time.Minute))
		require.NoError(t, err)
		_, err = e.Evaluate(ctx, time.Time{})
		require.ErrorIs(t, err, ErrInvalid)

		want := []EvaluationInfo{
			{At: t0, Duration: 2 * time.Second, Invariants: []InvariantInfo{
				{Name: "disk", Pending: 2},
				{Name: "latency", Firing: 1, CheckDuration: 2 * time.Second},
				{Name: "quiet"},
			}},
			{At: t0.Add(time.Minute), Duration: 2 * time.Second, Invariants: []InvariantInfo{
				{Name: "disk", Firing: 2},
				// The failed check keeps its firing pair.
				{Name: "latency", Firing: 1, Err: errDown, CheckDuration: 2 * time.Second},
				{Name: "quiet"},
			}},
			{Err: ErrInvalid},
		}
		require.Len(t, got, len(want))
		if d := cmp.Diff(want, got, cmpopts.EquateErrors()); d != "" {
			t.Errorf("evaluations (-want +got):\n%s", d)
		}
		require.False(t, got[0].Failed())
		require.True(t, got[1].Failed(), "a failed check fails the evaluation")
		require.True(t, got[2].Failed(), "a call that evaluated nothing failed")
	})
}

// TestOnEvaluationCancelled: a call whose context is already done
// evaluates nothing, and says so.
func TestOnEvaluationCancelled(t *testing.T) {
	var got []error
	e, err := New([]Invariant{{Name: "a", Check: (&script{}).check, Severity: SeverityInfo}},
		Config{OnEvaluation: func(ev EvaluationInfo) { got = append(got, ev.Err) }})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = e.Evaluate(ctx, t0)
	require.ErrorIs(t, err, context.Canceled)
	require.Len(t, got, 1)
	require.ErrorIs(t, got[0], context.Canceled)
}

// TestOnEvaluationAllocatesNothing: telling OnEvaluation costs no
// allocation per call: the per-invariant slice is reused.
func TestOnEvaluationAllocatesNothing(t *testing.T) {
	findings := []Finding{{Key: "store=1"}, {Key: "store=2"}}
	check := func(context.Context, time.Time) ([]Finding, error) { return findings, nil }
	for _, hook := range []func(EvaluationInfo){nil, func(EvaluationInfo) {}} {
		e, err := New([]Invariant{
			{Name: "a", Check: check, Severity: SeverityInfo},
			{Name: "b", Check: check, Severity: SeverityInfo},
		}, Config{Concurrency: 1, CheckTimeout: -1, OnEvaluation: hook})
		require.NoError(t, err)
		var r Report
		now := t0
		require.NoError(t, e.EvaluateInto(context.Background(), now, &r))
		allocs := testing.AllocsPerRun(100, func() {
			now = now.Add(time.Second)
			if err := e.EvaluateInto(context.Background(), now, &r); err != nil {
				t.Fatal(err)
			}
		})
		require.Zero(t, allocs, "hook set: %v", hook != nil)
	}
}
