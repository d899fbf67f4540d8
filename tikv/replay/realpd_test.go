package replay_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/kvops/operator/subject/guard"
	"github.com/kvops/operator/tikv/record"
	"github.com/kvops/operator/tikv/replay"
)

// realPD is the recording record.Record made of a real PD while its
// simulator's three stores stopped (see tikv/record's TestRecordRealPD).
const realPD = "../record/testdata/realpd-stores-down.jsonl"

// firstAnswer returns the time of the first PD answer of the recording at
// path that lists a store as state, and of its first answer.
func firstAnswer(t *testing.T, path, state string) (first, at time.Time) {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	rd, err := record.NewReader(f)
	require.NoError(t, err)
	for {
		e, err := rd.Next()
		require.NoError(t, err, "no answer lists a store %s", state)
		if e.PD == nil {
			continue
		}
		if first.IsZero() {
			first = e.PD.At
		}
		if e.PD.Path != record.DefaultPaths[0] {
			continue
		}
		var list struct {
			Stores []struct {
				Store struct {
					StateName string `json:"state_name"`
				} `json:"store"`
			} `json:"stores"`
		}
		require.NoError(t, json.Unmarshal(e.PD.Body, &list))
		for _, s := range list.Stores {
			if s.Store.StateName == state {
				return first, e.PD.At
			}
		}
	}
}

// TestRealPDStoresDown replays the recording of a real PD whose stores
// stopped heartbeating (Up, then Disconnected at 20 s, Down at 30 s) with
// an operator that evicts a store's leaders when store_health is pending
// or firing for it: store_health fires for the three stores at the first
// tick that sees them Disconnected, and every eviction the operator asks
// is refused by the Subject's precondition (a store that is not Up), first
// because it is Disconnected, then because it is Down; no check fails
// for want of an answer the recording lacks.
func TestRealPDStoresDown(t *testing.T) {
	first, disconnected := firstAnswer(t, realPD, "Disconnected")
	_, down := firstAnswer(t, realPD, "Down")
	step := 2 * time.Second
	// The first tick at or after a time.
	tickAfter := func(at time.Time) time.Time {
		n := (at.Sub(first) + step - 1) / step
		return first.Add(n * step)
	}
	tl, err := replay.Run(context.Background(), replay.Config{Recording: realPD, NoMetrics: true, Name: "realpd",
		End:      down.Add(10 * time.Second),
		Operator: &evictOnFiring{invariant: "store_health", pending: true, done: map[uint64]bool{}}})
	require.NoError(t, err)
	require.Equal(t, first, tl.Start, "the replay starts at the first evaluation")
	require.Equal(t, step, tl.Step, "the recording's interval")

	type transition struct {
		At       time.Time
		Alert    string
		From, To string
	}
	var got []transition
	for _, tr := range tl.Transitions() {
		got = append(got, transition{tr.At, tr.Invariant + " " + tr.Key, tr.From.String(), tr.To.String()})
	}
	fire := tickAfter(disconnected)
	want := []transition{
		{fire, "store_health store=1", "inactive", "firing"},
		{fire, "store_health store=2", "inactive", "firing"},
		{fire, "store_health store=3", "inactive", "firing"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("transitions (-want +got):\n%s", diff)
	}
	for _, tr := range tl.Ticks {
		require.Empty(t, tr.Errors, "at %v", tr.At)
	}

	acts := tl.Actions()
	require.NotEmpty(t, acts)
	for _, a := range acts {
		require.Equal(t, guard.ActionEvictLeaders, a.Action, "%s", a)
		require.Equal(t, guard.EventRefused, a.Outcome, "%s", a)
		require.Equal(t, "precondition", a.Refusal, "%s", a)
		state := "Disconnected"
		if !a.At.Before(tickAfter(down)) {
			state = "Down"
		}
		require.Contains(t, a.Reason, a.Target+" is "+state+", not Up", "%s", a)
	}
	require.Equal(t, fire, acts[0].At, "asked at once")
	for _, s := range []string{"store 1", "store 2", "store 3"} {
		_, taken := tl.First(guard.ActionEvictLeaders, s)
		require.False(t, taken, "%s would never have been evicted", s)
	}
}

// TestRunEndsWhereTheRecordingEnded: the real PD's recording was stopped
// before its planned end (its header's End); without Config.End the
// replay's last tick is the first at or after its end line, not a run of
// ticks over the final state up to the planned end.
func TestRunEndsWhereTheRecordingEnded(t *testing.T) {
	f, err := os.Open(realPD)
	require.NoError(t, err)
	defer f.Close()
	rd, err := record.NewReader(f)
	require.NoError(t, err)
	var ended time.Time
	for {
		e, err := rd.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err)
		if e.End != nil {
			ended = e.End.At
		}
	}
	step := 2 * time.Second
	require.True(t, rd.Header().End.After(ended.Add(step)), "the recording must end before its planned end for this test to mean anything")

	tl, err := replay.Run(context.Background(), replay.Config{Recording: realPD, NoMetrics: true, Step: step,
		Operator: replay.OperatorFunc(func(context.Context, replay.Tick) error { return nil })})
	require.NoError(t, err)
	last := tl.Ticks[len(tl.Ticks)-1].At
	require.False(t, last.Before(ended), "last tick %v before the end line %v", last, ended)
	require.Less(t, last.Sub(ended), step, "last tick %v a step or more after the end line %v", last, ended)
	require.Equal(t, last, tl.End)
}
