package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	mark "github.com/mark3labs/mcp-go/client"
	marktransport "github.com/mark3labs/mcp-go/client/transport"
	markmcp "github.com/mark3labs/mcp-go/mcp"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/stretchr/testify/require"
)

// revisions are the protocol revisions the SDK speaks, newest first.
var revisions = []string{"2026-07-28", "2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"}

// session is what a cell of the matrix does with a client.
type session interface {
	version() string
	tools(ctx context.Context) ([]string, error)
	call(ctx context.Context, name string, args map[string]any) (string, bool, error)
	read(ctx context.Context, uri string) (string, error)
	close()
}

// TestEveryClientEveryRevision is the matrix of issue 22: the SDK's own
// client and an independent one (mark3labs/mcp-go) at every revision the
// SDK speaks, over stdio (the server as a subprocess) and streamable HTTP
// (run serving on loopback). Each cell initialises (or discovers) at its
// revision, lists the tools, calls an observation and an action (a dry
// run) and reads tikv://alerts. Before, mark3labs' default 2026-07-28
// initialised over HTTP and then got -32022 on every call, and the SDK's
// client over HTTP fell back to 2025-11-25.
func TestEveryClientEveryRevision(t *testing.T) {
	url := serveHTTP(t, options{mode: string(modeDryRun), interval: time.Hour})
	type cell struct{ client, transport, revision string }
	var mu sync.Mutex
	results := map[cell]string{}
	connectors := map[string]func(t *testing.T, transport, revision string) session{
		"go-sdk":    func(t *testing.T, tr, rev string) session { return sdkSession(t, tr, url, rev) },
		"mark3labs": func(t *testing.T, tr, rev string) session { return markSession(t, tr, url, rev) },
	}
	for _, client := range []string{"go-sdk", "mark3labs"} {
		for _, tr := range []string{"stdio", "http"} {
			for _, rev := range revisions {
				c := cell{client, tr, rev}
				ok := t.Run(fmt.Sprintf("%s/%s/%s", client, tr, rev), func(t *testing.T) {
					s := connectors[client](t, tr, rev)
					defer s.close()
					checkCell(t, s, rev)
				})
				mu.Lock()
				results[c] = map[bool]string{true: "pass", false: "FAIL"}[ok]
				mu.Unlock()
			}
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "\n%-10s %-6s", "client", "")
	for _, rev := range revisions {
		fmt.Fprintf(&b, " %-10s", rev)
	}
	for _, client := range []string{"go-sdk", "mark3labs"} {
		for _, tr := range []string{"stdio", "http"} {
			fmt.Fprintf(&b, "\n%-10s %-6s", client, tr)
			for _, rev := range revisions {
				fmt.Fprintf(&b, " %-10s", results[cell{client, tr, rev}])
			}
		}
	}
	t.Log(b.String())
}

// checkCell is one cell's conversation.
func checkCell(t *testing.T, s session, rev string) {
	t.Helper()
	ctx := t.Context()
	require.Equal(t, rev, s.version(), "negotiated revision")
	names, err := s.tools(ctx)
	require.NoError(t, err)
	for _, n := range []string{"stores", "drain_store", "evicted_stores", "finish_restart"} {
		require.Contains(t, names, n)
	}
	out, isErr, err := s.call(ctx, "stores", map[string]any{})
	require.NoError(t, err)
	require.False(t, isErr, out)
	var stores struct {
		Result []map[string]any `json:"result"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &stores), out)
	require.Len(t, stores.Result, 5)
	out, isErr, err = s.call(ctx, "drain_store", map[string]any{"store_id": 2})
	require.NoError(t, err)
	require.False(t, isErr, out)
	var ar actionReply
	require.NoError(t, json.Unmarshal([]byte(out), &ar), out)
	require.True(t, ar.Result.DryRun)
	alerts, err := s.read(ctx, alertsURI)
	require.NoError(t, err)
	var list []map[string]any
	require.NoError(t, json.Unmarshal([]byte(alerts), &list), alerts)
}

// serveHTTP runs the program's run on a loopback port and returns its
// URL; it stops with the test.
func serveHTTP(t *testing.T, o options) string {
	t.Helper()
	o.http.addr = "127.0.0.1:0"
	if o.http.sessionTimeout == 0 {
		o.http.sessionTimeout = time.Minute
	}
	ctx, cancel := context.WithCancel(context.Background())
	addr := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- run(ctx, o, strings.NewReader(""), io.Discard, &addrWriter{addr: addr}) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, ignoreCanceled(<-done))
	})
	select {
	case a := <-addr:
		return a
	case err := <-done:
		t.Fatalf("run: %v", err)
	}
	return ""
}

func ignoreCanceled(err error) error {
	if err == context.Canceled {
		return nil
	}
	return err
}

// addrWriter finds the address in run's "serving" line.
type addrWriter struct {
	addr chan string
	once sync.Once
}

func (w *addrWriter) Write(p []byte) (int, error) {
	if _, rest, ok := strings.Cut(string(p), "serving streamable HTTP at "); ok {
		w.once.Do(func() { w.addr <- strings.TrimSpace(rest) })
	}
	return len(p), nil
}

// serverCommand is this test binary as the server, over stdio.
func serverCommand(t *testing.T, args string) *exec.Cmd {
	cmd := exec.CommandContext(t.Context(), os.Args[0])
	cmd.Env = append(os.Environ(), "KVOPS_MCP_SERVE=1", "KVOPS_MCP_ARGS="+args)
	return cmd
}

type sdkSess struct{ cs *mcp.ClientSession }

func sdkSession(t *testing.T, tr, url, rev string) session {
	t.Helper()
	var transport mcp.Transport
	if tr == "stdio" {
		transport = &mcp.CommandTransport{Command: serverCommand(t, "-mode dry-run")}
	} else {
		h := &http.Transport{}
		t.Cleanup(h.CloseIdleConnections)
		transport = &mcp.StreamableClientTransport{Endpoint: url, HTTPClient: &http.Client{Transport: h}}
	}
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "go-sdk", Version: "1"}, nil).
		Connect(t.Context(), transport, &mcp.ClientSessionOptions{ProtocolVersion: rev})
	require.NoError(t, err)
	return sdkSess{cs}
}

func (s sdkSess) version() string { return s.cs.InitializeResult().ProtocolVersion }
func (s sdkSess) close()          { _ = s.cs.Close() }
func (s sdkSess) tools(ctx context.Context) ([]string, error) {
	res, err := s.cs.ListTools(ctx, nil)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, tl := range res.Tools {
		out = append(out, tl.Name)
	}
	return out, nil
}
func (s sdkSess) call(ctx context.Context, name string, args map[string]any) (string, bool, error) {
	res, err := s.cs.CallTool(ctx, &mcp.CallToolParams{Name: name, Arguments: args})
	if err != nil {
		return "", false, err
	}
	return text(res), res.IsError, nil
}
func (s sdkSess) read(ctx context.Context, uri string) (string, error) {
	res, err := s.cs.ReadResource(ctx, &mcp.ReadResourceParams{URI: uri})
	if err != nil {
		return "", err
	}
	if len(res.Contents) != 1 {
		return "", fmt.Errorf("%d contents", len(res.Contents))
	}
	return res.Contents[0].Text, nil
}

type markSess struct {
	c   *mark.Client
	ver string
}

func markSession(t *testing.T, tr, url, rev string) session {
	t.Helper()
	var c *mark.Client
	if tr == "stdio" {
		cmd := serverCommand(t, "-mode dry-run")
		var err error
		c, err = mark.NewStdioMCPClientWithOptions(cmd.Path, cmd.Env[len(cmd.Env)-2:], nil)
		require.NoError(t, err)
	} else {
		h := &http.Transport{}
		t.Cleanup(h.CloseIdleConnections)
		trans, err := marktransport.NewStreamableHTTP(url, marktransport.WithHTTPBasicClient(&http.Client{Transport: h}))
		require.NoError(t, err)
		c = mark.NewClient(trans, mark.WithProtocolVersion(rev))
		require.NoError(t, c.Start(t.Context()))
	}
	if tr == "stdio" {
		// The stdio constructor starts the client; the version is pinned
		// by Initialize's request.
		c = reopen(c, rev)
	}
	res, err := c.Initialize(t.Context(), markmcp.InitializeRequest{Params: markmcp.InitializeParams{
		ProtocolVersion: rev, ClientInfo: markmcp.Implementation{Name: "mark3labs", Version: "1"}}})
	if err != nil {
		_ = c.Close()
	}
	require.NoError(t, err)
	return &markSess{c: c, ver: res.ProtocolVersion}
}

// reopen applies the version pin to a client the stdio constructor made.
func reopen(c *mark.Client, rev string) *mark.Client {
	mark.WithProtocolVersion(rev)(c)
	return c
}

func (s *markSess) version() string { return s.ver }
func (s *markSess) close()          { _ = s.c.Close() }
func (s *markSess) tools(ctx context.Context) ([]string, error) {
	res, err := s.c.ListTools(ctx, markmcp.ListToolsRequest{})
	if err != nil {
		return nil, err
	}
	var out []string
	for _, tl := range res.Tools {
		out = append(out, tl.Name)
	}
	slices.Sort(out)
	return out, nil
}
func (s *markSess) call(ctx context.Context, name string, args map[string]any) (string, bool, error) {
	res, err := s.c.CallTool(ctx, markmcp.CallToolRequest{Params: markmcp.CallToolParams{Name: name, Arguments: args}})
	if err != nil {
		return "", false, err
	}
	var b strings.Builder
	for _, c := range res.Content {
		if tc, ok := c.(markmcp.TextContent); ok {
			b.WriteString(tc.Text)
		}
	}
	return b.String(), res.IsError, nil
}
func (s *markSess) read(ctx context.Context, uri string) (string, error) {
	res, err := s.c.ReadResource(ctx, markmcp.ReadResourceRequest{Params: markmcp.ReadResourceParams{URI: uri}})
	if err != nil {
		return "", err
	}
	if len(res.Contents) != 1 {
		return "", fmt.Errorf("%d contents", len(res.Contents))
	}
	tc, ok := res.Contents[0].(markmcp.TextResourceContents)
	if !ok {
		return "", fmt.Errorf("contents %T", res.Contents[0])
	}
	return tc.Text, nil
}
