package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/stretchr/testify/require"
)

// hungPD accepts PD requests and answers none until the test ends.
type hungPD struct {
	srv     *httptest.Server
	got     chan string
	release chan struct{}
	once    sync.Once
}

func newHungPD(t *testing.T) *hungPD {
	p := &hungPD{got: make(chan string, 64), release: make(chan struct{})}
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case p.got <- r.URL.Path:
		default:
		}
		select {
		case <-p.release:
		case <-r.Context().Done():
		}
		http.Error(w, "gone", http.StatusServiceUnavailable)
	}))
	t.Cleanup(func() { p.once.Do(func() { close(p.release) }); p.srv.Close() })
	return p
}

// TestServesBeforePD: the server answers server/discover, lists its
// tools and refuses actions clearly while its journal's replay waits for
// a PD that does not answer. Before, run replayed the journal before
// serving, so a slow PD made a modern client give up on server/discover
// and fall back (issue 22: "duplicate initialize").
func TestServesBeforePD(t *testing.T) {
	pd := newHungPD(t)
	journal := filepath.Join(t.TempDir(), "journal.jsonl")
	require.NoError(t, os.WriteFile(journal, []byte(`{"schema":1,"time":"2026-12-01T12:00:00Z","id":"j1","event":"submitted",`+
		`"action":"set_schedule_limit","target":"leader-schedule-limit","args":{"kind":"leader","limit":4},"mode":"automatic"}`+"\n"), 0o600))

	ctx, cancel := context.WithCancel(context.Background())
	addr := make(chan string, 1)
	done := make(chan error, 1)
	o := options{pd: pd.srv.URL, noPrometheus: true, mode: string(modeAuto), journal: journal, interval: time.Hour,
		http: httpConfig{addr: "127.0.0.1:0", sessionTimeout: time.Minute}}
	go func() { done <- run(ctx, o, strings.NewReader(""), io.Discard, &addrWriter{addr: addr}) }()
	t.Cleanup(func() {
		cancel()
		pd.once.Do(func() { close(pd.release) })
		require.NoError(t, ignoreCanceled(<-done))
	})

	// The replay has asked PD, and waits.
	<-pd.got
	var url string
	// A bound only for the failure: a server that waits for PD before
	// serving never prints its address.
	select {
	case url = <-addr:
	case <-time.After(30 * time.Second):
		t.Fatal("the server did not serve while PD hung")
	}
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "test", Version: "1"}, nil).
		Connect(t.Context(), &mcp.StreamableClientTransport{Endpoint: url, HTTPClient: &http.Client{Transport: tr}}, &mcp.ClientSessionOptions{ProtocolVersion: "2026-07-28"})
	require.NoError(t, err)
	defer cs.Close()
	require.Equal(t, "2026-07-28", cs.InitializeResult().ProtocolVersion, "server/discover answered: no fallback")
	tools, err := cs.ListTools(t.Context(), nil)
	require.NoError(t, err)
	require.NotEmpty(t, tools.Tools)
	res, err := cs.CallTool(t.Context(), &mcp.CallToolParams{Name: "set_schedule_limit", Arguments: map[string]any{"kind": "leader", "limit": 5}})
	require.NoError(t, err)
	require.True(t, res.IsError)
	require.True(t, strings.HasPrefix(text(res), "unavailable; nothing was changed: retry later: the server is still replaying its journal"), text(res))
}
