package tools_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/kvops/operator/subject"
	"github.com/kvops/operator/subject/tools"
)

// TestOutputsFeedInputs: what one tool returns is taken, as JSON and
// unchanged, by the tools whose arguments name the same thing: ids, and
// keys. Before subject.Key, region and store_regions returned keys in
// base64 and range_regions refused them.
func TestOutputsFeedInputs(t *testing.T) {
	_, sub := newSubject(t)
	d, err := tools.NewDispatcher(sub)
	require.NoError(t, err)
	ctx := subject.WithDryRun(t.Context())
	call := func(tool string, args any) json.RawMessage {
		t.Helper()
		b, err := json.Marshal(args)
		require.NoError(t, err)
		out, err := d.Call(ctx, tool, b)
		require.NoError(t, err, "%s %s", tool, b)
		return out
	}
	// What an agent sees: JSON values, not Go types.
	var stores []map[string]any
	require.NoError(t, json.Unmarshal(call("stores", nil), &stores))
	require.NotEmpty(t, stores)
	var regions []map[string]any
	require.NoError(t, json.Unmarshal(call("store_regions", map[string]any{"store_id": stores[0]["id"], "limit": 3}), &regions))
	require.NotEmpty(t, regions)
	for _, r := range regions {
		var one map[string]any
		require.NoError(t, json.Unmarshal(call("region", map[string]any{"region_id": r["id"]}), &one))
		require.Equal(t, r["start_key"], one["start_key"])

		var ranged []map[string]any
		require.NoError(t, json.Unmarshal(call("range_regions", map[string]any{"start_key": r["start_key"], "end_key": r["end_key"], "limit": 5}), &ranged))
		require.NotEmpty(t, ranged, "range_regions(%v, %v)", r["start_key"], r["end_key"])
		require.Equal(t, r["id"], ranged[0]["id"], "the region whose keys were given back")
		require.Equal(t, r["end_key"], ranged[len(ranged)-1]["end_key"])

		leader := r["leader"].(map[string]any)
		for _, p := range r["peers"].([]any) {
			peer := p.(map[string]any)
			if peer["store_id"] == leader["store_id"] {
				continue
			}
			var res subject.Result
			require.NoError(t, json.Unmarshal(call("transfer_leader", map[string]any{"region_id": r["id"], "to_store_id": peer["store_id"]}), &res))
			require.True(t, res.DryRun)
		}
	}
}
