package promclient_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/kvops/operator/promclient"
	"github.com/kvops/operator/subject"
)

// TestResponseSizeCap serves an answer of a known size and checks that a
// cap below it fails every query with ErrTooLarge (not ErrUnavailable:
// Prometheus answered), and a cap at its size lets it through.
func TestResponseSizeCap(t *testing.T) {
	const answer = `{"status":"success","data":{"resultType":"vector","result":[]}}`
	body := answer + strings.Repeat(" ", 4096-len(answer))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	tests := []struct {
		name    string
		max     int64
		tooLong bool
	}{
		{"one byte under", 4095, true},
		{"far under", 100, true},
		{"exactly", 4096, false},
		{"default", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := promclient.DefaultConfig()
			cfg.Address, cfg.MaxResponseBytes = srv.URL, tt.max
			c, err := promclient.New(cfg)
			require.NoError(t, err)
			got, _, err := c.StoreMetrics(t.Context(), stores(1, 2))
			if !tt.tooLong {
				require.NoError(t, err)
				require.Len(t, got, 2)
				return
			}
			require.ErrorIs(t, err, promclient.ErrTooLarge)
			require.False(t, errors.Is(err, promclient.ErrUnavailable), "an oversized answer is not an unreachable Prometheus: %v", err)
			var qe *promclient.QueryError
			require.ErrorAs(t, err, &qe)
			require.Equal(t, srv.URL, qe.Address)
			require.Nil(t, got)
		})
	}
	cfg := promclient.DefaultConfig()
	cfg.MaxResponseBytes = -1
	_, err := promclient.New(cfg)
	require.Error(t, err, "a negative cap is refused")
}

// TestRedirectsCannotLeakCredentials points the client at servers that
// redirect elsewhere: from https to plaintext, and to another host. Its
// transport adds a bearer token to every request it sends, so following
// either would hand it out; both are refused before anything is sent,
// though the client cannot tell that its transport adds credentials.
func TestRedirectsCannotLeakCredentials(t *testing.T) {
	var elsewhere atomic.Int64
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		elsewhere.Add(1)
	}))
	t.Cleanup(sink.Close)
	redirect := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, sink.URL+r.URL.Path, http.StatusTemporaryRedirect)
	})
	secure := httptest.NewTLSServer(redirect)
	t.Cleanup(secure.Close)
	plain := httptest.NewServer(redirect)
	t.Cleanup(plain.Close)
	pool := x509.NewCertPool()
	pool.AddCert(secure.Certificate())

	tests := []struct {
		name string
		cfg  func(*promclient.Config)
		want string
	}{
		{"https to plaintext", func(c *promclient.Config) {
			c.Address = secure.URL
			c.RoundTripper = bearer{token: "s3cr3t-token", next: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
		}, "refusing redirect from https to plaintext"},
		{"to another host", func(c *promclient.Config) {
			c.Address = strings.Replace(plain.URL, "127.0.0.1", "localhost", 1)
			c.RoundTripper = bearer{token: "s3cr3t-token", next: http.DefaultTransport}
		}, "refusing redirect to another host"},
		{"to another host, through an HTTP client of the caller's", func(c *promclient.Config) {
			c.Address = strings.Replace(plain.URL, "127.0.0.1", "localhost", 1)
			c.HTTPClient = &http.Client{Transport: bearer{token: "s3cr3t-token", next: http.DefaultTransport}}
		}, "refusing redirect to another host"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := promclient.DefaultConfig()
			tt.cfg(&cfg)
			c, err := promclient.New(cfg)
			require.NoError(t, err)
			_, _, err = c.StoreMetrics(t.Context(), stores(1))
			require.ErrorContains(t, err, tt.want)
			require.NotContains(t, err.Error(), "s3cr3t-token")
			require.Zero(t, elsewhere.Load(), "a request reached the redirect target")
		})
	}
}

// bearer adds a bearer token to every request, as a transport carrying
// credentials does.
type bearer struct {
	token string
	next  http.RoundTripper
}

func (b bearer) RoundTrip(req *http.Request) (*http.Response, error) {
	req = req.Clone(req.Context())
	req.Header.Set("Authorization", "Bearer "+b.token)
	return b.next.RoundTrip(req)
}

// TestTLSNeverFallsBackToPlaintext: a client configured for TLS refuses a
// plaintext address instead of silently ignoring its TLS settings.
func TestTLSNeverFallsBackToPlaintext(t *testing.T) {
	cfg := promclient.DefaultConfig()
	cfg.Address, cfg.TLS = "http://127.0.0.1:9090", &tls.Config{}
	_, err := promclient.New(cfg)
	require.ErrorIs(t, err, subject.ErrInvalid)
}

// TestZeroConfigTakesDefaults: the zero Config makes the same client as
// DefaultConfig: its address is DefaultAddress and its queries use the
// default windows.
func TestZeroConfigTakesDefaults(t *testing.T) {
	zero, err := promclient.New(promclient.Config{})
	require.NoError(t, err)
	def, err := promclient.New(promclient.DefaultConfig())
	require.NoError(t, err)
	if d := cmp.Diff(def.Queries(), zero.Queries()); d != "" {
		t.Errorf("queries of the zero Config (-DefaultConfig +zero):\n%s", d)
	}
	// A cancelled call does no I/O and names the address it would have
	// asked.
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, _, err = zero.StoreMetrics(ctx, stores(1))
	var qe *promclient.QueryError
	require.ErrorAs(t, err, &qe)
	require.Equal(t, promclient.DefaultAddress, qe.Address)
	require.ErrorIs(t, err, context.Canceled)
}

// TestCloseIdleConnections: the connections the client keeps open between
// queries, one per query that ran at once, are closed by
// CloseIdleConnections, on the client's own transport and on a caller's.
func TestCloseIdleConnections(t *testing.T) {
	const answer = `{"status":"success","data":{"resultType":"vector","result":[]}}`
	var mu sync.Mutex
	conns := map[net.Conn]http.ConnState{}
	moved := make(chan struct{}, 1)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(answer))
	}))
	srv.Config.ConnState = func(c net.Conn, s http.ConnState) {
		mu.Lock()
		conns[c] = s
		mu.Unlock()
		select {
		case moved <- struct{}{}:
		default:
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	open := func() int {
		mu.Lock()
		defer mu.Unlock()
		n := 0
		for _, s := range conns {
			if s != http.StateClosed {
				n++
			}
		}
		return n
	}
	for name, edit := range map[string]func(*promclient.Config){
		"own transport":   func(*promclient.Config) {},
		"caller's client": func(c *promclient.Config) { c.HTTPClient = &http.Client{Transport: &http.Transport{}} },
	} {
		t.Run(name, func(t *testing.T) {
			cfg := promclient.Config{Address: srv.URL}
			edit(&cfg)
			c, err := promclient.New(cfg)
			require.NoError(t, err)
			_, _, err = c.StoreMetrics(t.Context(), stores(1))
			require.NoError(t, err)
			require.Positive(t, open(), "no connection kept open between queries")
			c.CloseIdleConnections()
			bound := time.NewTimer(10 * time.Second)
			defer bound.Stop()
			for open() > 0 {
				select {
				case <-moved:
				case <-bound.C:
					t.Fatalf("%d connections still open 10 s after CloseIdleConnections", open())
				}
			}
		})
	}
}
