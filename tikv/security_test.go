package tikv_test

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	promconfig "github.com/prometheus/common/config"
	"github.com/stretchr/testify/require"

	"github.com/kvops/operator/internal/certs"
	"github.com/kvops/operator/internal/promtest"
	"github.com/kvops/operator/invariant"
	"github.com/kvops/operator/pdclient"
	"github.com/kvops/operator/promclient"
	"github.com/kvops/operator/promclient/httpconfig"
	"github.com/kvops/operator/subject"
	"github.com/kvops/operator/tikv"
)

// refusedByServer checks how a client learns that the server refused its
// certificate (or its lack of one). Under TLS 1.3 the client's handshake
// ends before the server has checked the certificate, so the refusal comes
// on the connection: the server's alert, or a reset under the client's
// first write. Either way it is a network error, and not the client's own
// verification of the server.
func refusedByServer(t *testing.T, err error) {
	t.Helper()
	var op *net.OpError
	require.ErrorAs(t, err, &op, "the refusal is a network error: %v", err)
	var verify *tls.CertificateVerificationError
	require.False(t, errors.As(err, &verify), "the client refused the server, not the server the client: %v", err)
}

// untrustedServer checks that the client refused the server's certificate
// as signed by an authority it does not trust.
func untrustedServer(t *testing.T, err error) {
	t.Helper()
	var verify *tls.CertificateVerificationError
	require.ErrorAs(t, err, &verify)
	var ua x509.UnknownAuthorityError
	require.ErrorAs(t, err, &ua)
}

// TestPDMutualTLS serves PD over HTTPS on three members, each requiring a
// client certificate from the test's authority. A client with the right
// certificate works; one without, or with a certificate from another
// authority, or not trusting the server, gets a TLS error naming the
// endpoint. A member advertising a plaintext URL in /members does not
// make the client talk plaintext, and a plaintext endpoint is refused.
func TestPDMutualTLS(t *testing.T) {
	noLeaks(t)
	ca, err := certs.NewAuthority("pd-ca")
	require.NoError(t, err)
	srvPair, err := ca.Server()
	require.NoError(t, err)
	client, err := ca.Client("operator")
	require.NoError(t, err)
	other, err := certs.NewAuthority("other-ca")
	require.NoError(t, err)
	stranger, err := other.Client("operator")
	require.NoError(t, err)

	serverTLS := &tls.Config{Certificates: []tls.Certificate{srvPair.TLS}, ClientCAs: ca.Pool(), ClientAuth: tls.RequireAndVerifyClientCert}
	clientTLS := &tls.Config{RootCAs: ca.Pool(), Certificates: []tls.Certificate{client.TLS}}
	c := newFrontCluster(t, serverTLS, func(cfg *tikv.Config) { cfg.PD.TLS = clientTLS })
	for _, u := range c.front.urls() {
		require.True(t, strings.HasPrefix(u, "https://"), u)
	}
	// The leader, pd1, advertises a plaintext URL where a plaintext server
	// listens and counts what reaches it.
	var plainHits atomic.Int64
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { plainHits.Add(1) }))
	plain.Config.ErrorLog = slogDiscard()
	t.Cleanup(plain.Close)
	c.front.eps[0].mu.Lock()
	c.front.eps[0].advertise = plain.URL
	c.front.eps[0].mu.Unlock()

	stores, err := c.sub.Stores(t.Context())
	require.NoError(t, err)
	require.Len(t, stores, 5)
	e := evaluator(t, c.sub)
	rep := evalAt(t, e, c.sim.Now())
	require.Empty(t, rep.Errors)
	for _, ep := range c.sub.PD().Endpoints() {
		require.True(t, strings.HasPrefix(ep, "https://"), "endpoint %s after discovery", ep)
	}
	require.Contains(t, c.sub.PD().Endpoints(), "https://"+strings.TrimPrefix(plain.URL, "http://"), "the advertised member was upgraded to https")
	require.Zero(t, plainHits.Load(), "a request reached the plaintext server")

	tests := []struct {
		name  string
		tls   *tls.Config
		check func(t *testing.T, err error)
	}{
		{"no client certificate", &tls.Config{RootCAs: ca.Pool()}, refusedByServer},
		// Go's client offers no certificate the server's list of
		// authorities rules out, so the server sees none.
		{"client certificate from another authority", &tls.Config{RootCAs: ca.Pool(), Certificates: []tls.Certificate{stranger.TLS}}, refusedByServer},
		{"server not trusted", &tls.Config{Certificates: []tls.Certificate{client.TLS}}, untrustedServer},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sub, err := tikv.New(tikv.Config{DisableMetrics: true,
				PD: pdclient.Config{Endpoints: c.front.urls()[1:2], TLS: tt.tls, MaxAttempts: 1}})
			require.NoError(t, err)
			t.Cleanup(sub.PD().CloseIdleConnections)
			_, err = sub.Stores(t.Context())
			require.Error(t, err)
			var te *pdclient.TransportError
			require.ErrorAs(t, err, &te)
			require.Equal(t, c.front.urls()[1], te.Endpoint)
			require.ErrorIs(t, err, pdclient.ErrUnavailable)
			require.ErrorIs(t, err, subject.ErrUnavailable)
			tt.check(t, err)
		})
	}

	_, err = tikv.New(tikv.Config{DisableMetrics: true, PD: pdclient.Config{Endpoints: []string{plain.URL}, TLS: clientTLS}})
	require.ErrorIs(t, err, subject.ErrInvalid, "a plaintext endpoint with TLS configured")
	require.Zero(t, plainHits.Load())
}

// TestPrometheusMutualTLS runs a real Prometheus that serves HTTPS only
// and requires a client certificate from its authority.
func TestPrometheusMutualTLS(t *testing.T) {
	noLeaks(t)
	p := promtest.Start(t, promtest.WithClientAuth())
	require.True(t, strings.HasPrefix(p.URL, "https://"), p.URL)
	require.NotNil(t, p.ClientCert)
	other, err := certs.NewAuthority("other-ca")
	require.NoError(t, err)
	stranger, err := other.Client("operator")
	require.NoError(t, err)

	tests := []struct {
		name  string
		tls   *tls.Config
		check func(*testing.T, error) // nil for success
	}{
		{"client certificate", &tls.Config{RootCAs: p.RootCAs, Certificates: []tls.Certificate{*p.ClientCert}}, nil},
		{"no client certificate", &tls.Config{RootCAs: p.RootCAs}, refusedByServer},
		// Whether Go's client offers the certificate depends on the
		// authorities the server lists; either way the server refuses.
		{"certificate from another authority", &tls.Config{RootCAs: p.RootCAs, Certificates: []tls.Certificate{stranger.TLS}}, refusedByServer},
		{"server not trusted", &tls.Config{Certificates: []tls.Certificate{*p.ClientCert}}, untrustedServer},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := newCluster(t, func(cfg *tikv.Config) {
				cfg.DisableMetrics = false
				cfg.Prometheus = promclient.Config{Address: p.URL, TLS: tt.tls}
			})
			m, err := c.sub.AllStoreMetrics(t.Context())
			if tt.check == nil {
				require.NoError(t, err)
				require.Len(t, m, 5)
				// The Prometheus scrapes nothing: every reading is unknown,
				// and says so.
				_, known := m[0].DiskCapacity.Get()
				require.False(t, known)
				return
			}
			require.Error(t, err)
			tt.check(t, err)
			require.Equal(t, p.URL, promAddressOf(t, err))
			require.ErrorIs(t, err, promclient.ErrUnavailable)
			require.ErrorIs(t, err, subject.ErrUnavailable)
			// Every query failed alike: the error blames no family.
			var shared *promclient.SharedError
			require.ErrorAs(t, err, &shared)
		})
	}

	plainURL := "http://" + strings.TrimPrefix(p.URL, "https://")
	_, err = tikv.New(tikv.Config{Prometheus: promclient.Config{Address: plainURL, TLS: &tls.Config{RootCAs: p.RootCAs}}})
	require.ErrorIs(t, err, subject.ErrInvalid, "a plaintext address with TLS configured")
}

// authProm is a Prometheus double for credentials: it answers 401 to
// requests without the expected credentials, a bad_data error to queries
// it is told to reject, and an empty vector otherwise. It records
// whether the credentials arrived.
type authProm struct {
	srv      *httptest.Server
	want     string // the expected Authorization header
	reject   atomic.Bool
	received atomic.Int64
}

func newAuthProm(t *testing.T, want string) *authProm {
	t.Helper()
	p := &authProm{want: want}
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		if r.Header.Get("Authorization") != p.want {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = io.WriteString(w, `{"status":"error","errorType":"unauthorized","error":"bad credentials"}`)
			return
		}
		p.received.Add(1)
		if p.reject.Load() {
			w.WriteHeader(http.StatusBadRequest)
			_, _ = io.WriteString(w, `{"status":"error","errorType":"bad_data","error":"1:1: parse error: unexpected character"}`)
			return
		}
		_, _ = io.WriteString(w, `{"status":"success","data":{"resultType":"vector","result":[]}}`)
	}))
	t.Cleanup(p.srv.Close)
	return p
}

// TestSecretsNeverLogged runs the Subject with a bearer token, then with
// basic auth, through success, a rejected query, wrong credentials and an
// unreachable Prometheus, with every logger at Debug: the secret reaches
// Prometheus but appears in no log record, no error, and no formatting
// of the configuration.
func TestSecretsNeverLogged(t *testing.T) {
	noLeaks(t)
	const token, password = "tok-3f9a1c7e-SECRET", "pw-77b2d9-SECRET"
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte("ops:"+password))
	tests := []struct {
		name   string
		secret string
		auth   func(*promclient.Config)
		header string
		wrong  func(*promclient.Config) // credentials the server refuses
	}{
		{"bearer token", token, withHTTPConfig(t, promconfig.HTTPClientConfig{BearerToken: token}), "Bearer " + token,
			withHTTPConfig(t, promconfig.HTTPClientConfig{BearerToken: token + "-old"})},
		{"basic auth", password, withHTTPConfig(t, promconfig.HTTPClientConfig{BasicAuth: &promconfig.BasicAuth{Username: "ops", Password: password}}), basic,
			withHTTPConfig(t, promconfig.HTTPClientConfig{BasicAuth: &promconfig.BasicAuth{Username: "ops", Password: password + "-old"}})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			prom := newAuthProm(t, tt.header)
			logs, textLogger := captureLogs()
			records, recLogger := recordLogs()
			// Every record goes as text (searched for the secret)
			// and as a record (its errors checked by type).
			logger := slog.New(slog.NewMultiHandler(textLogger.Handler(), recLogger.Handler()))
			var seen []string // every error and formatted config
			run := func(address string, edit func(*promclient.Config), reject bool) {
				t.Helper()
				prom.reject.Store(reject)
				var cfg tikv.Config
				c := newCluster(t, func(tc *tikv.Config) {
					tc.DisableMetrics = false
					tc.Prometheus = promclient.Config{Address: address, Logger: logger, Timeout: 5 * time.Second}
					edit(&tc.Prometheus)
					tc.Logger = logger
					cfg = *tc
				})
				seen = append(seen, fmt.Sprintf("%v", cfg), fmt.Sprintf("%+v", cfg), fmt.Sprintf("%#v", cfg),
					fmt.Sprintf("%+v", cfg.Prometheus), fmt.Sprintf("%#v", cfg.Prometheus))
				e, err := invariant.New(c.sub.Invariants(), invariant.Config{Logger: logger})
				require.NoError(t, err)
				rep := evalAt(t, e, c.sim.Now())
				for _, ce := range rep.Errors {
					seen = append(seen, ce.Error(), fmt.Sprintf("%+v", ce), fmt.Sprintf("%#v", ce.Err))
				}
				_, err = c.sub.StoreMetrics(t.Context(), 1)
				seen = append(seen, fmt.Sprint(err), fmt.Sprintf("%+v", err))
				// An action logs before and after itself.
				_, err = c.sub.SetScheduleLimit(t.Context(), subject.LeaderLimit, 5)
				require.NoError(t, err)
			}
			run(prom.srv.URL, tt.auth, false)
			require.Positive(t, prom.received.Load(), "the credentials never reached Prometheus: the test would prove nothing")
			run(prom.srv.URL, tt.auth, true)
			run(prom.srv.URL, tt.wrong, false)
			run("http://"+promtest.RefusedAddr(t), tt.auth, false)

			all := logs.String()
			apiError := func(typ promclient.ErrorType) func(error) bool {
				return func(err error) bool {
					var ae *promclient.APIError
					return errors.As(err, &ae) && ae.Type == typ
				}
			}
			require.True(t, records.anyError(apiError(promclient.ErrorClient)), "the 401 was not logged: the capture saw nothing")
			require.True(t, records.anyError(apiError(promclient.ErrorBadData)), "the rejected query was not logged")
			require.True(t, records.anyError(func(err error) bool { return errors.Is(err, syscall.ECONNREFUSED) }),
				"the unreachable Prometheus was not logged")
			require.NotContains(t, all, tt.secret)
			require.NotContains(t, all, base64.StdEncoding.EncodeToString([]byte("ops:"+password)))
			for _, s := range seen {
				require.NotContains(t, s, tt.secret)
			}
		})
	}
}

// withHTTPConfig sets a Prometheus client's transport to the one
// Prometheus' own configuration hc describes (package
// promclient/httpconfig).
func withHTTPConfig(t *testing.T, hc promconfig.HTTPClientConfig) func(*promclient.Config) {
	return func(c *promclient.Config) {
		rt, err := httpconfig.NewRoundTripper(httpconfig.Config{HTTPClient: hc})
		require.NoError(t, err)
		c.RoundTripper = rt
	}
}

// recordingPD answers every request 200 with "null" (or what answer
// returns) and records each request's method and URI as sent on the wire.
type recordingPD struct {
	srv *httptest.Server
	mu  sync.Mutex
	got []string
}

func newRecordingPD(t *testing.T, answer func(r *http.Request) string) *recordingPD {
	t.Helper()
	p := &recordingPD{}
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		p.got = append(p.got, r.Method+" "+r.RequestURI)
		p.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, answer(r))
	}))
	t.Cleanup(p.srv.Close)
	return p
}

func (p *recordingPD) requests() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := p.got
	p.got = nil
	return out
}

// TestUserInputEscaped sends user-supplied strings that would change a
// request if pasted into a URL (/, ?, #, %, &, spaces, "..") and checks the
// exact request line PD receives: keys must be hex and are refused
// otherwise, before anything is sent; names and states are escaped.
// Matcher values cannot break out of their PromQL string.
func TestUserInputEscaped(t *testing.T) {
	noLeaks(t)
	pd := newRecordingPD(t, func(r *http.Request) string {
		if strings.HasPrefix(r.URL.Path, "/pd/api/v1/region/key/") {
			return `{"id": 4, "start_key": "", "end_key": ""}`
		}
		return `{"count": 0, "stores": []}`
	})
	c, err := pdclient.New(pdclient.Config{Endpoints: []string{pd.srv.URL}, MaxAttempts: 1})
	require.NoError(t, err)
	t.Cleanup(c.CloseIdleConnections)
	ctx := t.Context()
	const nasty = "a/b?c#d%e f&g=h/../.."

	_, err = c.RegionByKey(ctx, nasty)
	require.ErrorIs(t, err, pdclient.ErrBadRequest)
	_, err = c.ScanRegions(ctx, "74800000", nasty, 10)
	require.ErrorIs(t, err, pdclient.ErrBadRequest)
	require.ErrorIs(t, c.SplitRegion(ctx, 4, pdclient.SplitUseKey, nasty), pdclient.ErrBadRequest)
	require.ErrorIs(t, c.SetStoreState(ctx, 1, "Up&state=Tombstone"), pdclient.ErrBadRequest)
	require.Empty(t, pd.requests(), "a refused argument was sent")

	_, err = c.RegionByKey(ctx, "7480000000000000FF")
	require.NoError(t, err)
	_, err = c.StoresInState(ctx, nasty)
	require.NoError(t, err)
	require.NoError(t, c.DeleteScheduler(ctx, "evict-leader-scheduler/../../config?x=1#y"))
	want := []string{
		"GET /pd/api/v1/members", // the client learns the members before its first request
		"GET /pd/api/v1/region/key/7480000000000000FF?format=hex",
		"GET /pd/api/v1/stores/check?state=" + url.QueryEscape(nasty),
		"DELETE /pd/api/v1/schedulers/evict-leader-scheduler%2F..%2F..%2Fconfig%3Fx=1%23y",
	}
	if diff := cmp.Diff(want, pd.requests()); diff != "" {
		t.Errorf("requests on the wire (-want +got):\n%s", diff)
	}

	// PromQL: a matcher value is a quoted string whatever it holds.
	var queries []string
	var mu sync.Mutex
	prom := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		require.NoError(t, r.ParseForm())
		mu.Lock()
		queries = append(queries, r.Form.Get("query"))
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"status":"success","data":{"resultType":"vector","result":[]}}`)
	}))
	t.Cleanup(prom.Close)
	evil := `"} or vector(1) # \`
	pc, err := promclient.New(promclient.Config{Address: prom.URL, Matchers: []promclient.Matcher{promclient.Equal("tidb_cluster", evil)}})
	require.NoError(t, err)
	_, _, err = pc.OneStoreMetrics(ctx, subject.Store{ID: 1, StatusAddress: `10.0.0.1:20180"}`})
	require.NoError(t, err)
	require.Len(t, queries, len(promclient.Metrics()))
	for _, q := range queries {
		require.Contains(t, q, `tidb_cluster="\"} or vector(1) # \\"`)
		require.Contains(t, q, `instance="10.0.0.1:20180\"}"`)
	}
}

// TestResponseSizeCaps: an answer bigger than the configured cap, from PD
// or from Prometheus, is an error matching the client's ErrTooLarge, and is
// never read whole.
func TestResponseSizeCaps(t *testing.T) {
	noLeaks(t)
	big := `{"count": 1, "stores": [], "pad": "` + strings.Repeat("x", 1<<20) + `"}`
	pd := newRecordingPD(t, func(*http.Request) string { return big })
	prom := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"status":"success","data":{"resultType":"vector","result":[]}, "pad": "`+strings.Repeat("x", 1<<20)+`"}`)
	}))
	t.Cleanup(prom.Close)
	sub, err := tikv.New(tikv.Config{DisableMetrics: true,
		PD: pdclient.Config{Endpoints: []string{pd.srv.URL}, MaxResponseBytes: 64 << 10, MaxAttempts: 1}})
	require.NoError(t, err)
	t.Cleanup(sub.PD().CloseIdleConnections)
	_, err = sub.Stores(t.Context())
	require.ErrorIs(t, err, pdclient.ErrTooLarge)

	pc, err := promclient.New(promclient.Config{Address: prom.URL, MaxResponseBytes: 64 << 10})
	require.NoError(t, err)
	_, _, err = pc.StoreMetrics(t.Context(), []subject.Store{{ID: 1, StatusAddress: "127.0.0.1:20180"}})
	require.ErrorIs(t, err, promclient.ErrTooLarge)
	require.Equal(t, prom.URL, promAddressOf(t, err))
}
