package main

import (
	"crypto/tls"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/stretchr/testify/require"

	"github.com/kvops/operator/internal/certs"
	"github.com/kvops/operator/subject"
	"github.com/kvops/operator/subject/guard"
)

// writeCert writes a server certificate for loopback and returns the
// files and the authority's pool.
func writeCert(t *testing.T) (cert, key string, ca *certs.Authority) {
	t.Helper()
	ca, err := certs.NewAuthority("test-ca")
	require.NoError(t, err)
	pair, err := ca.Server()
	require.NoError(t, err)
	dir := t.TempDir()
	cert, key = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	require.NoError(t, os.WriteFile(cert, pair.CertPEM, 0o600))
	require.NoError(t, os.WriteFile(key, pair.KeyPEM, 0o600))
	return cert, key, ca
}

// TestListenRefusesExposure: beyond loopback, TLS and a credential are
// both required. Before, a bearer token alone was enough, and went over
// plaintext HTTP.
func TestListenRefusesExposure(t *testing.T) {
	cert, key, _ := writeCert(t)
	for _, tc := range []struct {
		name string
		c    httpConfig
		want error
	}{
		{"any address, nothing", httpConfig{addr: "0.0.0.0:0"}, errExposed},
		{"empty host", httpConfig{addr: ":0"}, errExposed},
		{"IPv6 any", httpConfig{addr: "[::]:0"}, errExposed},
		{"token without TLS", httpConfig{addr: "0.0.0.0:0", token: "tok"}, errExposed},
		{"TLS without a credential", httpConfig{addr: "0.0.0.0:0", tlsCert: cert, tlsKey: key}, errExposed},
		{"half of TLS", httpConfig{addr: "127.0.0.1:0", tlsCert: cert}, errTLSHalf},
		{"a key that is not one", httpConfig{addr: "127.0.0.1:0", tlsCert: cert, tlsKey: cert}, subject.ErrInvalid},
		{"nonsense", httpConfig{addr: "nonsense"}, subject.ErrInvalid},
		{"loopback", httpConfig{addr: "127.0.0.1:0"}, nil},
		{"localhost", httpConfig{addr: "localhost:0"}, nil},
		{"TLS and a token", httpConfig{addr: "0.0.0.0:0", token: "tok", tlsCert: cert, tlsKey: key}, nil},
		{"TLS and OAuth", httpConfig{addr: "0.0.0.0:0", oauthIntrospect: "https://as.example/introspect", tlsCert: cert, tlsKey: key}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ln, err := listen(tc.c)
			if ln != nil {
				_ = ln.Close()
			}
			require.ErrorIs(t, err, tc.want)
		})
	}
}

// TestServesTLS: with -tls-cert and -tls-key the server speaks TLS, and a
// client that trusts the certificate gets in.
func TestServesTLS(t *testing.T) {
	cert, key, ca := writeCert(t)
	url := serveHTTP(t, options{mode: string(modeDryRun), interval: time.Hour,
		http: httpConfig{tlsCert: cert, tlsKey: key, token: "tok", sessionTimeout: time.Minute}})
	require.True(t, strings.HasPrefix(url, "https://"), url)
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool()}}
	t.Cleanup(tr.CloseIdleConnections)
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "test", Version: "1"}, nil).
		Connect(t.Context(), &mcp.StreamableClientTransport{Endpoint: url, HTTPClient: &http.Client{Transport: bearer{token: "tok", next: tr}}}, nil)
	require.NoError(t, err)
	defer cs.Close()
	res, err := cs.CallTool(t.Context(), &mcp.CallToolParams{Name: "stores", Arguments: map[string]any{}})
	require.NoError(t, err)
	require.False(t, res.IsError, text(res))
}

const initBody = `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"x","version":"1"}}}`

func post(t *testing.T, h http.Handler, auth, session, body string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequestWithContext(t.Context(), http.MethodPost, "http://127.0.0.1/", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	if session != "" {
		req.Header.Set("Mcp-Session-Id", session)
		req.Header.Set("Mcp-Protocol-Version", "2025-11-25")
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// TestBearerSchemeIsCaseInsensitive: "bearer", "BEARER" and "Bearer" are
// one scheme (RFC 9110, 11.1); a wrong token or another scheme is
// refused. Before, only "Bearer " with that case was accepted.
func TestBearerSchemeIsCaseInsensitive(t *testing.T) {
	srv := mcp.NewServer(&mcp.Implementation{Name: "t", Version: "1"}, nil)
	h, err := httpHandler(srv, nil, httpConfig{token: "s3cret", sessionTimeout: time.Minute})
	require.NoError(t, err)
	for auth, want := range map[string]int{
		"Bearer s3cret": http.StatusOK, "bearer s3cret": http.StatusOK, "BEARER s3cret": http.StatusOK,
		"Bearer wrong": http.StatusUnauthorized, "Bearer s3cretx": http.StatusUnauthorized,
		"Basic czNjcmV0": http.StatusUnauthorized, "s3cret": http.StatusUnauthorized, "": http.StatusUnauthorized,
	} {
		rec := post(t, h, auth, "", initBody)
		require.Equal(t, want, rec.Code, "Authorization %q: %s", auth, rec.Body)
		if sid := rec.Header().Get("Mcp-Session-Id"); sid != "" {
			req := httptest.NewRequestWithContext(t.Context(), http.MethodDelete, "http://127.0.0.1/", nil)
			req.Header.Set("Authorization", auth)
			req.Header.Set("Mcp-Session-Id", sid)
			h.ServeHTTP(httptest.NewRecorder(), req)
		}
	}
}

// TestIdleSessionsEnd: a session idle for -session-timeout is closed; a
// request naming it then gets 404, as the spec says for an expired
// session. Before, sessions never expired.
func TestIdleSessionsEnd(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := mcp.NewServer(&mcp.Implementation{Name: "t", Version: "1"}, &mcp.ServerOptions{Logger: slog.New(slog.DiscardHandler)})
		h, err := httpHandler(srv, nil, httpConfig{sessionTimeout: time.Minute})
		require.NoError(t, err)
		rec := post(t, h, "", "", initBody)
		require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
		sid := rec.Header().Get("Mcp-Session-Id")
		require.NotEmpty(t, sid)
		require.Equal(t, http.StatusAccepted, post(t, h, "", sid, `{"jsonrpc":"2.0","method":"notifications/initialized"}`).Code)
		ping := `{"jsonrpc":"2.0","id":2,"method":"ping"}`
		time.Sleep(59 * time.Second)
		require.Equal(t, http.StatusOK, post(t, h, "", sid, ping).Code, "a session in use stays")
		time.Sleep(61 * time.Second)
		synctest.Wait()
		require.Equal(t, http.StatusNotFound, post(t, h, "", sid, ping).Code, "an idle session ends")
	})
}

// introspector is an OAuth authorization server's introspection
// endpoint (RFC 7662) with a few tokens.
func introspector(t *testing.T, resource string) *httptest.Server {
	tokens := map[string]map[string]any{
		"alice-token":  {"active": true, "sub": "alice", "aud": resource, "exp": time.Now().Add(time.Hour).Unix()},
		"bob-approver": {"active": true, "sub": "bob", "aud": []string{resource}, "scope": "openid " + scopeApprove, "exp": time.Now().Add(time.Hour).Unix()},
		"alice-other":  {"active": true, "sub": "alice", "aud": "https://elsewhere.example/", "exp": time.Now().Add(time.Hour).Unix()},
		"revoked":      {"active": false},
	}
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, secret, ok := r.BasicAuth()
		if !ok || id != "mcp" || secret != "s3cret" {
			http.Error(w, "client auth", http.StatusUnauthorized)
			return
		}
		require.NoError(t, r.ParseForm())
		info, ok := tokens[r.Form.Get("token")]
		if !ok {
			info = map[string]any{"active": false}
		}
		_ = json.NewEncoder(w).Encode(info)
	}))
	t.Cleanup(s.Close)
	return s
}

// TestOAuth: with an introspection endpoint the server follows the MCP
// authorization profile: protected-resource metadata, 401 with
// WWW-Authenticate naming it, tokens accepted only when active and
// issued for this server (audience), and approvals only from a token with
// the approve scope and another subject than the caller's.
func TestOAuth(t *testing.T) {
	const resource = "https://mcp.example/"
	as := introspector(t, resource)
	f := newFixture(t, modeApprove)
	c := httpConfig{sessionTimeout: time.Minute, oauthIntrospect: as.URL, oauthIssuer: "https://as.example/",
		oauthClientID: "mcp", oauthSecret: "s3cret", resource: resource, introspectClient: as.Client()}
	ts, err := newToolServer(f.sub, modeApprove, time.Now, guard.Config{}, c.needApprover())
	require.NoError(t, err)
	srv, err := newServer(ts)
	require.NoError(t, err)
	h, err := httpHandler(srv, ts, c)
	require.NoError(t, err)
	hs := httptest.NewServer(h)
	t.Cleanup(hs.Close)

	resp, err := hs.Client().Get(hs.URL + "/.well-known/oauth-protected-resource")
	require.NoError(t, err)
	var meta map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&meta))
	_ = resp.Body.Close()
	require.Equal(t, resource, meta["resource"])
	require.Equal(t, []any{"https://as.example/"}, meta["authorization_servers"])

	rec := post(t, h, "", "", initBody)
	require.Equal(t, http.StatusUnauthorized, rec.Code)
	require.Contains(t, rec.Header().Get("WWW-Authenticate"), `resource_metadata="https://mcp.example/.well-known/oauth-protected-resource"`)
	for _, tok := range []string{"alice-other", "revoked", "nobody"} {
		require.Equal(t, http.StatusUnauthorized, post(t, h, "Bearer "+tok, "", initBody).Code, tok)
	}

	cs := connectHTTP(t, hs.URL, "alice-token", "2026-07-28", nil)
	region, _, to := f.followerMove(t)
	res, err := cs.CallTool(t.Context(), &mcp.CallToolParams{Name: "transfer_leader", Arguments: map[string]any{"region_id": region, "to_store_id": to}})
	require.NoError(t, err)
	plan := actionResult(t, res)
	require.NotEmpty(t, plan.ApprovalID, "OAuth: approvals come from another subject")

	decide := func(tok string) int {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, hs.URL+"/approvals/"+url.PathEscape(plan.ApprovalID), strings.NewReader(`{"approve":true}`))
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := hs.Client().Do(req)
		require.NoError(t, err)
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		return resp.StatusCode
	}
	require.Equal(t, http.StatusUnauthorized, decide("alice-token"), "no approve scope")
	require.Equal(t, http.StatusOK, decide("bob-approver"))
	res, err = cs.CallTool(t.Context(), &mcp.CallToolParams{Name: "transfer_leader", Arguments: map[string]any{"region_id": region, "to_store_id": to, tokenField: plan.ApprovalToken}})
	require.NoError(t, err)
	require.False(t, actionResult(t, res).Result.DryRun)
	leader, err := f.sim.RegionLeader(region)
	require.NoError(t, err)
	require.Equal(t, to, leader)
}

// TestPrometheusByDefault: -pd without -prometheus reads metrics from
// tiup playground's Prometheus, as examples/watch does, and offers the
// metric tools; -no-prometheus offers none. Before, -pd alone offered no
// metric tools while watch -pd read :9090.
func TestPrometheusByDefault(t *testing.T) {
	for _, tc := range []struct {
		o    options
		want bool
	}{
		{options{pd: "http://127.0.0.1:2379"}, true},
		{options{pd: "http://127.0.0.1:2379", prometheus: "http://127.0.0.1:9091"}, true},
		{options{pd: "http://127.0.0.1:2379", noPrometheus: true}, false},
	} {
		sub, closeSub, err := newSubject(t.Context(), tc.o, slog.New(slog.DiscardHandler))
		require.NoError(t, err)
		ok := slices.ContainsFunc(sub.Capabilities().Observations, func(o subject.ObservationSpec) bool { return o.Name == "store_metrics" })
		require.Equal(t, tc.want, ok, "%+v", tc.o)
		closeSub()
		_ = sub.Close()
	}
	err := run(t.Context(), options{noPrometheus: true, mode: string(modeDryRun)}, strings.NewReader(""), io.Discard, io.Discard)
	require.ErrorIs(t, err, subject.ErrInvalid, "-no-prometheus without -pd")
}
