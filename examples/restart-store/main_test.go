package main

import (
	"bytes"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kvops/operator/subject"
)

func TestRollingRestart(t *testing.T) {
	var out bytes.Buffer
	rep, err := run(t.Context(), &out)
	require.NoError(t, err, "output:\n%s", out.String())
	require.Equal(t, []subject.StoreID{1, 2, 3, 4, 5}, rep.Restarted)
	require.Zero(t, rep.TwoEvicted, "two stores evicted at once")
	require.Zero(t, rep.LeadersAtStop, "a store still led regions when it stopped")
	require.Positive(t, rep.LeadersMoved)
	require.Positive(t, rep.Baseline.LeadersAtStop, "the baseline restart stops stores that lead")
	// Each store: out in a few seconds, down 15 s, back in a few seconds.
	require.Less(t, rep.Total, 5*time.Minute)
	actions := map[string]bool{}
	for _, l := range rep.Latency {
		actions[l.Action] = true
		require.GreaterOrEqual(t, l.Took, time.Duration(0), "%+v", l)
		require.LessOrEqual(t, l.Took, poll, "%s returned more than one poll after PD %s", l.Action, l.Ended)
	}
	require.Len(t, actions, 8, "every action measured: %v", actions)
	require.Contains(t, out.String(), "moments with two evicted:  0")
}
