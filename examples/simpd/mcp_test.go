package main

import (
	"encoding/json"
	"net/http"
	"os/exec"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/stretchr/testify/require"
)

// TestMCPAgainstSimpd points examples/mcp -pd at a simpd process, as the
// README shows, and talks to it over stdio with the SDK's client: the
// stores tool lists simpd's five stores, and a dry-run eviction is
// answered from simpd's state and changes nothing there (simpd prints a
// line for every request that changes PD, and prints none).
func TestMCPAgainstSimpd(t *testing.T) {
	p, ready := startSimpd(t, "-scenario", "none", "-no-prometheus", "-regions", "100")
	cmd := exec.CommandContext(t.Context(), bins.mcp, "-pd", ready.PD, "-no-prometheus", "-mode", "dry-run")
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "simpd-test", Version: "1"}, nil).
		Connect(t.Context(), &mcp.CommandTransport{Command: cmd}, nil)
	require.NoError(t, err)
	defer cs.Close()

	res, err := cs.CallTool(t.Context(), &mcp.CallToolParams{Name: "stores", Arguments: map[string]any{}})
	require.NoError(t, err)
	require.False(t, res.IsError, "%v", res.Content)
	b, err := json.Marshal(res.StructuredContent)
	require.NoError(t, err)
	var out struct {
		Stores []struct {
			ID    uint64 `json:"id"`
			State string `json:"state"`
		} `json:"result"`
	}
	require.NoError(t, json.Unmarshal(b, &out), "%s", b)
	require.Len(t, out.Stores, 5, "%s", b)
	for _, s := range out.Stores {
		require.Equal(t, "Up", s.State, "%s", b)
	}

	res, err = cs.CallTool(t.Context(), &mcp.CallToolParams{Name: "evict_leaders", Arguments: map[string]any{"store_id": 3}})
	require.NoError(t, err)
	require.False(t, res.IsError, "%v", res.Content)
	b, err = json.Marshal(res.StructuredContent)
	require.NoError(t, err)
	require.Contains(t, string(b), `"dry_run":true`, "the guard in dry-run mode answers with a dry run: %s", b)

	status, _, body := do(t, http.MethodGet, ready.PD+"/pd/api/v1/schedulers", "")
	require.Equal(t, http.StatusOK, status)
	require.NotContains(t, string(body), "evict-leader-scheduler", "a dry run reached simpd")
	require.Len(t, p.Lines(), 1, "simpd printed a line for a change: %v", p.Lines())
}
