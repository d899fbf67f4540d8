package promclient

import (
	"cmp"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

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
	// It must not contain credentials: add them in the RoundTripper
	// (package promclient/httpconfig builds one from Prometheus' own
	// configuration).
	Address string
	// TLS configures HTTPS with a tls.Config already in memory, on the
	// client's own transport. It cannot be combined with HTTPClient or
	// RoundTripper: configure TLS in those instead.
	TLS *tls.Config
	// HTTPClient sends the requests instead of the client's own; nil means
	// the client's own, which sends no credentials, uses no proxy and speaks
	// HTTP/1.1. Its Transport (http.DefaultTransport when nil, as for any
	// http.Client) is wrapped to cap each answer at MaxResponseBytes; its
	// CheckRedirect, when set, is asked after the client's own redirect
	// rules (see New). It cannot be combined with RoundTripper.
	HTTPClient *http.Client
	// RoundTripper carries the requests, on an http.Client of the
	// client's own; nil means the client's own transport. Add credentials
	// to it yourself, or build it from Prometheus' own HTTP client
	// configuration (basic_auth, oauth2, tls_config, ...) with package
	// promclient/httpconfig.
	RoundTripper http.RoundTripper
	// Timeout bounds each call (all of its queries); default 10 s. The
	// context's own deadline still applies when it is earlier.
	Timeout time.Duration
	// Matchers are added to every series selector of the default queries
	// and of overrides that use {{.Matchers}}.
	Matchers []Matcher
	// Queries overrides some of the PromQL queries; empty fields keep the
	// defaults. See [Queries] for the placeholders.
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
	// OnQuery, when set, is called after every query sent to Prometheus,
	// on the goroutine that sent it, with its path, status, error and
	// duration (for metrics: package tikv/opmetrics). It must be quick
	// and safe for concurrent use. Default: none, and nothing is
	// measured.
	OnQuery func(QueryInfo)
}

// parseAddress reads Config.Address as PD's endpoints are read
// (pdclient.Config.Endpoints): an address without a scheme
// ("127.0.0.1:9090") gets http://, or https:// when TLS is configured. It
// returns the URL and the address to use, or an error naming the field.
func parseAddress(cfg *Config) (*url.URL, error) {
	addr := strings.TrimSpace(cfg.Address)
	if !strings.Contains(addr, "://") {
		if cfg.TLS != nil {
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
		return nil, fmt.Errorf("promclient: Config.Address %s: %w: credentials belong in the transport (RoundTripper), not the URL", u.Redacted(), subject.ErrInvalid)
	}
	cfg.Address = addr
	return u, nil
}

// checkTransport refuses the combinations of TLS, HTTPClient and
// RoundTripper that would silently drop one of them.
func checkTransport(cfg *Config, u *url.URL) error {
	switch {
	case cfg.TLS != nil && u.Scheme == "http":
		return fmt.Errorf("promclient: address %s: %w: TLS is configured but the address is plaintext http://", u.Redacted(), subject.ErrInvalid)
	case cfg.TLS != nil && (cfg.RoundTripper != nil || cfg.HTTPClient != nil):
		return fmt.Errorf("promclient: %w: TLS applies to the client's own transport; configure TLS in the HTTPClient or RoundTripper instead", subject.ErrInvalid)
	case cfg.RoundTripper != nil && cfg.HTTPClient != nil:
		return fmt.Errorf("promclient: %w: set HTTPClient or RoundTripper, not both", subject.ErrInvalid)
	}
	return nil
}

// httpClient returns the client that sends the requests: cfg.HTTPClient,
// or one over cfg.RoundTripper or the client's own transport, each answer
// capped at maxBytes and redirects checked against base.
func httpClient(cfg Config, base *url.URL, maxBytes int64) *http.Client {
	var hc http.Client
	rt := cfg.RoundTripper
	switch {
	case cfg.HTTPClient != nil:
		hc = *cfg.HTTPClient
		rt = cmp.Or(hc.Transport, http.DefaultTransport) // as http.Client does
	case rt == nil:
		tr := ownTransport(cfg.MaxConcurrent)
		tr.TLSClientConfig = cfg.TLS.Clone()
		rt = tr
	}
	hc.Transport = capTransport{next: rt, max: maxBytes}
	hc.CheckRedirect = checkRedirect(base, hc.CheckRedirect)
	return &hc
}

// ownTransport is the client's transport when given none: a clone of
// http.DefaultTransport without a proxy, speaking HTTP/1.1, keeping a
// connection per query that may be in flight. Over HTTP/2 the concurrent
// queries share one connection, and when a server refuses it after the
// handshake (TLS 1.3 checks the client's certificate then) most of them
// learn only that it was closed, not why.
func ownTransport(maxConcurrent int) *http.Transport {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = nil
	tr.Protocols = new(http.Protocols)
	tr.Protocols.SetHTTP1(true)
	tr.MaxIdleConnsPerHost = cmpOr(maxConcurrent, DefaultConfig().MaxConcurrent)
	return tr
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

// Queries holds the PromQL of each metric family, with placeholders.
// Each must return an instant vector with one series per "instance" label
// (aggregate "by (instance)"); latencies in seconds, sizes in bytes, CPU in
// cores.
//
// The placeholders are written as text/template fields ({{.Window}} or
// {{ .Window }}), but no other action is taken: New refuses any other
// {{...}} with an error matching [subject.ErrInvalid]. There are three:
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
