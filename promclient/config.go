package promclient

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"sync/atomic"
	"time"

	promconfig "github.com/prometheus/common/config"

	"github.com/kvops/operator/subject"
)

// MatchOp is a PromQL label-matching operator.
type MatchOp string

// The PromQL label-matching operators.
const (
	MatchEqual     MatchOp = "="
	MatchNotEqual  MatchOp = "!="
	MatchRegexp    MatchOp = "=~"
	MatchNotRegexp MatchOp = "!~"
)

// Matcher is a label matcher added to every series selector, such as
// k8s_cluster="prod" or tidb_cluster="c1", to pick one cluster out of a
// Prometheus that watches several.
type Matcher struct {
	Name  string
	Op    MatchOp
	Value string
}

// Equal returns the matcher name="value".
func Equal(name, value string) Matcher { return Matcher{Name: name, Op: MatchEqual, Value: value} }

// Config configures a [Client]. The zero value of each field means the
// default documented on it, so the zero Config reads the Prometheus of a
// tiup playground; [DefaultConfig] spells the defaults out.
type Config struct {
	// Address is Prometheus' base URL, such as http://127.0.0.1:9090;
	// default DefaultAddress. Without a scheme ("127.0.0.1:9090") it gets
	// http://, or https:// when TLS is configured, as PD's endpoints do.
	// It must not contain credentials: use HTTPClient.
	Address string
	// TLS configures HTTPS with a tls.Config already in memory. It cannot
	// be combined with HTTPClient.TLSConfig (certificates from files or
	// PEM) nor with RoundTripper.
	TLS *tls.Config
	// HTTPClient configures the transport as Prometheus' own scrape and
	// remote-write clients are configured: credentials (basic_auth,
	// authorization, bearer_token, bearer_token_file, oauth2), TLS from
	// files (tls_config), proxies and extra headers. Files are read on each
	// request, so rotated credentials are picked up. The zero value sends
	// no credentials, uses no proxy (set ProxyFromEnvironment for
	// HTTP_PROXY) and speaks HTTP/1.1 (set EnableHTTP2). Its redirect
	// settings are ignored: the client follows redirects to the same host,
	// and never from https to http or, with credentials, to another host.
	//
	// With OAuth2, requests go one at a time until one has succeeded (so
	// one token is fetched, and prometheus/common's OAuth2 transport, which
	// sets up its token source without a lock on first use, is never
	// entered twice at once); then they run concurrently again. With a
	// client_secret_file or client_secret_ref, which can change, they
	// always go one at a time, since each change sets the source up again.
	//
	// Printing or logging a Config shows its secrets as "<secret>"; print
	// the HTTPClient field on its own and they show in clear.
	HTTPClient promconfig.HTTPClientConfig
	// RoundTripper carries the requests instead of the transport that
	// HTTPClient describes; nil means that transport. It cannot be combined
	// with TLS or a non-zero HTTPClient: add credentials to it yourself.
	RoundTripper http.RoundTripper
	// Timeout bounds each call (all of its queries); default 10 s. The
	// context's own deadline still applies when it is earlier.
	Timeout time.Duration
	// Matchers are added to every series selector of the default queries
	// and of overrides that use {{.Matchers}}.
	Matchers []Matcher
	// Queries overrides some of the PromQL queries; empty fields keep the
	// defaults. See [Queries] for the template fields.
	Queries Queries
	// RateWindow is the range of rate() in the default queries; default
	// 1m, as in TiKV's dashboards.
	RateWindow time.Duration
	// RestartWindow is the range over which restarts are counted; default
	// 5m.
	RestartWindow time.Duration
	// Instance maps a store to the "instance" label of its series. The
	// default is the store's status address, which is what a Prometheus
	// set up by tiup or TiDB Operator scrapes. Set it when relabelling
	// changes the label. A store mapped to "" has every metric unknown.
	Instance func(subject.Store) string
	// Clock gives the evaluation time of instant queries; default
	// time.Now.
	Clock func() time.Time
	// MaxConcurrent bounds the queries in flight at once; default 4.
	MaxConcurrent int
	// Logger receives debug records of each query; default discards.
	// Credentials are never logged.
	Logger *slog.Logger
	// MaxResponseBytes caps each response body; default
	// DefaultMaxResponseBytes. A bigger answer fails its query with an
	// error matching [ErrTooLarge] instead of being buffered whole.
	MaxResponseBytes int64
}

// Format prints the configuration as fmt would, with every secret of
// HTTPClient shown as "<secret>", so that printing a Config, or a struct
// holding one, does not reveal credentials.
func (c Config) Format(f fmt.State, verb rune) {
	type plain Config // without methods, so that printing it does not recurse
	p := plain(c)
	p.HTTPClient = redactSecrets(c.HTTPClient)
	fmt.Fprintf(f, fmt.FormatString(f, verb), p)
}

// LogValue keeps credentials out of slog output, as Format does.
func (c Config) LogValue() slog.Value { return slog.StringValue(fmt.Sprintf("%+v", c)) }

// secretType is the type of every credential in HTTPClientConfig.
var secretType = reflect.TypeFor[promconfig.Secret]()

// redactSecrets returns a deep copy of hc with every non-empty Secret, at
// any depth, replaced by "<secret>". It walks the value rather than naming
// the fields so that secrets prometheus/common adds later are covered too.
func redactSecrets(hc promconfig.HTTPClientConfig) promconfig.HTTPClientConfig {
	out := reflect.New(reflect.TypeOf(hc)).Elem()
	redactValue(out, reflect.ValueOf(hc))
	return out.Interface().(promconfig.HTTPClientConfig)
}

// redactValue copies src into dst (settable, of src's type), redacting.
func redactValue(dst, src reflect.Value) {
	switch {
	case src.Type() == secretType:
		if src.Len() > 0 {
			dst.SetString("<secret>")
		}
		return
	case src.Kind() == reflect.Pointer:
		if !src.IsNil() {
			dst.Set(reflect.New(src.Type().Elem()))
			redactValue(dst.Elem(), src.Elem())
		}
		return
	case src.Kind() == reflect.Struct:
		for i := range src.NumField() {
			if dst.Field(i).CanSet() {
				redactValue(dst.Field(i), src.Field(i))
			}
		}
		return
	case src.Kind() == reflect.Slice:
		if !src.IsNil() {
			dst.Set(reflect.MakeSlice(src.Type(), src.Len(), src.Len()))
			for i := range src.Len() {
				redactValue(dst.Index(i), src.Index(i))
			}
		}
		return
	case src.Kind() == reflect.Map:
		if !src.IsNil() {
			dst.Set(reflect.MakeMapWithSize(src.Type(), src.Len()))
			for it := src.MapRange(); it.Next(); {
				v := reflect.New(src.Type().Elem()).Elem()
				redactValue(v, it.Value())
				dst.SetMapIndex(it.Key(), v)
			}
		}
		return
	}
	dst.Set(src)
}

// parseAddress reads Config.Address as PD's endpoints are read
// (pdclient.Config.Endpoints): an address without a scheme
// ("127.0.0.1:9090") gets http://, or https:// when TLS is configured. It
// returns the URL and the address to use, or an error naming the field.
func parseAddress(cfg *Config) (*url.URL, error) {
	addr := strings.TrimSpace(cfg.Address)
	if !strings.Contains(addr, "://") {
		if cfg.TLS != nil || hasTLSFiles(&cfg.HTTPClient) {
			addr = "https://" + addr
		} else {
			addr = "http://" + addr
		}
	}
	u, err := url.Parse(addr)
	if err != nil {
		// url.Parse's own error repeats the address: say what is wrong
		// once.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("promclient: Config.Address: %w: %v", subject.ErrInvalid, err)
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https" || u.Host == "":
		return nil, fmt.Errorf("promclient: Config.Address %q: %w: want http(s)://host:port", u.Redacted(), subject.ErrInvalid)
	case u.User != nil:
		return nil, fmt.Errorf("promclient: Config.Address %s: %w: credentials belong in HTTPClient, not the URL", u.Redacted(), subject.ErrInvalid)
	}
	cfg.Address = addr
	return u, nil
}

// checkTransport refuses the combinations of TLS, HTTPClient and
// RoundTripper that would silently drop one of them.
func checkTransport(cfg *Config, u *url.URL) error {
	switch {
	case (cfg.TLS != nil || hasTLSFiles(&cfg.HTTPClient)) && u.Scheme == "http":
		return fmt.Errorf("promclient: address %s: %w: TLS is configured but the address is plaintext http://", u.Redacted(), subject.ErrInvalid)
	case cfg.TLS != nil && hasTLSFiles(&cfg.HTTPClient):
		return fmt.Errorf("promclient: %w: set TLS or HTTPClient.TLSConfig, not both", subject.ErrInvalid)
	case cfg.TLS != nil && cfg.RoundTripper != nil:
		return fmt.Errorf("promclient: %w: TLS applies to the client's own transport; configure TLS in the RoundTripper instead", subject.ErrInvalid)
	case cfg.RoundTripper != nil && !reflect.ValueOf(cfg.HTTPClient).IsZero():
		return fmt.Errorf("promclient: %w: HTTPClient describes the client's own transport; add credentials to the RoundTripper instead", subject.ErrInvalid)
	}
	return nil
}

// transport returns cfg.RoundTripper, or the transport cfg.HTTPClient
// describes, with cfg.TLS when set.
func transport(cfg Config) (http.RoundTripper, error) {
	if cfg.RoundTripper != nil {
		return cfg.RoundTripper, nil
	}
	hc := cfg.HTTPClient
	if err := hc.Validate(); err != nil {
		return nil, fmt.Errorf("promclient: HTTPClient: %w: %w", subject.ErrInvalid, err)
	}
	var opts []promconfig.HTTPClientOption
	if cfg.TLS != nil {
		opts = append(opts, promconfig.WithNewTLSConfigFunc(func(context.Context, *promconfig.TLSConfig, ...promconfig.TLSConfigOption) (*tls.Config, error) {
			return cfg.TLS.Clone(), nil
		}))
	}
	rt, err := promconfig.NewRoundTripperFromConfig(hc, "promclient", opts...)
	if err != nil {
		// A file that cannot be read, a PEM that does not parse: the
		// configuration is wrong, whichever file it names.
		return nil, fmt.Errorf("promclient: HTTPClient: %w: %w", subject.ErrInvalid, err)
	}
	if o := hc.OAuth2; o != nil {
		rt = newSerialGate(rt, o.ClientSecretFile != "" || o.ClientSecretRef != "")
	}
	return rt, nil
}

// serialGate lets one request at a time through to next until one has
// succeeded, then every request at once; with always set it never opens.
//
// It exists for prometheus/common's oauth2RoundTripper (v0.74.0): on first
// use, and whenever its secret changes, it writes lastRT.Source under its
// lock but reads it in lastRT.RoundTrip without, so two concurrent first
// requests race (seen by the race detector in promclient's concurrent
// queries) and each fetches its own token.
type serialGate struct {
	next   http.RoundTripper
	always bool
	open   atomic.Bool
	turn   chan struct{} // holds a value while a request is inside
}

func newSerialGate(next http.RoundTripper, always bool) *serialGate {
	return &serialGate{next: next, always: always, turn: make(chan struct{}, 1)}
}

// RoundTrip waits for its turn, or for the request's context to end.
func (g *serialGate) RoundTrip(req *http.Request) (*http.Response, error) {
	if g.open.Load() {
		return g.next.RoundTrip(req)
	}
	select {
	case g.turn <- struct{}{}:
	case <-req.Context().Done():
		return nil, req.Context().Err()
	}
	defer func() { <-g.turn }()
	resp, err := g.next.RoundTrip(req)
	if err == nil && !g.always {
		g.open.Store(true)
	}
	return resp, err
}

// CloseIdleConnections closes next's idle connections when it can.
func (g *serialGate) CloseIdleConnections() {
	if c, ok := g.next.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

// hasTLSFiles reports whether hc configures TLS itself.
func hasTLSFiles(hc *promconfig.HTTPClientConfig) bool {
	return !reflect.ValueOf(hc.TLSConfig).IsZero()
}

// hasCredentials reports whether hc adds credentials to every request.
func hasCredentials(hc *promconfig.HTTPClientConfig) bool {
	return hc.BasicAuth != nil || hc.Authorization != nil || hc.OAuth2 != nil ||
		hc.BearerToken != "" || hc.BearerTokenFile != "" || hc.HTTPHeaders != nil
}

// DefaultMaxResponseBytes is the default of Config.MaxResponseBytes: far
// above what the per-family queries return for thousands of stores, low
// enough that a runaway answer cannot exhaust memory.
const DefaultMaxResponseBytes = 64 << 20

// DefaultAddress is the default of Config.Address: the Prometheus that
// tiup playground starts.
const DefaultAddress = "http://127.0.0.1:9090"

// DefaultConfig returns the defaults the zero fields of a Config take: the
// Prometheus that tiup playground starts, at DefaultAddress. New(Config{})
// and New(DefaultConfig()) make the same client.
func DefaultConfig() Config {
	return Config{
		Address:       DefaultAddress,
		Timeout:       10 * time.Second,
		RateWindow:    time.Minute,
		RestartWindow: 5 * time.Minute,
		MaxConcurrent: 4,

		MaxResponseBytes: DefaultMaxResponseBytes,
	}
}

// Metric names a metric family, one query per call.
type Metric string

// The metric families, one per field of [subject.StoreMetrics].
const (
	WriteLatencyP99 Metric = "write_latency_p99"
	GRPCLatencyP99  Metric = "grpc_latency_p99"
	DiskCapacity    Metric = "disk_capacity"
	DiskAvailable   Metric = "disk_available"
	CPU             Metric = "cpu"
	CPUQuota        Metric = "cpu_quota"
	RaftstoreCPU    Metric = "raftstore_cpu"
	LeaderCount     Metric = "leader_count"
	RegionCount     Metric = "region_count"
	Restarts        Metric = "restarts"
)

// family ties a metric to its StoreMetrics field and its query. The
// table is read-only.
type family struct {
	metric Metric
	field  func(*subject.StoreMetrics) *subject.Value
	query  func(*Queries) *string
}

var families = [...]family{
	{WriteLatencyP99, func(m *subject.StoreMetrics) *subject.Value { return &m.WriteLatencyP99 }, func(q *Queries) *string { return &q.WriteLatencyP99 }},
	{GRPCLatencyP99, func(m *subject.StoreMetrics) *subject.Value { return &m.GRPCLatencyP99 }, func(q *Queries) *string { return &q.GRPCLatencyP99 }},
	{DiskCapacity, func(m *subject.StoreMetrics) *subject.Value { return &m.DiskCapacity }, func(q *Queries) *string { return &q.DiskCapacity }},
	{DiskAvailable, func(m *subject.StoreMetrics) *subject.Value { return &m.DiskAvailable }, func(q *Queries) *string { return &q.DiskAvailable }},
	{CPU, func(m *subject.StoreMetrics) *subject.Value { return &m.CPU }, func(q *Queries) *string { return &q.CPU }},
	{CPUQuota, func(m *subject.StoreMetrics) *subject.Value { return &m.CPUQuota }, func(q *Queries) *string { return &q.CPUQuota }},
	{RaftstoreCPU, func(m *subject.StoreMetrics) *subject.Value { return &m.RaftstoreCPU }, func(q *Queries) *string { return &q.RaftstoreCPU }},
	{LeaderCount, func(m *subject.StoreMetrics) *subject.Value { return &m.LeaderCount }, func(q *Queries) *string { return &q.LeaderCount }},
	{RegionCount, func(m *subject.StoreMetrics) *subject.Value { return &m.RegionCount }, func(q *Queries) *string { return &q.RegionCount }},
	{Restarts, func(m *subject.StoreMetrics) *subject.Value { return &m.Restarts }, func(q *Queries) *string { return &q.Restarts }},
}

// Metrics returns every metric family in the order queries are listed.
func Metrics() []Metric {
	ms := make([]Metric, len(families))
	for i, f := range families {
		ms[i] = f.metric
	}
	return ms
}

// Queries holds the PromQL of each metric family as text/template
// templates. Each must return an instant vector with one series per
// "instance" label (aggregate "by (instance)"); latencies in seconds,
// sizes in bytes, CPU in cores.
//
// The templates see three fields:
//
//   - {{.Window}}: the rate window, as a PromQL duration ("1m");
//   - {{.RestartWindow}}: the restart window ("5m");
//   - {{.Matchers}}: the configured matchers, plus instance="..." for a
//     single-store call, each preceded by a comma, or nothing. Put it in a
//     selector's braces after at least one matcher of its own:
//     foo{type="x"{{.Matchers}}}.
type Queries struct {
	WriteLatencyP99 string
	GRPCLatencyP99  string
	DiskCapacity    string
	DiskAvailable   string
	CPU             string
	CPUQuota        string
	RaftstoreCPU    string
	LeaderCount     string
	RegionCount     string
	Restarts        string
}

// DefaultQueries returns the queries TiKV's Grafana dashboards and alert
// rules use.
func DefaultQueries() Queries {
	return Queries{
		WriteLatencyP99: `histogram_quantile(0.99, sum(rate(tikv_storage_engine_async_request_duration_seconds_bucket{type="write"{{.Matchers}}}[{{.Window}}])) by (le, instance))`,
		GRPCLatencyP99:  `histogram_quantile(0.99, sum(rate(tikv_grpc_msg_duration_seconds_bucket{type!="kv_gc"{{.Matchers}}}[{{.Window}}])) by (le, instance))`,
		DiskCapacity:    `sum(tikv_store_size_bytes{type="capacity"{{.Matchers}}}) by (instance)`,
		DiskAvailable:   `sum(tikv_store_size_bytes{type="available"{{.Matchers}}}) by (instance)`,
		CPU:             `sum(rate(process_cpu_seconds_total{job=~".*tikv"{{.Matchers}}}[{{.Window}}])) by (instance)`,
		CPUQuota:        `max(tikv_server_cpu_cores_quota{instance!=""{{.Matchers}}}) by (instance)`,
		RaftstoreCPU:    `sum(rate(tikv_thread_cpu_seconds_total{name=~"(raftstore|rs)_.*"{{.Matchers}}}[{{.Window}}])) by (instance)`,
		LeaderCount:     `sum(tikv_raftstore_region_count{type="leader"{{.Matchers}}}) by (instance)`,
		RegionCount:     `sum(tikv_raftstore_region_count{type="region"{{.Matchers}}}) by (instance)`,
		Restarts:        `sum(changes(process_start_time_seconds{job=~".*tikv"{{.Matchers}}}[{{.RestartWindow}}])) by (instance)`,
	}
}
