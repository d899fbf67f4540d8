package httpconfig_test

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/prometheus/common/config"
	"github.com/stretchr/testify/require"

	"github.com/kvops/operator/internal/certs"
	"github.com/kvops/operator/internal/promtest"
	"github.com/kvops/operator/promclient"
	"github.com/kvops/operator/promclient/httpconfig"
	"github.com/kvops/operator/subject"
)

// TestTLS reads Prometheus through an HTTPS front that requires a client
// certificate, with the certificates given as files and as PEM in
// HTTPClient.TLSConfig, and in memory in TLS; and without one.
func TestTLS(t *testing.T) {
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
	require.NoError(t, os.WriteFile(caFile, ca.CertPEM, 0o600))
	addr := promtest.Front(t, prometheus(t), &tls.Config{
		Certificates: []tls.Certificate{server.TLS},
		ClientCAs:    ca.Pool(), ClientAuth: tls.RequireAndVerifyClientCert,
	}, http.DefaultTransport)

	tests := []struct {
		name   string
		cfg    httpconfig.Config
		wantOK bool
	}{
		{"files", httpconfig.Config{HTTPClient: config.HTTPClientConfig{TLSConfig: config.TLSConfig{CAFile: caFile, CertFile: certFile, KeyFile: keyFile}}}, true},
		{"PEM", httpconfig.Config{HTTPClient: config.HTTPClientConfig{TLSConfig: config.TLSConfig{CA: string(ca.CertPEM), Cert: string(client.CertPEM), Key: config.Secret(client.KeyPEM)}}}, true},
		{"in memory", httpconfig.Config{TLS: &tls.Config{RootCAs: ca.Pool(), Certificates: []tls.Certificate{client.TLS}}}, true},
		{"no client certificate", httpconfig.Config{HTTPClient: config.HTTPClientConfig{TLSConfig: config.TLSConfig{CAFile: caFile}}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rt, err := httpconfig.NewRoundTripper(tt.cfg)
			require.NoError(t, err)
			err = storeMetrics(t, addr, rt, nil)
			if !tt.wantOK {
				require.ErrorIs(t, err, promclient.ErrUnavailable)
				return
			}
			require.NoError(t, err)
		})
	}
}

// TestPlaintextRefused: a transport configured for TLS refuses an http://
// address before anything is sent, as misconfigured (ErrInvalid), not as
// an unreachable Prometheus; the TLS settings are never silently dropped.
func TestPlaintextRefused(t *testing.T) {
	var reached atomic.Int64
	plain := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { reached.Add(1) }))
	t.Cleanup(plain.Close)
	for name, cfg := range map[string]httpconfig.Config{
		"TLS files":     {HTTPClient: config.HTTPClientConfig{TLSConfig: config.TLSConfig{InsecureSkipVerify: true}}},
		"TLS in memory": {TLS: &tls.Config{}},
	} {
		t.Run(name, func(t *testing.T) {
			rt, err := httpconfig.NewRoundTripper(cfg)
			require.NoError(t, err)
			err = storeMetrics(t, plain.URL, rt, nil)
			require.ErrorIs(t, err, subject.ErrInvalid)
			require.False(t, errors.Is(err, promclient.ErrUnavailable), "a refused plaintext request is not an unreachable Prometheus: %v", err)
			require.ErrorContains(t, err, "plaintext")
			require.Zero(t, reached.Load(), "a request reached the plaintext server")
		})
	}
}

// TestOAuth2 gets a token from an OAuth2 token endpoint with the client
// credentials grant and sends it to Prometheus: one token for the
// concurrent queries of a call.
func TestOAuth2(t *testing.T) {
	const clientSecret, accessToken = "oauth-secret-51c0", "oauth-token-9d2e"
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
	seen := &recorder{next: http.DefaultTransport}
	cfg := httpconfig.Config{HTTPClient: config.HTTPClientConfig{
		OAuth2: &config.OAuth2{ClientID: "operator", ClientSecret: clientSecret, TokenURL: tokens.URL},
	}}
	rt, err := httpconfig.NewRoundTripper(cfg)
	require.NoError(t, err)
	require.NoError(t, storeMetrics(t, promtest.Front(t, prometheus(t), nil, seen), rt, nil))
	require.Equal(t, "Bearer "+accessToken, seen.auth.Load())
	require.Equal(t, int32(1), grants.Load(), "one token for every query, though they run concurrently")
	require.NotContains(t, fmt.Sprintf("%v %+v %#v", cfg, cfg, cfg), clientSecret)
}

// TestSecretsStayOutOfErrorsAndLogs sends each kind of credential to
// Prometheus, then to an address that hangs up, with promclient's logger
// at Debug: the credential reaches Prometheus, and no error, log record or
// printed configuration (httpconfig's, or promclient's holding the
// transport) shows it.
func TestSecretsStayOutOfErrorsAndLogs(t *testing.T) {
	const token, password = "tok-9f3c1e", "pw-77ab42"
	tokenFile := filepath.Join(t.TempDir(), "token")
	require.NoError(t, os.WriteFile(tokenFile, []byte(token+"\n"), 0o600))
	down := hangUp(t)
	tests := []struct {
		name     string
		hc       config.HTTPClientConfig
		wantAuth string
	}{
		{"bearer token", config.HTTPClientConfig{BearerToken: token}, "Bearer " + token},
		{"basic auth", config.HTTPClientConfig{BasicAuth: &config.BasicAuth{Username: "ops", Password: password}}, "Basic b3BzOnB3LTc3YWI0Mg=="},
		{"bearer token file", config.HTTPClientConfig{BearerTokenFile: tokenFile}, "Bearer " + token},
		{"authorization", config.HTTPClientConfig{Authorization: &config.Authorization{Type: "Bearer", Credentials: token}}, "Bearer " + token},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs bytes.Buffer
			hcfg := httpconfig.Config{HTTPClient: tt.hc}
			rt, err := httpconfig.NewRoundTripper(hcfg)
			require.NoError(t, err)
			var pcfg promclient.Config
			debug := func(c *promclient.Config) {
				c.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
				pcfg = *c
			}
			seen := &recorder{next: http.DefaultTransport}
			require.NoError(t, storeMetrics(t, promtest.Front(t, prometheus(t), nil, seen), rt, debug))
			if got, _ := seen.auth.Load().(string); got != tt.wantAuth {
				t.Errorf("Authorization %q, want %q", got, tt.wantAuth)
			}
			err = storeMetrics(t, down, rt, debug)
			require.ErrorIs(t, err, promclient.ErrUnavailable)

			printed := fmt.Sprintf("%v %+v %#v %s %+v %#v %s", err, hcfg, hcfg, slog.AnyValue(hcfg).Resolve(), pcfg, pcfg, slog.AnyValue(pcfg).Resolve())
			for name, s := range map[string]string{"error and configs": printed, "logs": logs.String()} {
				if strings.Contains(s, token) || strings.Contains(s, password) {
					t.Errorf("%s reveal a secret:\n%s", name, s)
				}
			}
			if !strings.Contains(logs.String(), "promclient query") {
				t.Errorf("no debug record of the queries in the logs:\n%s", logs.String())
			}
		})
	}
}

// TestConfigFormatHidesSecrets prints a Config with a secret in every
// place HTTPClientConfig has one: each shows as "<secret>", whatever the
// verb or logger, and printing leaves the Config itself intact.
func TestConfigFormatHidesSecrets(t *testing.T) {
	secrets := []string{"s-basic", "s-authz", "s-bearer", "s-oauth", "s-key", "s-header", "s-proxy"}
	cfg := httpconfig.Config{HTTPClient: config.HTTPClientConfig{
		BasicAuth:     &config.BasicAuth{Username: "ops", Password: "s-basic"},
		Authorization: &config.Authorization{Type: "Bearer", Credentials: "s-authz"},
		BearerToken:   "s-bearer",
		OAuth2:        &config.OAuth2{ClientID: "operator", ClientSecret: "s-oauth"},
		TLSConfig:     config.TLSConfig{Key: "s-key", ServerName: "prom.example"},
		HTTPHeaders:   &config.Headers{Headers: map[string]config.Header{"X-Token": {Secrets: []config.Secret{"s-header"}}}},
		ProxyConfig:   config.ProxyConfig{ProxyConnectHeader: config.ProxyHeader{"Proxy-Authorization": {"s-proxy"}}},
	}}
	before := fmt.Sprintf("%#v", cfg.HTTPClient)

	var logs bytes.Buffer
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("config", "cfg", cfg)
	slog.New(slog.NewTextHandler(&logs, nil)).Info("config", "cfg", cfg)
	type holder struct{ Prometheus httpconfig.Config }
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

// TestNewRoundTripperRejectsBadConfig: inconsistent settings are refused
// with ErrInvalid, and the error does not show the password.
func TestNewRoundTripperRejectsBadConfig(t *testing.T) {
	proxy, err := url.Parse("http://u:hunter2@127.0.0.1:3128")
	require.NoError(t, err)
	tests := []struct {
		name string
		cfg  httpconfig.Config
	}{
		{"token and basic auth", httpconfig.Config{HTTPClient: config.HTTPClientConfig{
			BearerToken: "t", BasicAuth: &config.BasicAuth{Username: "u", Password: "hunter2"},
		}}},
		{"TLS and TLS files", httpconfig.Config{TLS: &tls.Config{}, HTTPClient: config.HTTPClientConfig{TLSConfig: config.TLSConfig{CAFile: "ca.pem"}}}},
		{"proxy with a password in its URL and from the environment", httpconfig.Config{HTTPClient: config.HTTPClientConfig{
			ProxyConfig: config.ProxyConfig{ProxyFromEnvironment: true, ProxyURL: config.URL{URL: proxy}},
		}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := httpconfig.NewRoundTripper(tt.cfg)
			require.ErrorIs(t, err, subject.ErrInvalid)
			require.NotContains(t, err.Error(), "hunter2")
		})
	}
}
