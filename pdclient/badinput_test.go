package pdclient

import (
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/kvops/operator/subject"
)

func TestBadResponses(t *testing.T) {
	html := "<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center><hr><center>nginx</center></body></html>"
	tests := []struct {
		name        string
		status      int
		contentType string
		body        string
		want        error
		wantMsg     string
	}{
		{"truncated JSON", 200, "application/json", `{"count":5,"stores":[{"store":{"id":1,`, ErrBadResponse, ""},
		{"wrong types", 200, "application/json", `{"count":"five","stores":{"id":1}}`, ErrBadResponse, ""},
		{"bad size", 200, "application/json", `{"count":1,"stores":[{"store":{"id":1},"status":{"capacity":"12XB"}}]}`, ErrBadResponse, ""},
		{"bad heartbeat time", 200, "application/json", `{"count":1,"stores":[{"store":{"id":1},"status":{"last_heartbeat_ts":"yesterday"}}]}`, ErrBadResponse, ""},
		{"HTML with 200", 200, "text/html", html, ErrBadResponse, ""},
		{"empty body", 200, "application/json", ``, ErrBadResponse, ""},
		{"trailing garbage", 200, "application/json", `{"count":0,"stores":[]}{"x":1}`, ErrBadResponse, ""},
		{"HTML error page from a proxy", 502, "text/html", html, ErrServer, html},
		{"empty 404", 404, "", ``, ErrNotFound, ""},
		{"503 text", 503, "text/plain", "no leader\n", ErrUnavailable, "no leader\n"},
		{"error object with message", 500, "application/json", `{"message":"internal"}`, ErrServer, "internal"},
		{"unclassified 4xx", 403, "text/plain", "forbidden", nil, "forbidden"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newRawServer(t, tt.status, tt.contentType, tt.body)
			c := newTestClient(t, srv.URL)
			c.maxAttempts = 1
			ss, err := c.Stores(t.Context())
			require.Error(t, err)
			require.Nil(t, ss)
			if tt.want != nil {
				require.ErrorIs(t, err, tt.want)
			}
			if tt.status/100 == 2 {
				var re *ResponseError
				require.ErrorAs(t, err, &re)
				require.Equal(t, srv.URL, re.Endpoint)
				require.Equal(t, "/pd/api/v1/stores", re.Path)
				return
			}
			var ae *APIError
			require.ErrorAs(t, err, &ae)
			require.Equal(t, tt.status, ae.Status)
			require.Equal(t, tt.wantMsg, ae.Message)
			for _, other := range []error{ErrNotFound, ErrBadRequest, ErrPrecondition, ErrServer, ErrUnavailable} {
				if other != tt.want {
					require.NotErrorIs(t, err, other)
				}
			}
		})
	}
}

// endlessServer answers with a valid start of JSON and then writes for as
// long as the client reads, up to limit bytes.
func endlessServer(t *testing.T, status int, prefix, chunk string, limit int) *rawServer {
	rs := &rawServer{}
	rs.Server = newHTTPServer(t, func(w http.ResponseWriter, r *http.Request) {
		rs.hits.Add(1)
		w.WriteHeader(status)
		if _, err := w.Write([]byte(prefix)); err != nil {
			return
		}
		for n := len(prefix); n < limit; n += len(chunk) {
			if _, err := w.Write([]byte(chunk)); err != nil {
				return
			}
		}
	})
	return rs
}

func TestBodyOverTheCap(t *testing.T) {
	region := `{"id":1,"start_key":"","end_key":"","epoch":{"conf_ver":1,"version":1},"peers":[]},`
	tests := []struct {
		name string
		call func(c *Client) error
		srv  func(t *testing.T) *rawServer
	}{
		{"regions", func(c *Client) error { _, err := c.Regions(t.Context()); return err },
			func(t *testing.T) *rawServer {
				return endlessServer(t, 200, `{"count":1,"regions":[`, strings.Repeat(region, 100), 256<<20)
			}},
		{"stores", func(c *Client) error { _, err := c.Stores(t.Context()); return err },
			func(t *testing.T) *rawServer {
				return endlessServer(t, 200, `{"count":1,"stores":[`, strings.Repeat(" ", 4096), 256<<20)
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := tt.srv(t)
			cfg := DefaultConfig()
			cfg.Endpoints, cfg.MaxResponseBytes, cfg.MaxAttempts = []string{srv.URL}, 64<<10, 1
			c, err := New(cfg)
			require.NoError(t, err)
			err = tt.call(c)
			require.ErrorIs(t, err, ErrTooLarge)
			require.ErrorIs(t, err, ErrBadResponse)
			require.Contains(t, err.Error(), "65536 bytes")
		})
	}

	t.Run("error body", func(t *testing.T) {
		srv := endlessServer(t, 500, `"`, strings.Repeat("x", 4096), 256<<20)
		c := newTestClient(t, srv.URL)
		_, err := c.Stores(t.Context())
		var ae *APIError
		require.ErrorAs(t, err, &ae)
		require.LessOrEqual(t, len(ae.Message), maxErrorBody, "an error body is cut, not buffered")
	})
}

func TestConfigValidation(t *testing.T) {
	tests := []struct {
		name string
		cfg  func(*Config)
	}{
		{"TLS with a plaintext endpoint", func(c *Config) { c.TLS, c.Endpoints = &tls.Config{}, []string{"http://pd:2379"} }},
		{"mixed schemes", func(c *Config) { c.Endpoints = []string{"https://pd-0:2379", "http://pd-1:2379"} }},
		{"not http", func(c *Config) { c.Endpoints = []string{"ftp://pd:2379"} }},
		{"no host", func(c *Config) { c.Endpoints = []string{"http://"} }},
		{"TLS on a foreign transport", func(c *Config) {
			c.TLS = &tls.Config{}
			c.HTTPClient = &http.Client{Transport: roundTripFunc(nil)}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := DefaultConfig()
			tt.cfg(&cfg)
			_, err := New(cfg)
			require.ErrorIs(t, err, ErrBadRequest)
		})
	}

	cfg := DefaultConfig()
	cfg.TLS, cfg.Endpoints = &tls.Config{}, []string{"pd-0:2379", "https://pd-1:2379/"}
	c, err := New(cfg)
	require.NoError(t, err)
	require.Equal(t, []string{"https://pd-0:2379", "https://pd-1:2379"}, c.Endpoints())

	c, err = New(Config{})
	require.NoError(t, err)
	require.Equal(t, []string{DefaultEndpoint}, c.Endpoints(), "the zero Config is the default one")
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestTLS(t *testing.T) {
	ex := loadExchange(t, "pd", "version")
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { ex.respond(t, w) }))
	t.Cleanup(srv.Close)
	tc := srv.Client().Transport.(*http.Transport).TLSClientConfig

	cfg := DefaultConfig()
	cfg.Endpoints, cfg.TLS = []string{strings.TrimPrefix(srv.URL, "https://")}, tc
	c, err := New(cfg)
	require.NoError(t, err)
	v, err := c.Version(t.Context())
	require.NoError(t, err)
	require.Equal(t, "v8.5.0", v.Version)

	// Members PD lists as http:// are reached over TLS.
	c.setMembers(&Members{Members: []Member{{Name: "pd2", ClientURLs: []string{"http://pd-2:2379"}}}})
	for _, e := range c.Endpoints() {
		require.True(t, strings.HasPrefix(e, "https://"), e)
	}

	// Without the CA the connection fails: there is no plaintext retry.
	plain := newRawServer(t, 200, "application/json", `{"version":"plaintext"}`)
	cfg.TLS = &tls.Config{}
	cfg.Endpoints = []string{srv.URL, "https://" + strings.TrimPrefix(plain.URL, "http://")}
	c, err = New(cfg)
	require.NoError(t, err)
	c.sleep = noSleep
	_, err = c.Version(t.Context())
	require.ErrorIs(t, err, ErrUnavailable)
	require.Zero(t, plain.hits.Load(), "nothing was sent in plaintext")
}

func TestTLSRefusesRedirectToPlaintext(t *testing.T) {
	plain := newRawServer(t, 200, "application/json", `{"version":"plaintext"}`)
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, plain.URL+r.URL.Path, http.StatusTemporaryRedirect)
	}))
	t.Cleanup(srv.Close)
	cfg := DefaultConfig()
	cfg.Endpoints, cfg.TLS, cfg.MaxAttempts = []string{srv.URL}, srv.Client().Transport.(*http.Transport).TLSClientConfig, 1
	c, err := New(cfg)
	require.NoError(t, err)
	_, err = c.Version(t.Context())
	require.Error(t, err)
	require.Contains(t, err.Error(), "plaintext")
	require.Zero(t, plain.hits.Load())
}

func TestArgumentsRefusedBeforeSending(t *testing.T) {
	srv := newRawServer(t, 200, "application/json", `"ok"`)
	c := newTestClient(t, srv.URL)
	ctx := t.Context()
	calls := map[string]error{
		"ScanRegions bad key":      second(c.ScanRegions(ctx, "zz", "", 1)),
		"ScanRegions no limit":     second(c.ScanRegions(ctx, "", "", 0)),
		"TopRegions unknown":       second(c.TopRegions(ctx, "hotness", 3)),
		"CheckRegions unknown":     second(c.CheckRegions(ctx, "sad-peer")),
		"Stores bad state":         second(c.Stores(ctx, 7)),
		"StoresInState empty":      second(c.StoresInState(ctx, "")),
		"SetStoreState":            c.SetStoreState(ctx, 1, "Tombstone"),
		"SetStoreLabels none":      c.SetStoreLabels(ctx, 1, nil),
		"SetStoreWeight negative":  c.SetStoreWeight(ctx, 1, -1, 1),
		"SetStoreLimit type":       c.SetStoreLimit(ctx, 1, "teleport", 5),
		"SetStoreLimit rate":       c.SetStoreLimit(ctx, 1, AddPeerLimit, 0),
		"SplitRegion policy":       c.SplitRegion(ctx, 9, "nope"),
		"SplitRegion usekey":       c.SplitRegion(ctx, 9, SplitUseKey),
		"SplitRegion bad key":      c.SplitRegion(ctx, 9, SplitUseKey, "x"),
		"SplitRegion keys":         c.SplitRegion(ctx, 9, SplitScan, "00"),
		"TransferRegion none":      c.TransferRegion(ctx, 9, nil, nil),
		"TransferRegion roles":     c.TransferRegion(ctx, 9, []uint64{1, 2}, []string{"voter"}),
		"CreateOperator no name":   c.CreateOperator(ctx, OperatorRequest{}),
		"CreateScheduler no name":  c.CreateScheduler(ctx, "", nil),
		"DeleteScheduler no name":  c.DeleteScheduler(ctx, ""),
		"SetConfig none":           c.SetConfig(ctx, nil),
		"SetLowSpaceRatio 1.5":     c.SetLowSpaceRatio(ctx, 1.5),
		"SetHighSpaceRatio 0":      c.SetHighSpaceRatio(ctx, 0),
		"SetMaxStoreDownTime zero": c.SetMaxStoreDownTime(ctx, 0),
		"Do relative path":         c.Do(ctx, http.MethodGet, "stores", nil, nil),
	}
	for name, err := range calls {
		require.ErrorIs(t, err, ErrBadRequest, name)
		require.ErrorIs(t, err, subject.ErrInvalid, name)
	}
	require.Zero(t, srv.hits.Load())
}

func second[T any](_ T, err error) error { return err }
