package promclient_test

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	promconfig "github.com/prometheus/common/config"
	"github.com/stretchr/testify/require"

	"github.com/kvops/operator/internal/certs"
	"github.com/kvops/operator/promclient"
)

// front starts a reverse proxy to target on a real listener, HTTPS when
// serverTLS is set, whose outgoing requests go through rt (which sees the
// client's headers), and returns its URL.
func front(t *testing.T, target string, serverTLS *tls.Config, rt http.RoundTripper) string {
	t.Helper()
	u, err := url.Parse(target)
	require.NoError(t, err)
	srv := httptest.NewUnstartedServer(&httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) { r.SetURL(u) }, Transport: rt})
	if serverTLS == nil {
		srv.Start()
	} else {
		srv.TLS = serverTLS
		srv.StartTLS()
	}
	t.Cleanup(srv.Close)
	return srv.URL
}

// TestHTTPClientTLS reads Prometheus through an HTTPS front that requires a
// client certificate, with the certificates given as files and as PEM in
// HTTPClient.TLSConfig, and without one.
func TestHTTPClientTLS(t *testing.T) {
	b := startBackfilled(t)
	ca, err := certs.NewAuthority("test-ca")
	require.NoError(t, err)
	server, err := ca.Server()
	require.NoError(t, err)
	client, err := ca.Client("operator")
	require.NoError(t, err)
	dir := t.TempDir()
	certFile, keyFile, err := client.WriteFiles(dir, "client")
	require.NoError(t, err)
	caFile := filepath.Join(dir, "ca.pem")
	require.NoError(t, writeFile(caFile, ca.CertPEM))
	addr := front(t, b.url, &tls.Config{
		Certificates: []tls.Certificate{server.TLS},
		ClientCAs:    ca.Pool(), ClientAuth: tls.RequireAndVerifyClientCert,
	}, http.DefaultTransport)

	tests := []struct {
		name   string
		tls    promconfig.TLSConfig
		wantOK bool
	}{
		{"files", promconfig.TLSConfig{CAFile: caFile, CertFile: certFile, KeyFile: keyFile}, true},
		{"PEM", promconfig.TLSConfig{CA: string(ca.CertPEM), Cert: string(client.CertPEM), Key: promconfig.Secret(client.KeyPEM)}, true},
		{"no client certificate", promconfig.TLSConfig{CAFile: caFile}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newClient(t, b, func(c *promclient.Config) {
				c.Address = addr
				c.HTTPClient.TLSConfig = tt.tls
			})
			got, _, err := c.StoreMetrics(t.Context(), stores(3))
			if !tt.wantOK {
				require.ErrorIs(t, err, promclient.ErrUnavailable)
				return
			}
			require.NoError(t, err)
			if d := check(got[0].DiskUsage(), approx(0.9)); d != "" {
				t.Errorf("store 3 disk usage through the HTTPS front: %s", d)
			}
		})
	}
}

// TestHTTPClientOAuth2 gets a token from an OAuth2 token endpoint with the
// client credentials grant and sends it to Prometheus.
func TestHTTPClientOAuth2(t *testing.T) {
	const clientSecret, accessToken = "oauth-secret-51c0", "oauth-token-9d2e"
	b := startBackfilled(t)
	var grants atomic.Int32
	tokens := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, secret, ok := r.BasicAuth()
		if !ok || id != "operator" || secret != clientSecret || r.FormValue("grant_type") != "client_credentials" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		grants.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"access_token": accessToken, "token_type": "Bearer", "expires_in": 3600})
	}))
	t.Cleanup(tokens.Close)
	rt := &countingTransport{next: http.DefaultTransport}
	var cfg promclient.Config
	c := newClient(t, b, func(c *promclient.Config) {
		c.Address = front(t, b.url, nil, rt)
		c.HTTPClient.OAuth2 = &promconfig.OAuth2{ClientID: "operator", ClientSecret: clientSecret, TokenURL: tokens.URL}
		cfg = *c
	})
	_, _, err := c.StoreMetrics(t.Context(), stores(1))
	require.NoError(t, err)
	require.Equal(t, "Bearer "+accessToken, rt.auth.Load())
	require.Equal(t, int32(1), grants.Load(), "one token for every query, though they run concurrently")
	require.NotContains(t, fmt.Sprintf("%v %+v %#v", cfg, cfg, cfg), clientSecret)
}

// TestConfigFormatHidesSecrets prints a Config with a secret in every
// place HTTPClientConfig has one: each shows as "<secret>", whatever the
// verb or logger, and printing leaves the Config itself intact.
func TestConfigFormatHidesSecrets(t *testing.T) {
	secrets := []string{"s-basic", "s-authz", "s-bearer", "s-oauth", "s-key", "s-header", "s-proxy"}
	cfg := promclient.DefaultConfig()
	cfg.HTTPClient = promconfig.HTTPClientConfig{
		BasicAuth:     &promconfig.BasicAuth{Username: "ops", Password: "s-basic"},
		Authorization: &promconfig.Authorization{Type: "Bearer", Credentials: "s-authz"},
		BearerToken:   "s-bearer",
		OAuth2:        &promconfig.OAuth2{ClientID: "operator", ClientSecret: "s-oauth"},
		TLSConfig:     promconfig.TLSConfig{Key: "s-key", ServerName: "prom.example"},
		HTTPHeaders:   &promconfig.Headers{Headers: map[string]promconfig.Header{"X-Token": {Secrets: []promconfig.Secret{"s-header"}}}},
		ProxyConfig:   promconfig.ProxyConfig{ProxyConnectHeader: promconfig.ProxyHeader{"Proxy-Authorization": {"s-proxy"}}},
	}
	before := fmt.Sprintf("%#v", cfg.HTTPClient)

	var logs bytes.Buffer
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("config", "cfg", cfg)
	slog.New(slog.NewTextHandler(&logs, nil)).Info("config", "cfg", cfg)
	type holder struct{ Prometheus promclient.Config }
	for name, out := range map[string]string{
		"%v": fmt.Sprintf("%v", cfg), "%+v": fmt.Sprintf("%+v", cfg), "%#v": fmt.Sprintf("%#v", cfg),
		"nested %+v": fmt.Sprintf("%+v", holder{cfg}), "slog": logs.String(),
	} {
		for _, s := range secrets {
			if strings.Contains(out, s) {
				t.Errorf("%s reveals %q:\n%s", name, s, out)
			}
		}
		if !strings.Contains(out, "<secret>") || !strings.Contains(out, "prom.example") {
			t.Errorf("%s shows neither the redacted secrets nor the rest of the configuration:\n%s", name, out)
		}
	}
	require.Equal(t, before, fmt.Sprintf("%#v", cfg.HTTPClient), "printing changed the configuration")
}

func writeFile(name string, data []byte) error { return os.WriteFile(name, data, 0o600) }
