package pdclient

import (
	"context"
	"crypto/tls"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestSleepCtx(t *testing.T) {
	require.NoError(t, sleepCtx(t.Context(), 0))
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	require.ErrorIs(t, sleepCtx(ctx, time.Hour), context.Canceled, "a cancelled context ends the pause at once")
}

func TestNodeStateName(t *testing.T) {
	for n, want := range map[int]string{0: "Preparing", 1: "Serving", 2: "Removing", 3: "Removed", 7: "NodeState(7)", -1: "NodeState(-1)"} {
		require.Equal(t, want, StoreMeta{NodeState: n}.NodeStateName())
	}
}

func TestCustomHTTPClientGetsTLS(t *testing.T) {
	base := &http.Client{Transport: &http.Transport{MaxIdleConns: 3}}
	tc := &tls.Config{ServerName: "pd"}
	cfg := DefaultConfig()
	cfg.Endpoints, cfg.HTTPClient, cfg.TLS = []string{"https://pd:2379"}, base, tc
	c, err := New(cfg)
	require.NoError(t, err)
	tr := c.httpc.Transport.(*http.Transport)
	require.Equal(t, "pd", tr.TLSClientConfig.ServerName)
	require.Equal(t, 3, tr.MaxIdleConns)
	// Transport.Clone fills in HTTP/2 defaults on the original; our TLS
	// settings stay on the copy.
	if orig := base.Transport.(*http.Transport).TLSClientConfig; orig != nil {
		require.Empty(t, orig.ServerName, "the caller's transport does not get the client's TLS settings")
	}
	require.NotNil(t, c.httpc.CheckRedirect)
	c.CloseIdleConnections()
}
