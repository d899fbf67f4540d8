package pdclient

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults used by DefaultConfig and by New for zero fields.
const (
	// DefaultEndpoint is PD's client URL in a tiup playground.
	DefaultEndpoint = "http://127.0.0.1:2379"
	// DefaultCallerID is sent in the X-Caller-ID header.
	DefaultCallerID = "kvops-pdclient"
	// DefaultTimeout bounds one attempt against one endpoint.
	DefaultTimeout = 10 * time.Second
	// DefaultMaxResponseBytes caps a response body: the biggest single
	// answer PD gives (all regions of a large cluster from GET /regions)
	// should use AllRegions, which pages, instead.
	DefaultMaxResponseBytes = 64 << 20
	// DefaultMaxAttempts is how many rounds over the endpoints a read makes.
	DefaultMaxAttempts = 3
	// DefaultBackoffBase and DefaultBackoffMax bound the pause between two
	// rounds of a read: it doubles from the base up to the cap, and each
	// pause is drawn at random from its upper half (see Config).
	DefaultBackoffBase = 100 * time.Millisecond
	DefaultBackoffMax  = 2 * time.Second
)

// callerIDHeader is the header PD's own Go HTTP client (tikv/pd
// client/http) names its caller in.
const callerIDHeader = "X-Caller-ID"

// apiPrefix is the root of PD's HTTP API.
const apiPrefix = "/pd/api/v1"

// Config configures a Client. Start from DefaultConfig; zero fields take
// the defaults above.
type Config struct {
	// Endpoints are PD client URLs ("http://pd-0:2379"). A URL without a
	// scheme gets http://, or https:// when TLS is set. One is enough: the
	// client learns the other members from /members (see
	// MembersRefreshInterval, and after an endpoint fails); it then dials
	// the current members, leader first, and these endpoints, never a
	// member that has left the cluster.
	Endpoints []string
	// HTTPClient sends the requests; nil means a client with a clone of
	// http.DefaultTransport speaking HTTP/1.1. Its Timeout should be
	// zero: Timeout below bounds each attempt instead.
	HTTPClient *http.Client
	// TLS, when set, is used for every connection, and every endpoint
	// must be https: a client configured with TLS (or with an https
	// endpoint) never talks plaintext, not to members it discovers nor
	// through redirects.
	TLS *tls.Config
	// Timeout bounds one attempt against one endpoint, body included.
	Timeout time.Duration
	// CallerID names the caller to PD in the X-Caller-ID header.
	CallerID string
	// Logger receives debug records about failover and retries; nil
	// discards them.
	Logger *slog.Logger
	// MaxResponseBytes caps each response body; a bigger one is an error
	// matching ErrTooLarge, never buffered.
	MaxResponseBytes int64
	// MaxAttempts is how many rounds over all endpoints a read makes
	// before giving up. Writes make one round.
	MaxAttempts int
	// BackoffBase and BackoffMax bound the pause between rounds: before
	// round n+1 the client pauses for a time drawn at random between d/2
	// and d, where d is BackoffBase doubled n-1 times, capped at
	// BackoffMax. The randomness keeps many clients that failed together
	// from retrying PD in lockstep.
	BackoffBase time.Duration
	BackoffMax  time.Duration
	// MembersRefreshInterval is how often the client asks PD for its
	// members again (GET /members), so that requests keep going to the
	// leader first after it moved and reach members that joined, as PD's
	// own HTTP client's service discovery does. The client runs no
	// goroutine of its own: the first request after the interval asks
	// before it is sent (one request at a time; the others go on with the
	// order they have), and so does the first request of all. Zero means
	// DefaultMembersRefreshInterval. Negative means never on its own, only
	// after a failover: for endpoints behind a proxy or load balancer
	// whose members' own client URLs cannot be reached from here.
	MembersRefreshInterval time.Duration
	// OnRequest, when set, is called after every HTTP exchange with a PD
	// member, on the goroutine that made it, with its route, status,
	// error and duration (for metrics: package tikv/opmetrics). It must
	// be quick and safe for concurrent use. Default: none, and nothing is
	// measured.
	OnRequest func(RequestInfo)
}

// DefaultConfig returns the configuration for a tiup playground: one
// endpoint at http://127.0.0.1:2379 and the defaults above.
func DefaultConfig() Config {
	return Config{
		Endpoints:        []string{DefaultEndpoint},
		Timeout:          DefaultTimeout,
		CallerID:         DefaultCallerID,
		MaxResponseBytes: DefaultMaxResponseBytes,
		MaxAttempts:      DefaultMaxAttempts,
		BackoffBase:      DefaultBackoffBase,
		BackoffMax:       DefaultBackoffMax,

		MembersRefreshInterval: DefaultMembersRefreshInterval,
	}
}

// Client talks to a PD cluster's HTTP API. It is safe for concurrent use.
//
// Requests go to the PD leader first: the client asks for the member list
// before its first request and again every MembersRefreshInterval, so that
// it learns the other members even from one endpoint and follows a leader
// that moved while the old one still answers. An endpoint that failed to
// answer is tried last for 30 s. A read
// that cannot connect, or that is answered 503 or with a failed redirect
// to the leader (ErrUnavailable), goes to the next endpoint (a write only
// as below), and the client then refreshes its member list
// from /members so that later requests go to the (possibly new) leader
// first.
//
// Reads (GET) are retried: after a round in which every endpoint failed,
// the client pauses (doubling from BackoffBase up to BackoffMax, with
// jitter) and tries another round, up to MaxAttempts rounds and never past
// the context's deadline. Writes are never retried blindly: a POST or
// DELETE whose answer was lost may have been applied, and repeating it
// could, for instance, split a region twice, create a second operator or
// undo a cancellation. A write moves to the next endpoint only when it
// provably never reached PD: it was never written, or PD itself answered
// that it has no leader (see pdRefused). A write that may have been
// applied (see NotApplied: the connection broke after sending, a 503 that
// is not PD's own, from a proxy or load balancer in front of PD, a 5xx
// that does not say PD refused it) fails with an error matching
// ErrUnconfirmed: read the cluster before repeating it.
type Client struct {
	httpc *http.Client
	tls   bool
	// traceable: httpc's transport is an *http.Transport, which reports
	// through net/http/httptrace whether it wrote a request.
	traceable   bool
	callerID    string
	log         *slog.Logger
	maxBody     int64
	timeout     time.Duration
	maxAttempts int
	backoffBase time.Duration
	backoffMax  time.Duration
	bodies      sync.Pool // *[]byte: regions bodies, read whole and reused
	onRequest   func(RequestInfo)

	// sleep, now and jitter are replaced by tests to make backoff
	// deterministic. jitter returns a number in [0, 1).
	sleep  func(ctx context.Context, d time.Duration) error
	now    func() time.Time
	jitter func() float64

	// membersEvery is MembersRefreshInterval, negative for never;
	// membersAt is when the members were last asked for (unix nanoseconds
	// of now, 0 for never), and refreshing is held by the one request
	// asking for them (see discover).
	membersEvery time.Duration
	membersAt    atomic.Int64
	refreshing   atomic.Bool

	// configured are the endpoints of the Config, normalized: they are
	// always kept, as they may be load balancers or names the members do
	// not advertise.
	configured []string

	mu        sync.Mutex
	endpoints []string // preferred first
	// down records when an endpoint last failed to answer; such endpoints
	// are tried last for downFor, so that a dead member (or a member
	// URL unreachable from here) does not cost every request a failed
	// connection.
	down map[string]time.Time
}

// New returns a client for cfg. It does no I/O.
func New(cfg Config) (*Client, error) {
	def := DefaultConfig()
	if len(cfg.Endpoints) == 0 {
		cfg.Endpoints = def.Endpoints
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = def.Timeout
	}
	if cfg.CallerID == "" {
		cfg.CallerID = def.CallerID
	}
	if cfg.MaxResponseBytes <= 0 {
		cfg.MaxResponseBytes = def.MaxResponseBytes
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = def.MaxAttempts
	}
	if cfg.BackoffBase <= 0 {
		cfg.BackoffBase = def.BackoffBase
	}
	if cfg.BackoffMax < cfg.BackoffBase {
		cfg.BackoffMax = max(def.BackoffMax, cfg.BackoffBase)
	}
	if cfg.MembersRefreshInterval == 0 {
		cfg.MembersRefreshInterval = def.MembersRefreshInterval
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	c := &Client{
		callerID:    cfg.CallerID,
		log:         logger,
		maxBody:     cfg.MaxResponseBytes,
		timeout:     cfg.Timeout,
		maxAttempts: cfg.MaxAttempts,
		backoffBase: cfg.BackoffBase,
		backoffMax:  cfg.BackoffMax,

		membersEvery: cfg.MembersRefreshInterval,
		sleep:        sleepCtx,
		now:          time.Now,
		jitter:       rand.Float64,
		tls:          cfg.TLS != nil,
		down:         map[string]time.Time{},
		onRequest:    cfg.OnRequest,
	}
	for _, e := range cfg.Endpoints {
		if strings.HasPrefix(strings.ToLower(e), "https://") {
			c.tls = true
		}
	}
	for i, e := range cfg.Endpoints {
		if strings.TrimSpace(e) == "" {
			return nil, badConfig("Endpoints[%d] is empty (a trailing comma in a list of endpoints?)", i)
		}
		u, err := c.normalize(e, false)
		if err != nil {
			return nil, badConfig("Endpoints[%d] %q: %v", i, e, err)
		}
		if !slices.Contains(c.endpoints, u) {
			c.endpoints = append(c.endpoints, u)
		}
	}
	c.configured = slices.Clone(c.endpoints)
	hc, err := httpClient(cfg.HTTPClient, cfg.TLS, c.tls)
	if err != nil {
		return nil, err
	}
	c.httpc = hc
	_, c.traceable = hc.Transport.(*http.Transport)
	return c, nil
}

// get sends a GET and decodes the answer into out.
func (c *Client) get(ctx context.Context, path string, out any) error {
	return c.do(ctx, request{method: http.MethodGet, path: apiPrefix + path}, decodeInto(out))
}

// send sends a write with an optional JSON body and discards the answer.
func (c *Client) send(ctx context.Context, method, path string, in any) error {
	r := request{method: method, path: apiPrefix + path}
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("pdclient: %s %s: encoding body: %v: %w", method, path, err, ErrBadRequest)
		}
		r.body = b
	}
	return c.do(ctx, r, discard)
}

// Do sends a request to any PD API path not covered by a method, with
// the same failover, retry, size cap and error mapping. path is relative
// to /pd/api/v1 and may carry a query ("/stores?state=0"); body, when not
// nil, is sent as JSON as is; the answer, when out is not nil, is decoded
// into it. Only GET is retried.
//
// PD API: any
func (c *Client) Do(ctx context.Context, method, path string, body []byte, out any) error {
	if !strings.HasPrefix(path, "/") {
		return invalidArg("path %q must start with /", path)
	}
	h := discard
	if out != nil {
		h = decodeInto(out)
	}
	return c.do(ctx, request{method: method, path: apiPrefix + path, body: body}, h)
}

// CloseIdleConnections closes the idle connections of the client's
// transport.
func (c *Client) CloseIdleConnections() { c.httpc.CloseIdleConnections() }
