package promclient_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kvops/operator/internal/promtest"
	"github.com/kvops/operator/promclient"
	"github.com/kvops/operator/subject"
)

func TestPrometheusDown(t *testing.T) {
	addr := "http://" + promtest.RefusedAddr(t)
	cfg := promclient.DefaultConfig()
	cfg.Address = addr
	c, err := promclient.New(cfg)
	require.NoError(t, err)

	got, _, err := c.StoreMetrics(t.Context(), stores(1, 2))
	require.Error(t, err)
	if got != nil {
		t.Errorf("results %v with Prometheus down, want none", got)
	}
	if !errors.Is(err, promclient.ErrUnavailable) || !errors.Is(err, subject.ErrUnavailable) {
		t.Errorf("error %v does not match ErrUnavailable and subject.ErrUnavailable", err)
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("error %v does not carry the refused connection", err)
	}
	// Errors name the Prometheus address: the package's documented
	// promise (doc.go), so the message is checked, as is the field.
	if !strings.Contains(err.Error(), addr) {
		t.Errorf("error %q does not name the address %s", err, addr)
	}
	var qe *promclient.QueryError
	if !errors.As(err, &qe) || qe.Address != addr {
		t.Errorf("error %v is no *QueryError for %s", err, addr)
	}
	// Every family failed alike: the error says so and blames none.
	var shared *promclient.SharedError
	if !errors.As(err, &shared) || shared.Address != addr || len(shared.Errors) != len(promclient.Metrics()) {
		t.Errorf("error %#v is no *SharedError of every family at %s", err, addr)
	}
	// A *SharedError "names no family" (doc.go): the documented wording.
	for _, m := range promclient.Metrics() {
		if strings.Contains(err.Error(), "query "+string(m)) {
			t.Errorf("error %q blames %s for a failure every query shared", err, m)
		}
	}
	var partial *promclient.PartialError
	if errors.As(err, &partial) {
		t.Errorf("error %v is partial, but nothing answered", err)
	}

	_, _, err = c.OneStoreMetrics(t.Context(), stores(1)[0])
	if !errors.Is(err, promclient.ErrUnavailable) {
		t.Errorf("OneStoreMetrics error %v does not match ErrUnavailable", err)
	}
	_, _, err = c.StoreMetricsRange(t.Context(), stores(1), promclient.Range{Start: time.Now().Add(-time.Hour), End: time.Now(), Step: time.Minute})
	if !errors.Is(err, promclient.ErrUnavailable) {
		t.Errorf("StoreMetricsRange error %v does not match ErrUnavailable", err)
	}
}

// silentServer accepts connections and never answers, like a Prometheus
// stuck on a heavy query.
func silentServer(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var mu sync.Mutex
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, conn)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		<-done
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return "http://" + l.Addr().String()
}

func TestPrometheusSlow(t *testing.T) {
	addr := silentServer(t)
	tests := []struct {
		name    string
		timeout time.Duration // Config.Timeout
		ctx     func(*testing.T) context.Context
	}{
		{"context deadline", time.Hour, func(t *testing.T) context.Context {
			ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
			t.Cleanup(cancel)
			return ctx
		}},
		{"config timeout", 100 * time.Millisecond, func(t *testing.T) context.Context { return t.Context() }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := promclient.DefaultConfig()
			cfg.Address = addr
			cfg.Timeout = tt.timeout
			c, err := promclient.New(cfg)
			require.NoError(t, err)
			_, _, err = c.StoreMetrics(tt.ctx(t), stores(1))
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("error %v does not match context.DeadlineExceeded", err)
			}
			if errors.Is(err, promclient.ErrUnavailable) {
				t.Errorf("error %v matches ErrUnavailable; a slow Prometheus is not a missing one", err)
			}
			var qe *promclient.QueryError
			if !errors.As(err, &qe) || qe.Address != addr {
				t.Errorf("error %v is no *QueryError naming %s", err, addr)
			}
		})
	}
}

func TestQueryOverrideErrors(t *testing.T) {
	t.Parallel()
	b := startBackfilled(t)
	tests := []struct {
		name    string
		queries promclient.Queries
		metric  promclient.Metric
		check   func(t *testing.T, qe *promclient.QueryError)
	}{
		{
			name:    "bad PromQL carries Prometheus' message",
			queries: promclient.Queries{CPU: `sum(rate(process_cpu_seconds_total{job=~".*tikv"{{.Matchers}}}[{{.Window}}]) by (instance)`},
			metric:  promclient.CPU,
			check: func(t *testing.T, qe *promclient.QueryError) {
				var apiErr *promclient.APIError
				require.ErrorAs(t, qe, &apiErr)
				if apiErr.Type != promclient.ErrorBadData || apiErr.Msg == "" {
					t.Errorf("Prometheus error %+v, want bad_data with Prometheus' message", apiErr)
				}
				// Carrying Prometheus' message is documented
				// (doc.go); the message is Prometheus' own, read
				// from the typed error, not written here.
				if !strings.Contains(qe.Error(), apiErr.Msg) {
					t.Errorf("error %q lacks Prometheus' message %q", qe, apiErr.Msg)
				}
			},
		},
		{
			name:    "a scalar is no per-instance vector",
			queries: promclient.Queries{CPUQuota: `8`},
			metric:  promclient.CPUQuota,
			check: func(t *testing.T, qe *promclient.QueryError) {
				// The client refuses the answer itself: Prometheus
				// answered, so it is neither Prometheus' error nor an
				// unreachable Prometheus. (No type tells why yet.)
				var apiErr *promclient.APIError
				require.False(t, errors.As(qe, &apiErr), "%v", qe)
				require.NotErrorIs(t, qe, promclient.ErrUnavailable)
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newClient(t, b, func(c *promclient.Config) { c.Queries = tt.queries })
			got, _, err := c.StoreMetrics(t.Context(), stores(1, 2))
			var partial *promclient.PartialError
			require.ErrorAs(t, err, &partial)
			require.Len(t, partial.Errors, 1)
			qe := partial.Errors[0]
			if qe.Metric != tt.metric || qe.Address != b.url {
				t.Errorf("failure for %s at %s, want %s at %s", qe.Metric, qe.Address, tt.metric, b.url)
			}
			tt.check(t, qe)
			require.Len(t, got, 2)
			for _, m := range got {
				v := fields(m)[tt.metric]
				if d := check(v, unknownBecause(qe.Error())); d != "" {
					t.Errorf("store %d %s: %s", m.Store, tt.metric, d)
				}
				if d := check(m.LeaderCount, approx(float64(100*m.Store))); d != "" {
					t.Errorf("store %d leaders, which did not fail: %s", m.Store, d)
				}
			}
		})
	}

	t.Run("series not aggregated by instance", func(t *testing.T) {
		c := newClient(t, b, func(c *promclient.Config) {
			c.Queries.LeaderCount = `tikv_raftstore_region_count{type=~"leader|region"{{.Matchers}}}`
		})
		got, _, err := c.StoreMetrics(t.Context(), stores(1))
		require.NoError(t, err)
		if d := check(got[0].LeaderCount, unknownBecause("2 leader_count series for instance tikv-1:20180")); d != "" {
			t.Error(d)
		}
	})
}

func TestNewRejectsBadConfig(t *testing.T) {
	tests := []struct {
		name string
		edit func(*promclient.Config)
	}{
		{"address without host", func(c *promclient.Config) { c.Address = "http://" }},
		{"another scheme", func(c *promclient.Config) { c.Address = "ftp://127.0.0.1:9090" }},
		{"no host", func(c *promclient.Config) { c.Address = "http://" }},
		{"credentials in URL", func(c *promclient.Config) { c.Address = "http://u:hunter2@127.0.0.1:9090" }},
		{"TLS and round tripper", func(c *promclient.Config) {
			c.TLS = &tls.Config{}
			c.RoundTripper = http.DefaultTransport
		}},
		{"TLS and HTTP client", func(c *promclient.Config) {
			c.Address = "https://127.0.0.1:9090"
			c.TLS = &tls.Config{}
			c.HTTPClient = &http.Client{}
		}},
		{"HTTP client and round tripper", func(c *promclient.Config) {
			c.HTTPClient = &http.Client{}
			c.RoundTripper = http.DefaultTransport
		}},
		{"negative timeout", func(c *promclient.Config) { c.Timeout = -time.Second }},
		{"bad label name", func(c *promclient.Config) { c.Matchers = []promclient.Matcher{promclient.Equal("k8s-cluster", "x")} }},
		{"bad operator", func(c *promclient.Config) { c.Matchers = []promclient.Matcher{{Name: "job", Op: "==", Value: "x"}} }},
		{"bad template", func(c *promclient.Config) { c.Queries.CPU = "{{.Window" }},
		{"unknown template field", func(c *promclient.Config) { c.Queries.CPU = "{{.Nope}}" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := promclient.DefaultConfig()
			tt.edit(&cfg)
			_, err := promclient.New(cfg)
			if !errors.Is(err, subject.ErrInvalid) {
				t.Fatalf("New: error %v, want ErrInvalid", err)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("error %q reveals the password", err)
			}
		})
	}
}

func TestWarningsAreReturned(t *testing.T) {
	t.Parallel()
	// A remote-read endpoint that is down makes Prometheus answer every
	// query with a warning.
	dead := "http://" + promtest.RefusedAddr(t) + "/api/v1/read"
	b := startBackfilled(t, promtest.WithRemoteRead(dead))
	c := newClient(t, b, nil)
	got, warnings, err := c.StoreMetrics(t.Context(), stores(1))
	require.NoError(t, err)
	if len(warnings) == 0 {
		t.Fatal("no warnings, want the failed remote read's")
	}
	seen := map[string]bool{}
	for _, w := range warnings {
		if seen[w] {
			t.Errorf("warning %q returned twice", w)
		}
		seen[w] = true
	}
	if !strings.Contains(strings.Join(warnings, "\n"), strings.TrimSuffix(strings.TrimPrefix(dead, "http://"), "/api/v1/read")) {
		t.Errorf("warnings %q do not mention the remote-read address", warnings)
	}
	if d := check(got[0].RegionCount, approx(300)); d != "" {
		t.Errorf("store 1 regions with warnings: %s", d)
	}
}

func TestTLS(t *testing.T) {
	t.Parallel()
	b := startBackfilled(t, promtest.WithTLS())
	require.True(t, strings.HasPrefix(b.url, "https://"), "Prometheus URL %s", b.url)
	p := b.prom

	c := newClient(t, b, func(c *promclient.Config) { c.TLS = &tls.Config{RootCAs: p.RootCAs} })
	got, _, err := c.StoreMetrics(t.Context(), stores(3))
	require.NoError(t, err)
	if d := check(got[0].DiskUsage(), approx(0.9)); d != "" {
		t.Errorf("store 3 disk usage over HTTPS: %s", d)
	}

	// Without the certificate the server is not trusted, and the error
	// says so.
	c = newClient(t, b, nil)
	_, _, err = c.StoreMetrics(t.Context(), stores(3))
	var verify *tls.CertificateVerificationError
	var unknown x509.UnknownAuthorityError
	require.ErrorAs(t, err, &verify)
	require.ErrorAs(t, err, &unknown)
	require.ErrorIs(t, err, promclient.ErrUnavailable)
	var qe *promclient.QueryError
	require.ErrorAs(t, err, &qe)
	require.Equal(t, b.url, qe.Address)
}

func TestPartialRangeAndStoreWithoutInstance(t *testing.T) {
	t.Parallel()
	b := startBackfilled(t)
	rt := &countingTransport{next: http.DefaultTransport}
	c := newClient(t, b, func(c *promclient.Config) {
		c.RoundTripper = rt
		c.Queries.RegionCount = `sum(tikv_raftstore_region_count{type="region"{{.Matchers}}}) by (instance` // unbalanced
	})

	r := promclient.Range{Start: b.now.Add(-10 * time.Minute), End: b.now, Step: time.Minute}
	got, _, err := c.StoreMetricsRange(t.Context(), stores(1), r)
	var partial *promclient.PartialError
	require.ErrorAs(t, err, &partial)
	var apiErr *promclient.APIError
	require.ErrorAs(t, err, &apiErr)
	for _, p := range got[0].Series[promclient.RegionCount] {
		if d := check(p.Value, unknownBecause(apiErr.Msg)); d != "" {
			t.Errorf("regions at %v: %s", p.At, d)
		}
	}
	for _, p := range got[0].Series[promclient.LeaderCount] {
		if d := check(p.Value, approx(100)); d != "" {
			t.Errorf("leaders at %v: %s", p.At, d)
		}
	}

	before := rt.n.Load()
	m, _, err := c.OneStoreMetrics(t.Context(), subject.Store{ID: 7})
	require.NoError(t, err)
	if n := rt.n.Load() - before; n != 0 {
		t.Errorf("%d requests for a store with no instance, want none", n)
	}
	for metric, v := range fields(m) {
		if d := check(v, unknownBecause("store 7 has no instance")); d != "" {
			t.Errorf("%s: %s", metric, d)
		}
	}
}

// TestSharedFailureBlamesTheCause: when every query of a call fails, the
// error is the failure that explains the others, whichever family it hit
// and in whatever order the queries ran: a network error (a reset
// connection) before a connection merely closed (EOF), and that before a
// cancelled context. Each case is driven by a real server that answers
// each family's query its own way.
func TestSharedFailureBlamesTheCause(t *testing.T) {
	const (
		reset = "reset" // close the connection with a TCP RST
		eof   = "eof"   // close it cleanly, before any answer
	) // any other family's query gets no answer until the client gives up
	tests := []struct {
		name   string
		how    map[promclient.Metric]string // default hang
		cause  promclient.Metric
		is     error
		isNot  error
		cancel bool // cancel the call once every query but the hanging ones has failed
	}{
		{"a reset beats closed connections", map[promclient.Metric]string{
			promclient.WriteLatencyP99: eof, promclient.GRPCLatencyP99: eof, promclient.DiskCapacity: eof,
			promclient.DiskAvailable: eof, promclient.CPU: eof, promclient.CPUQuota: eof, promclient.RaftstoreCPU: reset,
			promclient.LeaderCount: eof, promclient.RegionCount: eof, promclient.Restarts: eof,
		}, promclient.RaftstoreCPU, syscall.ECONNRESET, nil, false},
		{"a closed connection beats cancelled queries", map[promclient.Metric]string{promclient.RegionCount: eof},
			promclient.RegionCount, io.EOF, context.Canceled, true},
		{"cancelled queries: the first family's", nil, promclient.WriteLatencyP99, context.Canceled, promclient.ErrUnavailable, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			family := map[string]promclient.Metric{} // by PromQL
			queries, err := promclient.New(promclient.DefaultConfig())
			require.NoError(t, err)
			for _, q := range queries.Queries() {
				family[q.PromQL] = q.Metric
			}
			var seen sync.WaitGroup // every query reached the server
			seen.Add(len(family))
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				err := r.ParseForm()
				seen.Done()
				if err != nil {
					t.Errorf("query form: %v", err)
					return
				}
				m, ok := family[r.Form.Get("query")]
				if !ok {
					t.Errorf("unexpected query %q", r.Form.Get("query"))
				}
				switch how := tt.how[m]; how {
				case reset, eof:
					conn, _, err := http.NewResponseController(w).Hijack()
					if err != nil {
						t.Errorf("hijack: %v", err)
						return
					}
					if how == reset {
						if err := conn.(*net.TCPConn).SetLinger(0); err != nil {
							t.Errorf("linger: %v", err)
						}
					}
					conn.Close()
				default:
					<-r.Context().Done()
				}
			}))
			t.Cleanup(srv.Close)

			// The log has a record of each query once it has failed: the
			// call is cancelled only after the others' errors are in.
			var failing sync.WaitGroup
			failing.Add(len(tt.how))
			cfg := promclient.DefaultConfig()
			cfg.Address = srv.URL
			cfg.MaxConcurrent = len(promclient.Metrics()) // every query in flight at once
			cfg.Logger = slog.New(&queryDone{done: func(m promclient.Metric) {
				if _, ok := tt.how[m]; ok {
					failing.Done()
				}
			}})
			c, err := promclient.New(cfg)
			require.NoError(t, err)
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			go func() {
				seen.Wait()
				failing.Wait()
				if tt.cancel {
					cancel()
				}
			}()
			_, _, err = c.StoreMetrics(ctx, stores(1))
			var shared *promclient.SharedError
			require.ErrorAs(t, err, &shared)
			require.Equal(t, tt.cause, shared.Cause.Metric, "the cause: %v", err)
			require.ErrorIs(t, err, tt.is)
			if tt.isNot != nil {
				require.NotErrorIs(t, err, tt.isNot, "a consequence shows through the cause")
			}
			require.Equal(t, srv.URL, shared.Address)
			for _, qe := range shared.Errors {
				// Each family's error names it: documented (doc.go).
				require.ErrorContains(t, qe, "query "+string(qe.Metric), "a family's own error names it")
			}
		})
	}
}

// queryDone is a slog handler that calls done with the metric of each
// "promclient query" record, which the client logs once a query ended.
type queryDone struct{ done func(promclient.Metric) }

func (h *queryDone) Enabled(context.Context, slog.Level) bool { return true }

func (h *queryDone) Handle(_ context.Context, r slog.Record) error {
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "metric" {
			h.done(promclient.Metric(a.Value.String()))
			return false
		}
		return true
	})
	return nil
}

func (h *queryDone) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *queryDone) WithGroup(string) slog.Handler      { return h }
