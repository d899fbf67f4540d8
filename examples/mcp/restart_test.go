package main

import (
	"context"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/stretchr/testify/require"

	"github.com/kvops/operator/subject/guard"
)

// TestRestartCompletesOnTheDemoCluster: prepare_restart then
// finish_restart through MCP complete on the cluster the server serves
// without -pd, with the default share and with leader_share given. Before,
// on the demo's 60 regions, finish_restart waited for "6 wanted" while
// PD's balancer (and tikvtest's) stopped at 4, until the client gave up.
func TestRestartCompletesOnTheDemoCluster(t *testing.T) {
	for _, share := range []any{nil, 0.75} {
		t.Run("", func(t *testing.T) {
			cc := demoConfig()
			cc.Seed = 1
			f := newFixtureWith(t, modeAuto, fixtureOpts{cluster: cc})
			ar := actionResult(t, f.call(t, "prepare_restart", map[string]any{"store_id": 3}))
			require.False(t, ar.Result.DryRun)
			require.NoError(t, f.sim.RestartStore(3))
			args := map[string]any{"store_id": 3}
			if share != nil {
				args["leader_share"] = share
			}
			ar = actionResult(t, f.call(t, "finish_restart", args))
			require.False(t, ar.Result.DryRun)
			t.Log(ar.Result.Summary)
			stores, err := f.sub.Stores(t.Context())
			require.NoError(t, err)
			mean := 0.0
			for _, s := range stores {
				mean += float64(s.LeaderCount) / float64(len(stores))
			}
			want := 0.5
			if share != nil {
				want = share.(float64)
			}
			require.GreaterOrEqual(t, float64(stores[2].LeaderCount), want*mean*0.99, "store 3 leads its share again")
		})
	}
}

// TestLeaderShareIsBounded: finish_restart's leader_share is in (0, 1].
func TestLeaderShareIsBounded(t *testing.T) {
	f := newFixture(t, modeAuto)
	for _, share := range []float64{0, 1.5, -0.1} {
		res := f.call(t, "finish_restart", map[string]any{"store_id": 3, "leader_share": share})
		require.True(t, res.IsError, "leader_share %v: %s", share, text(res))
	}
}

// TestCancelledOverHTTP: a client that cancels a call while the action
// waits for PD ends the action's wait, at 2025-11-25
// (notifications/cancelled on a session) and at 2026-07-28 (the HTTP
// request closed).
func TestCancelledOverHTTP(t *testing.T) {
	for _, rev := range []string{"2025-11-25", "2026-07-28"} {
		t.Run(rev, func(t *testing.T) {
			f := newFixture(t, modeAuto)
			ts, err := newToolServer(f.sub, modeAuto, f.tokens.Now, guard.Config{}, false)
			require.NoError(t, err)
			srv, err := newServer(ts)
			require.NoError(t, err)
			h, err := httpHandler(srv, ts, httpConfig{sessionTimeout: time.Minute})
			require.NoError(t, err)
			hs := httptest.NewServer(h)
			t.Cleanup(hs.Close)
			cs := connectHTTP(t, hs.URL, "", rev, nil)
			require.Equal(t, rev, cs.InitializeResult().ProtocolVersion)

			requireCancelMidway(t, f, cs)
		})
	}
}

// TestProgressNotifications: an action called with a progress token sends
// notifications/progress for that token while it waits, each later than
// the last and within its bound (the same notifications without a token
// are subject/tools' TestMCPProgressNotifications).
func TestProgressNotifications(t *testing.T) {
	var mu sync.Mutex
	var got []*mcp.ProgressNotificationParams
	f := newFixtureWith(t, modeAuto, fixtureOpts{client: &mcp.ClientOptions{
		ProgressNotificationHandler: func(_ context.Context, req *mcp.ProgressNotificationClientRequest) {
			mu.Lock()
			defer mu.Unlock()
			got = append(got, req.Params)
		},
	}})
	params := &mcp.CallToolParams{Name: "evict_leaders", Arguments: map[string]any{"store_id": 2}}
	params.SetProgressToken("evict-2")
	res, err := f.cs.CallTool(t.Context(), params)
	require.NoError(t, err)
	require.False(t, res.IsError, text(res))
	// Notifications reach the client asynchronously, possibly after the
	// answer: wait (bounded) for the first, then check them all.
	require.Eventually(t, func() bool { mu.Lock(); defer mu.Unlock(); return len(got) > 0 }, 10*time.Second, 10*time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	for i, n := range got {
		require.Equal(t, "evict-2", n.ProgressToken)
		require.LessOrEqual(t, n.Progress, n.Total, "within the bound")
		require.NotEmpty(t, n.Message)
		if i > 0 {
			require.Greater(t, n.Progress, got[i-1].Progress, "each later than the last")
		}
	}
}
