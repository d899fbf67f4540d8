package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/stretchr/testify/require"

	"github.com/kvops/operator/invariant"
	"github.com/kvops/operator/subject"
)

// result calls an observation and returns its result as JSON values, as
// an agent reads it.
func (f *fixture) result(t *testing.T, tool string, args map[string]any, into any) {
	t.Helper()
	res := f.call(t, tool, args)
	require.False(t, res.IsError, "%s%v: %s", tool, args, text(res))
	var body struct {
		Result json.RawMessage `json:"result"`
	}
	require.NoError(t, json.Unmarshal([]byte(text(res)), &body))
	require.NoError(t, json.Unmarshal(body.Result, into), "%s", body.Result)
}

// TestWhatGoesOutComesBackIn: every tool whose output names what another
// takes is given that output back unchanged, through MCP: store ids,
// region ids, hex keys, peers' stores, evicted stores. Before, region
// and store_regions returned keys in base64, which range_regions refused.
func TestWhatGoesOutComesBackIn(t *testing.T) {
	// The demo's size: on a cluster of 6 leaders a store, PD's balancer
	// (within ten leaders is even) gives a restored store none back.
	cc := demoConfig()
	cc.Seed = 1
	f := newFixtureWith(t, modeAuto, fixtureOpts{cluster: cc})
	var stores []map[string]any
	f.result(t, "stores", nil, &stores)
	for _, st := range stores {
		var regions []map[string]any
		f.result(t, "store_regions", map[string]any{"store_id": st["id"], "limit": 2}, &regions)
		require.NotEmpty(t, regions)
		for _, r := range regions {
			var one map[string]any
			f.result(t, "region", map[string]any{"region_id": r["id"]}, &one)
			if d := cmp.Diff(r["start_key"], one["start_key"]); d != "" {
				t.Errorf("region %v start_key (-store_regions +region):\n%s", r["id"], d)
			}
			key, _ := one["end_key"].(string)
			require.Equal(t, strings.ToUpper(key), key, "keys are upper-case hex, as PD prints them")
			var ranged []map[string]any
			f.result(t, "range_regions", map[string]any{"start_key": one["start_key"], "end_key": one["end_key"], "limit": 3}, &ranged)
			require.Equal(t, one["id"], ranged[0]["id"])
			for _, p := range one["peers"].([]any) {
				peer := p.(map[string]any)
				if peer["store_id"] == one["leader"].(map[string]any)["store_id"] {
					continue
				}
				res := f.call(t, "transfer_leader", map[string]any{"region_id": one["id"], "to_store_id": peer["store_id"]})
				require.False(t, res.IsError, text(res))
				break
			}
		}
	}
	// evicted_stores names stores restore_leaders takes.
	res := f.call(t, "evict_leaders", map[string]any{"store_id": 3})
	require.False(t, res.IsError, text(res))
	var ev []map[string]any
	f.result(t, "evicted_stores", nil, &ev)
	require.Equal(t, []map[string]any{{"store_id": 3.0, "scheduler": "evict-leader-scheduler"}}, ev,
		"evicted by evict_leaders: nobody is named (only the eviction ledger's prepare_restart is the operator's)")
	res = f.call(t, "restore_leaders", map[string]any{"store_id": ev[0]["store_id"]})
	require.False(t, res.IsError, text(res))
	f.result(t, "evicted_stores", nil, &ev)
	require.Equal(t, []map[string]any{}, ev, "none is [], not null")
}

// TestAlertsResource: tikv://alerts is [] when there is none, snake_case
// like the tools' results, with no zero times. Before: null, Go's field
// names and "0001-01-01T00:00:00Z" for the times that had not happened.
func TestAlertsResource(t *testing.T) {
	f := newFixture(t, modeDryRun)
	read := func() string {
		rr, err := f.cs.ReadResource(t.Context(), &mcp.ReadResourceParams{URI: alertsURI})
		require.NoError(t, err)
		require.Len(t, rr.Contents, 1)
		return rr.Contents[0].Text
	}
	require.Equal(t, "[]", read())

	at := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	f.ts.alerts = func() []invariant.Alert {
		return []invariant.Alert{{Invariant: "store_health", Key: "store=4", State: invariant.StatePending, Severity: invariant.SeverityCritical,
			Message: "store 4 is Down", Value: 1, FirstSeen: at, LastSeen: at.Add(time.Minute)}}
	}
	var got []map[string]any
	require.NoError(t, json.Unmarshal([]byte(read()), &got))
	want := []map[string]any{{
		"invariant": "store_health", "key": "store=4", "state": "pending", "severity": "critical",
		"message": "store 4 is Down", "value": 1.0,
		"first_seen": "2026-12-01T12:00:00Z", "last_seen": "2026-12-01T12:01:00Z",
	}}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("alerts (-want +got):\n%s", d)
	}
}

// TestRefusalSaysItOnce: a tool error says what it means for a retry,
// then why, without repeating the sentinel's words. Before: "not
// approved; nothing was changed: not approved: approval token unknown".
func TestRefusalSaysItOnce(t *testing.T) {
	f := newFixture(t, modeApprove)
	region, _, to := f.followerMove(t)
	for _, tc := range []struct {
		tool string
		args map[string]any
		said error
	}{
		{"transfer_leader", map[string]any{"region_id": region, "to_store_id": to, tokenField: "bm90LWEtdG9rZW4"}, subject.ErrNotApproved},
		{"drain_store", map[string]any{"store_id": 0}, subject.ErrInvalid},
	} {
		res := f.call(t, tc.tool, tc.args)
		require.True(t, res.IsError, text(res))
		require.Equal(t, 1, strings.Count(text(res), tc.said.Error()), "%s%v: %s", tc.tool, tc.args, text(res))
	}
}

func TestToolErrorKinds(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{errTokenExpired, "not approved; nothing was changed: approval expired"},
		{fmt.Errorf("tikv: drain_store: %w", subject.ErrInvalid), "invalid arguments; nothing was changed: tikv: drain_store"},
		{fmt.Errorf("boom"), "error: boom"},
	} {
		require.Equal(t, tc.want, text(toolError(tc.err)))
	}
}
