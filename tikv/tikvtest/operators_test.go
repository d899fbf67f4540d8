package tikvtest

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"
)

// status reads GET /operators/{id} and returns "STATUS desc".
func status(t *testing.T, cl *client, id int) string {
	t.Helper()
	code, _, body := cl.do("GET", fmt.Sprintf("/pd/api/v1/operators/%d", id), nil)
	var s string
	require.NoError(t, json.Unmarshal(body, &s))
	if code != 200 {
		return fmt.Sprintf("%d %s", code, s)
	}
	st, rest, ok := strings.Cut(strings.TrimPrefix(s, "status: "), ", operator: ")
	require.True(t, ok, "answer %q", s)
	desc, _, _ := strings.Cut(rest, " {")
	return st + " " + desc
}

func TestOperatorOutcomes(t *testing.T) {
	tests := []struct {
		name    string
		outcome OperatorOutcome
		op      map[string]any
		// what GET /operators/9 shows right after the POST, after 1 s,
		// after 2 s and after 61 s.
		want []string
	}{
		{"split succeeds", OperatorSucceeds, split9,
			[]string{"RUNNING admin-split-region", "SUCCESS admin-split-region", "SUCCESS admin-split-region", "SUCCESS admin-split-region"}},
		{"split times out", OperatorTimesOut, split9,
			[]string{"RUNNING admin-split-region", "RUNNING admin-split-region", "RUNNING admin-split-region", "TIMEOUT admin-split-region"}},
		{"split cancelled", OperatorCancelled, split9,
			[]string{"RUNNING admin-split-region", "CANCEL admin-split-region", "CANCEL admin-split-region", "CANCEL admin-split-region"}},
		// The trap: once replaced, the region's latest operator is the
		// scheduler's.
		{"transfer replaced", OperatorReplaced, transfer9to2,
			[]string{"RUNNING admin-transfer-leader", "RUNNING balance-leader-scheduler", "SUCCESS balance-leader-scheduler", "SUCCESS balance-leader-scheduler"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, cl := newStarted(t)
			require.Equal(t, "500 [PD:operator:ErrOperatorNotFound]operator not found", status(t, cl, 9))
			require.NoError(t, c.FailOperators(tt.outcome, 1))
			cl.mustOK("POST", "/pd/api/v1/operators", tt.op)
			got := []string{status(t, cl, 9)}
			for _, d := range []time.Duration{time.Second, time.Second, 59 * time.Second} {
				c.Advance(d)
				got = append(got, status(t, cl, 9))
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("statuses (-want +got):\n%s", diff)
			}
		})
	}
}

var (
	split9       = map[string]any{"name": "split-region", "region_id": 9, "policy": "approximate"}
	transfer9to2 = map[string]any{"name": "transfer-leader", "region_id": 9, "to_store_id": 2}
)

func TestSecondOperatorRefused(t *testing.T) {
	c, cl := newStarted(t)
	require.NoError(t, c.FailOperators(OperatorTimesOut, 1))
	cl.mustOK("POST", "/pd/api/v1/operators", split9)
	code, _, body := cl.do("POST", "/pd/api/v1/operators", transfer9to2)
	require.Equal(t, 500, code)
	require.JSONEq(t, `"[PD:operator:ErrAddOperator]failed to add operator, maybe already have one"`, string(body))
	cl.mustOK("DELETE", "/pd/api/v1/operators/9", nil)
	require.Equal(t, "CANCEL admin-split-region", status(t, cl, 9))
	cl.mustOK("POST", "/pd/api/v1/operators", transfer9to2)
}

func leaders(t *testing.T, cl *client) []int {
	t.Helper()
	var out []int
	for id := 1; id <= 5; id++ {
		var st storeJSON
		cl.get(fmt.Sprintf("/pd/api/v1/store/%d", id), &st)
		out = append(out, st.Status.LeaderCount)
	}
	return out
}

// TestLeadersReturnGradually evicts and restores a store: its leaders
// leave within seconds and come back at balance-leader's pace, until the
// stores are within PD's tolerance of each other.
func TestLeadersReturnGradually(t *testing.T) {
	c, cl := newStarted(t)
	cl.mustOK("POST", "/pd/api/v1/schedulers", map[string]any{"name": "evict-leader-scheduler", "store_id": 2})
	for range 10 {
		c.Advance(time.Second)
	}
	require.Zero(t, leaders(t, cl)[1], "store 2 after eviction")
	cl.mustOK("DELETE", "/pd/api/v1/schedulers/evict-leader-scheduler-2", nil)
	var seen []int
	for range 10 {
		c.Advance(time.Second)
		seen = append(seen, leaders(t, cl)[1])
	}
	require.Greater(t, seen[0], 0, "no leader back after 1 s")
	require.Less(t, seen[0], seen[len(seen)-1], "leaders came back all at once: %v", seen)
	got := leaders(t, cl)
	lo, hi := got[0], got[0]
	for _, n := range got {
		lo, hi = min(lo, n), max(hi, n)
	}
	require.LessOrEqual(t, hi-lo, 2*leaderTolerance+1, "leaders after rebalancing: %v", got)
}

func TestStuckLeadersStayBehind(t *testing.T) {
	c, cl := newStarted(t)
	require.NoError(t, c.SetStuckLeaders(2, 3))
	cl.mustOK("POST", "/pd/api/v1/schedulers", map[string]any{"name": "evict-leader-scheduler", "store_id": 2})
	for range 20 {
		c.Advance(time.Second)
	}
	require.Equal(t, 3, leaders(t, cl)[1])
	require.NoError(t, c.SetStuckLeaders(2, 0))
	c.Advance(time.Second)
	require.Zero(t, leaders(t, cl)[1])
	require.ErrorIs(t, c.SetStuckLeaders(9, 1), ErrNoStore)
	require.ErrorIs(t, c.FailOperators(OperatorReplaced+1, 1), ErrBadArgument)
}

// TestOperatorCancelledWhenEpochChanges: PD cancels an admin operator as
// stale once its region's membership changes (here a drain moves one of
// its peers), at the region's next heartbeat.
func TestOperatorCancelledWhenEpochChanges(t *testing.T) {
	c, cl := newStartedWith(t, Config{NoSplits: true, Regions: 20})
	r := cl.region(9)
	var drained uint64
	for _, p := range r.Peers {
		if p.StoreID != r.Leader.StoreID {
			drained = p.StoreID
		}
	}
	cl.mustOK("POST", "/pd/api/v1/operators", map[string]any{"name": "split-region", "region_id": 9, "policy": "approximate"})
	c.Advance(time.Second)
	require.Contains(t, string(cl.mustOK("GET", "/pd/api/v1/operators/9", nil)), "status: RUNNING")
	cl.mustOK("DELETE", fmt.Sprintf("/pd/api/v1/store/%d", drained), nil)
	for range 60 {
		c.Advance(time.Second)
		if cl.region(9).Epoch.ConfVer != r.Epoch.ConfVer {
			break
		}
	}
	require.NotEqual(t, r.Epoch.ConfVer, cl.region(9).Epoch.ConfVer, "the drain never moved region 9's peer")
	c.Advance(time.Second)
	// GET /operators/9 shows the drain's move, the region's latest.
	st, desc, _, ok := c.OperatorEnded(9)
	require.True(t, ok, "the split never ended")
	require.Equal(t, "CANCEL", st, desc)
	require.Contains(t, desc, "admin-split-region")
}
