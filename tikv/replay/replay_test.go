package replay_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/kvops/operator/subject"
	"github.com/kvops/operator/subject/guard"
	"github.com/kvops/operator/tikv/record"
	"github.com/kvops/operator/tikv/replay"
	"github.com/kvops/operator/tikv/tikvtest"
)

// runOrSkip runs a replay that reads metrics, skipping the test when
// Prometheus is not installed (failing it with CI=true).
func runOrSkip(t *testing.T, cfg replay.Config) replay.Timeline {
	t.Helper()
	tl, err := replay.Run(context.Background(), cfg)
	if errors.Is(err, tikvtest.ErrNoPrometheus) && os.Getenv("CI") != "true" {
		t.Skip(err)
	}
	require.NoError(t, err)
	return tl
}

// TestCompareOperators: two configurations of one operator over the
// recorded incident. v1 evicts on a firing write_latency_p99, v2 on a
// pending one: v2 would have evicted store 3 a minute (the invariant's
// grace period) earlier; both would have been let through by the guard.
func TestCompareOperators(t *testing.T) {
	v1 := runOrSkip(t, replay.Config{Open: openIncident, Name: "v1",
		Operator: &evictOnFiring{invariant: "write_latency_p99", done: map[uint64]bool{}}})
	v2 := runOrSkip(t, replay.Config{Open: openIncident, Name: "v2",
		Operator: &evictOnFiring{invariant: "write_latency_p99", pending: true, done: map[uint64]bool{}}})

	a1, ok := v1.First(guard.ActionEvictLeaders, "store 3")
	require.True(t, ok)
	require.Equal(t, incidentStart.Add(3*time.Minute), a1.At)
	require.Contains(t, a1.Reason, "would evict the 8 leaders of store 3")

	c := replay.Compare(v1, v2)
	want := replay.Comparison{A: "v1", B: "v2",
		Shifted: []replay.Shift{{Action: "evict_leaders", Target: "store 3",
			A: incidentStart.Add(3 * time.Minute), B: incidentStart.Add(2 * time.Minute), By: -time.Minute}},
		Summary: "v2 would have evicted the leaders of store 3 1m0s earlier than v1.",
	}
	if diff := cmp.Diff(want, c); diff != "" {
		t.Fatalf("Compare (-want +got):\n%s", diff)
	}
}

// TestRunDeterministic: the same recording and operator give the same
// timeline, with metrics and without.
func TestRunDeterministic(t *testing.T) {
	for _, noMetrics := range []bool{true, false} {
		run := func() replay.Timeline {
			return runOrSkip(t, replay.Config{Open: openIncident, NoMetrics: noMetrics,
				Operator: &evictOnFiring{invariant: "write_latency_p99", pending: true, done: map[uint64]bool{}}})
		}
		a, b := run(), run()
		require.Len(t, a.Ticks, 49)
		if diff := cmp.Diff(a, b); diff != "" {
			t.Fatalf("NoMetrics %v: two runs differ (-first +second):\n%s", noMetrics, diff)
		}
	}
}

// TestRunReadOnly: every action the operator asks is a dry run or a
// refusal; none is confirmed, and the replayed PD is unchanged after.
func TestRunReadOnly(t *testing.T) {
	var outcomes []guard.Event
	op := replay.OperatorFunc(func(ctx context.Context, tk replay.Tick) error {
		_, _ = tk.Actor.EvictLeaders(ctx, 2)
		_, _ = tk.Actor.TransferLeader(ctx, 9, 4)
		_, _ = tk.Actor.SetScheduleLimit(ctx, subject.LeaderLimit, 64)
		return nil
	})
	tl, err := replay.Run(context.Background(), replay.Config{Open: openIncident, NoMetrics: true, Operator: op,
		Guard: guard.Config{OnAction: func(ai guard.ActionInfo) { outcomes = append(outcomes, ai.Outcome) }}})
	require.NoError(t, err)
	require.Len(t, outcomes, 3*49)
	for i, o := range outcomes {
		require.Contains(t, []guard.Event{guard.EventDryRun, guard.EventRefused}, o, "action %d", i)
	}
	// Every tick's evict_leaders of store 2 is answered alike: nothing
	// the first changed.
	first := tl.Ticks[0].Actions[0]
	require.Equal(t, guard.EventDryRun, first.Outcome, first.Reason)
	for _, tr := range tl.Ticks[1:4] {
		require.Equal(t, first.Reason, tr.Actions[0].Reason)
	}
}

// TestRunTruncated: a recording cut short gives the timeline up to the
// cut, and record.ErrTruncated.
func TestRunTruncated(t *testing.T) {
	rc, err := openIncident()
	require.NoError(t, err)
	whole, err := io.ReadAll(rc)
	require.NoError(t, err)
	rc.Close()
	cut := whole[:len(whole)/3]
	tl, err := replay.Run(context.Background(), replay.Config{NoMetrics: true,
		Open:     func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(cut)), nil },
		Operator: replay.OperatorFunc(func(context.Context, replay.Tick) error { return nil })})
	require.ErrorIs(t, err, record.ErrTruncated)
	require.ErrorIs(t, err, subject.ErrInvalid)
	require.NotEmpty(t, tl.Ticks)
	require.Less(t, len(tl.Ticks), 49)
}

// TestRunOperatorError: an operator's error is kept in its tick, and the
// replay goes on.
func TestRunOperatorError(t *testing.T) {
	n := 0
	tl, err := replay.Run(context.Background(), replay.Config{Open: openIncident, NoMetrics: true, Step: time.Minute,
		Operator: replay.OperatorFunc(func(context.Context, replay.Tick) error {
			n++
			if n == 2 {
				return errors.New("boom")
			}
			return nil
		})})
	require.NoError(t, err)
	require.Len(t, tl.Ticks, 13)
	require.Equal(t, "boom", tl.Ticks[1].OperatorError)
	require.Empty(t, tl.Ticks[2].OperatorError)
}

// TestRunBadConfig: what Run refuses before it reads anything.
func TestRunBadConfig(t *testing.T) {
	nop := replay.OperatorFunc(func(context.Context, replay.Tick) error { return nil })
	for _, tc := range []struct {
		name string
		cfg  replay.Config
		want error
	}{
		{"no operator", replay.Config{Open: openIncident}, replay.ErrNoOperator},
		{"no recording", replay.Config{Operator: nop}, subject.ErrInvalid},
		{"end before start", replay.Config{Open: openIncident, Operator: nop, NoMetrics: true,
			End: incidentStart.Add(-time.Minute)}, subject.ErrInvalid},
		{"missing file", replay.Config{Recording: "testdata/none.jsonl", Operator: nop, NoMetrics: true}, os.ErrNotExist},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := replay.Run(context.Background(), tc.cfg)
			require.ErrorIs(t, err, tc.want)
		})
	}
}

// TestCompare: the comparison of hand-made timelines.
func TestCompare(t *testing.T) {
	at := func(m int) time.Time { return incidentStart.Add(time.Duration(m) * time.Minute) }
	act := func(m int, name, target string) replay.Action {
		return replay.Action{At: at(m), Action: name, Target: target, Outcome: guard.EventDryRun}
	}
	tl := func(name string, acts ...replay.Action) replay.Timeline {
		out := replay.Timeline{Name: name}
		for _, a := range acts {
			out.Ticks = append(out.Ticks, replay.TickRecord{At: a.At, Actions: []replay.Action{a}})
		}
		return out
	}
	refused := act(1, "drain_store", "store 4")
	refused.Outcome = guard.EventRefused
	for _, tc := range []struct {
		name string
		a, b replay.Timeline
		want replay.Comparison
	}{
		{"same", tl("v1", act(3, "evict_leaders", "store 3")), tl("v2", act(3, "evict_leaders", "store 3")),
			replay.Comparison{A: "v1", B: "v2", Same: []replay.Shift{{Action: "evict_leaders", Target: "store 3", A: at(3), B: at(3)}},
				Summary: "v1 and v2 would have taken the same actions at the same times."}},
		{"earlier and never touched", tl("v1", act(7, "evict_leaders", "store 3"), act(8, "drain_store", "store 5")),
			tl("v2", act(3, "evict_leaders", "store 3"), act(4, "evict_leaders", "store 3")),
			replay.Comparison{A: "v1", B: "v2",
				Shifted: []replay.Shift{{Action: "evict_leaders", Target: "store 3", A: at(7), B: at(3), By: -4 * time.Minute}},
				OnlyA:   []replay.Action{act(8, "drain_store", "store 5")},
				Summary: "v2 would have evicted the leaders of store 3 4m0s earlier than v1. " +
					"v2 would never have drained store 5 (v1 did at 12:08:00); it never touched store 5."}},
		{"only b, refusals not taken", tl("v1", refused), tl("v2", act(2, "transfer_leader", "region 9 to store 4"), refused),
			replay.Comparison{A: "v1", B: "v2", OnlyB: []replay.Action{act(2, "transfer_leader", "region 9 to store 4")},
				Summary: "v2 would have moved the leader of region 9 to store 4 at 12:02:00, which v1 never did."}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, replay.Compare(tc.a, tc.b)); diff != "" {
				t.Fatalf("(-want +got):\n%s", diff)
			}
		})
	}
}
