package tools_test

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/kvops/operator/subject"
	"github.com/kvops/operator/subject/tools"
)

func TestMCPProgress(t *testing.T) {
	second := func(n float64) time.Duration { return time.Duration(n * float64(time.Second)) }
	reports := []subject.Progress{
		// A first wait of 5 minutes, read twice at the same moment (a
		// clock that stood still), then a second wait of 10 minutes.
		{Action: "finish_restart", Target: "store 3", Seen: "store 3 is Down", Waited: 0, Bound: 5 * time.Minute, Elapsed: second(2)},
		{Action: "finish_restart", Target: "store 3", Seen: "store 3 is Down", Waited: 0, Bound: 5 * time.Minute, Elapsed: second(2)},
		{Action: "finish_restart", Target: "store 3", Seen: "store 3 is Up", Waited: second(1), Bound: 5 * time.Minute, Elapsed: second(3)},
		{Action: "finish_restart", Target: "store 3", Seen: "store 3 leads 0 regions, 7 wanted", Left: 7, Total: 7, Unit: "leaders",
			Waited: 0, Bound: 10 * time.Minute, Elapsed: second(3.5)},
		// Past its bound (a sleep that overshot): Total is not below it.
		{Action: "finish_restart", Target: "store 3", Seen: "store 3 leads 2 regions, 7 wanted", Left: 5, Total: 7, Unit: "leaders",
			Waited: second(601), Bound: 10 * time.Minute, Elapsed: second(604.5)},
	}
	var got []tools.ProgressNotification
	report := tools.MCPProgress(func(n tools.ProgressNotification) { got = append(got, n) })
	for _, p := range reports {
		report(p)
	}
	require.Len(t, got, len(reports), "every report is sent")
	for i, n := range got {
		require.Equal(t, reports[i].String(), n.Message)
		require.GreaterOrEqual(t, n.Total, n.Progress)
		if i > 0 {
			require.Greater(t, n.Progress, got[i-1].Progress, "progress increases with every notification")
		}
	}
	require.Equal(t, 2.0, got[0].Progress)
	require.Equal(t, 302.0, got[0].Total, "2 s before the wait, and its bound")
	require.InDelta(t, 2.0, got[1].Progress, 1e-9, "a clock that stood still: just above")
	require.Equal(t, 3.5, got[3].Progress)
	require.Equal(t, 603.5, got[3].Total, "the second wait's bound counts from its start")
	require.Equal(t, 604.5, got[4].Total)
}

// TestMCPProgressNotifications wires MCPProgress into an MCP server made
// with the MCP Go SDK, as examples/mcp does, and calls evict_leaders on
// the simulated cluster from an SDK client that asked for progress: the
// client gets a notification for each read of the eviction's wait, with
// its token and the counts in the message; a call without a token gets
// none.
func TestMCPProgressNotifications(t *testing.T) {
	_, sub := newSubject(t)
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	defer func() { require.NoError(t, sub.Close()) }()
	d, err := tools.NewDispatcher(sub)
	require.NoError(t, err)
	tool, ok := d.Tool("evict_leaders")
	require.True(t, ok)

	var mu sync.Mutex
	var reported []subject.Progress
	server := mcp.NewServer(&mcp.Implementation{Name: "operator", Version: "test"}, nil)
	server.AddTool(&mcp.Tool{Name: tool.Name, Description: tool.Description, InputSchema: tool.Input},
		func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			// The wiring: the call's token, its session, and the adapter.
			if token := req.Params.GetProgressToken(); token != nil {
				notify := tools.MCPProgress(func(n tools.ProgressNotification) {
					_ = req.Session.NotifyProgress(ctx, &mcp.ProgressNotificationParams{
						ProgressToken: token, Progress: n.Progress, Total: n.Total, Message: n.Message,
					})
				})
				ctx = subject.WithProgress(ctx, func(p subject.Progress) {
					mu.Lock()
					reported = append(reported, p)
					mu.Unlock()
					notify(p)
				})
			}
			out, err := tool.Call(ctx, req.Params.Arguments)
			if err != nil {
				return &mcp.CallToolResult{IsError: true, Content: []mcp.Content{&mcp.TextContent{Text: err.Error()}}}, nil
			}
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: string(out)}}}, nil
		})
	notes := make(chan *mcp.ProgressNotificationParams, 100)
	client := mcp.NewClient(&mcp.Implementation{Name: "agent", Version: "test"}, &mcp.ClientOptions{
		ProgressNotificationHandler: func(_ context.Context, req *mcp.ProgressNotificationClientRequest) {
			notes <- req.Params
		},
	})
	ctx := t.Context()
	st, ct := mcp.NewInMemoryTransports()
	ss, err := server.Connect(ctx, st, nil)
	require.NoError(t, err)
	cs, err := client.Connect(ctx, ct, nil)
	require.NoError(t, err)
	defer func() {
		require.NoError(t, cs.Close())
		_ = ss.Wait()
	}()

	call := func(store int, meta mcp.Meta) *mcp.CallToolResult {
		args, err := json.Marshal(map[string]int{"store_id": store})
		require.NoError(t, err)
		res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "evict_leaders", Arguments: json.RawMessage(args), Meta: meta})
		require.NoError(t, err)
		require.False(t, res.IsError, "%v", res.Content)
		return res
	}
	call(2, mcp.Meta{"progressToken": "evict-2"})
	mu.Lock()
	want := reported
	reported = nil
	mu.Unlock()
	require.GreaterOrEqual(t, len(want), 2, "the eviction waited")
	// Notifications are handled in order, after the call's answer may
	// have arrived: wait for as many as the server sent.
	var got []*mcp.ProgressNotificationParams
	for range want {
		got = append(got, <-notes)
	}
	for i, n := range got {
		require.Equal(t, "evict-2", n.ProgressToken)
		require.Equal(t, want[i].String(), n.Message)
		require.GreaterOrEqual(t, n.Total, n.Progress)
		if i > 0 {
			require.Greater(t, n.Progress, got[i-1].Progress)
		}
	}
	last := want[len(want)-1]
	if diff := cmp.Diff([]any{"leaders", 0}, []any{last.Unit, last.Left}); diff != "" {
		t.Errorf("the last report (-want +got):\n%s", diff)
	}

	call(3, nil)
	mu.Lock()
	require.Empty(t, reported, "no token, no progress")
	mu.Unlock()
	require.Empty(t, notes)
}
