package pdclient

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"mime"
	"net"
	"net/http"
	"net/url"
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
	// scheme gets http://, or https:// when TLS is set. The client learns
	// the other members from /members when an endpoint fails; it then
	// dials the current members and these endpoints, never a member that
	// has left the cluster.
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
	}
}

// Client talks to a PD cluster's HTTP API. It is safe for concurrent use.
//
// Requests go to the PD leader first: a client given several endpoints asks
// for the member list before its first request. An endpoint that failed to
// answer is tried last for 30 s. A read
// that cannot connect, or that is answered 503, goes to the next endpoint
// (a write only as below), and the client then refreshes its member list
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
// provably never reached PD: the connection was refused, or PD itself
// answered that it has no leader (see pdRefused). A write that may have
// been applied (the connection broke after sending, or a 503 that is not
// PD's own, from a proxy or load balancer in front of PD) fails with an
// error matching ErrUnconfirmed: read the cluster before repeating it.
type Client struct {
	httpc       *http.Client
	tls         bool
	callerID    string
	log         *slog.Logger
	maxBody     int64
	timeout     time.Duration
	maxAttempts int
	backoffBase time.Duration
	backoffMax  time.Duration
	bodies      sync.Pool // *[]byte: regions bodies, read whole and reused

	// sleep, now and jitter are replaced by tests to make backoff
	// deterministic. jitter returns a number in [0, 1).
	sleep  func(ctx context.Context, d time.Duration) error
	now    func() time.Time
	jitter func() float64

	// discovered is set once the first request has asked for the member
	// list (clients with several endpoints only).
	discovered atomic.Bool

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

// downFor is how long an endpoint that failed is tried last.
const downFor = 30 * time.Second

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
		sleep:       sleepCtx,
		now:         time.Now,
		jitter:      rand.Float64,
		tls:         cfg.TLS != nil,
		down:        map[string]time.Time{},
	}
	for _, e := range cfg.Endpoints {
		if strings.HasPrefix(strings.ToLower(e), "https://") {
			c.tls = true
		}
	}
	for _, e := range cfg.Endpoints {
		u, err := c.normalize(e, false)
		if err != nil {
			return nil, err
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
	return c, nil
}

// defaultTransport is the transport of a client given none: a clone of
// http.DefaultTransport speaking HTTP/1.1 only. Over HTTP/2, when a server
// refuses the connection after the handshake (TLS 1.3 checks the client's
// certificate then), a request may learn only that the connection "could
// not be established"; over HTTP/1.1 each request reports the refusal
// itself.
func defaultTransport() *http.Transport {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Protocols = new(http.Protocols)
	tr.Protocols.SetHTTP1(true)
	return tr
}

// httpClient builds the HTTP client, applying the TLS configuration and,
// when TLS is on, refusing redirects to plaintext.
func httpClient(base *http.Client, tc *tls.Config, secure bool) (*http.Client, error) {
	var hc http.Client
	if base != nil {
		hc = *base
	}
	if tc != nil {
		switch t := hc.Transport.(type) {
		case nil:
			tr := defaultTransport()
			tr.TLSClientConfig = tc.Clone()
			hc.Transport = tr
		case *http.Transport:
			tr := t.Clone()
			tr.TLSClientConfig = tc.Clone()
			hc.Transport = tr
		default:
			return nil, fmt.Errorf("pdclient: cannot apply Config.TLS to an HTTPClient whose transport is %T: set TLS in the transport and leave Config.TLS nil: %w", t, ErrBadRequest)
		}
	} else if hc.Transport == nil {
		hc.Transport = defaultTransport()
	}
	if secure {
		next := hc.CheckRedirect
		hc.CheckRedirect = func(req *http.Request, via []*http.Request) error {
			if req.URL.Scheme != "https" {
				return fmt.Errorf("pdclient: refusing redirect to plaintext %s", req.URL.Redacted())
			}
			if next != nil {
				return next(req, via)
			}
			if len(via) >= 10 {
				return errors.New("pdclient: stopped after 10 redirects")
			}
			return nil
		}
	}
	return &hc, nil
}

// normalize turns an endpoint into scheme://host[:port]. A configured
// plaintext endpoint on a TLS client is an error; a discovered one (a
// member's client URL) is upgraded to https, as PD's own client does.
func (c *Client) normalize(e string, discovered bool) (string, error) {
	e = strings.TrimSpace(e)
	if !strings.Contains(e, "://") {
		if c.tls {
			e = "https://" + e
		} else {
			e = "http://" + e
		}
	}
	u, err := url.Parse(e)
	if err != nil {
		return "", fmt.Errorf("pdclient: endpoint %q: %v: %w", e, err, ErrBadRequest)
	}
	scheme := strings.ToLower(u.Scheme)
	if scheme != "http" && scheme != "https" || u.Host == "" {
		return "", fmt.Errorf("pdclient: endpoint %q: want http(s)://host:port: %w", e, ErrBadRequest)
	}
	if c.tls && scheme == "http" {
		if !discovered {
			return "", fmt.Errorf("pdclient: endpoint %q is plaintext but the client uses TLS: %w", e, ErrBadRequest)
		}
		scheme = "https"
	}
	return scheme + "://" + u.Host, nil
}

// Endpoints returns the endpoints in the order the next request will try
// them: the leader first when known, endpoints that recently failed last.
func (c *Client) Endpoints() []string {
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	up := make([]string, 0, len(c.endpoints))
	var down []string
	for _, e := range c.endpoints {
		if t, ok := c.down[e]; ok && now.Sub(t) < downFor {
			down = append(down, e)
		} else {
			up = append(up, e)
		}
	}
	return append(up, down...)
}

// markDown records that ep did not answer; markUp that it did.
func (c *Client) markDown(ep string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.down[ep] = c.now()
}

func (c *Client) markUp(ep string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.down, ep)
}

// discover asks for the member list before the first request of a client
// with several endpoints, so that requests go to the leader from the start.
// Failure is ignored: the request itself fails over.
func (c *Client) discover(ctx context.Context) {
	if c.discovered.Swap(true) {
		return
	}
	eps := c.Endpoints()
	if len(eps) < 2 {
		return
	}
	for _, ep := range eps {
		if c.refreshMembers(ctx, ep) == nil {
			return
		}
	}
}

// prefer moves ep to the front of the endpoint list.
func (c *Client) prefer(ep string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	i := slices.Index(c.endpoints, ep)
	if i > 0 {
		c.endpoints = slices.Insert(slices.Delete(c.endpoints, i, i+1), 0, ep)
	}
}

// setMembers sets the endpoints to the current members: the leader's
// client URLs first, then the other members', then any configured endpoint
// PD did not list (it may be a load balancer or a name the members do not
// advertise). A member discovered before and no longer listed (removed
// from the cluster) is dropped, so that it is not dialled forever.
func (c *Client) setMembers(m *Members) {
	var list []string
	add := func(urls []string) {
		for _, raw := range urls {
			u, err := c.normalize(raw, true)
			if err == nil && !slices.Contains(list, u) {
				list = append(list, u)
			}
		}
	}
	add(m.Leader.ClientURLs)
	for _, mem := range m.Members {
		add(mem.ClientURLs)
	}
	if len(list) == 0 {
		return
	}
	for _, e := range c.configured {
		if !slices.Contains(list, e) {
			list = append(list, e)
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !slices.Equal(list, c.endpoints) {
		c.log.Debug("pdclient: endpoints reordered", "leader", m.Leader.Name, "endpoints", list)
	}
	c.endpoints = list
	for e := range c.down {
		if !slices.Contains(list, e) {
			delete(c.down, e)
		}
	}
}

// request is one API call.
type request struct {
	method string
	// path starts with "/pd/api/v1" and includes the query.
	path string
	// body is the JSON body, nil for none.
	body []byte
}

// handler consumes a 2xx response body. Its errors are wrapped as a
// ResponseError unless they are an *APIError.
type handler func(resp *http.Response, body io.Reader) error

// do sends r to the endpoints in order, failing over and retrying as the
// Client's doc comment describes.
func (c *Client) do(ctx context.Context, r request, h handler) error {
	read := r.method == http.MethodGet
	rounds := 1
	if read {
		rounds = c.maxAttempts
	}
	c.discover(ctx)
	var lastErr error
	for round := range rounds {
		if round > 0 {
			d := c.backoff(round)
			if deadline, ok := ctx.Deadline(); ok && c.now().Add(d).After(deadline) {
				return lastErr
			}
			c.log.Debug("pdclient: retrying", "method", r.method, "path", r.path, "round", round+1, "after", d, "err", lastErr)
			if err := c.sleep(ctx, d); err != nil {
				return lastErr
			}
		}
		eps := c.Endpoints()
		for i, ep := range eps {
			err := c.once(ctx, ep, r, h)
			if err == nil {
				if i > 0 {
					c.prefer(ep)
					_ = c.refreshMembers(ctx, ep)
				}
				return nil
			}
			lastErr = err
			var te *TransportError
			if errors.As(err, &te) {
				c.markDown(ep)
			}
			if !read && mayBeApplied(err) {
				return fmt.Errorf("%w; %w: read PD before repeating it", err, ErrUnconfirmed)
			}
			if ctx.Err() != nil || !canFailOver(err, read) {
				return err
			}
			c.log.Debug("pdclient: endpoint failed", "endpoint", ep, "method", r.method, "path", r.path, "err", err)
		}
	}
	return lastErr
}

// canFailOver reports whether a failed attempt may be repeated on another
// endpoint: for a read, after any failure to connect or any 503; for a
// write, only when it provably never reached PD.
func canFailOver(err error, read bool) bool {
	var te *TransportError
	if errors.As(err, &te) {
		return read || !te.Sent
	}
	var ae *APIError
	if errors.As(err, &ae) {
		return ae.Status == http.StatusServiceUnavailable && (read || ae.pdRefused)
	}
	return false
}

// mayBeApplied reports whether a failed write may nonetheless have been
// applied: it was sent and its answer was lost, or it was answered 503 by
// something other than PD's own refusal (a proxy's 503 can come after the
// request reached PD).
func mayBeApplied(err error) bool {
	var te *TransportError
	if errors.As(err, &te) {
		return te.Sent
	}
	var ae *APIError
	if errors.As(err, &ae) {
		return ae.Status == http.StatusServiceUnavailable && !ae.pdRefused
	}
	return false
}

// pdRefused reports whether a 503 answer is one that PD gives before the
// request reaches any handler, so that a write it answers was not applied.
// From PD's source (tikv/pd):
//
//   - pkg/utils/apiutil/serverapi/middleware.go, the redirector of API v1:
//     a member that is not leader and knows no leader answers
//     http.Error(w, "no leader", http.StatusServiceUnavailable), a
//     text/plain body "no leader\n", before forwarding anything; the
//     runtimeServiceValidator there answers "no service" the same way
//     before the handler runs.
//   - server/apiv2/middlewares/redirector.go, API v2: c.AbortWithStatusJSON
//     (503, errs.ErrLeaderNil...), the JSON string
//     "[PD:server:ErrLeaderNil]leader is nil" (pkg/errs/errno.go).
//
// Such an answer cannot come from the leader behind a follower's
// forwarding: a forwarded request carries PD-Redirector, and a member that
// finds it is not leader answers that with 500 ErrRedirectToNotLeader before
// its "no leader" check; a failed forward is 500 ErrRedirect
// (apiutil.customReverseProxies), and an unbootstrapped cluster is 500
// ErrNotBootstrapped (server/api/middleware.go). Any other 503 is not known
// to be PD's, so it counts as possibly applied. No recording holds a real
// 503 (pd-cluster's killed leader refused connections): these shapes are
// read from the source.
func pdRefused(resp *http.Response, body []byte, code string) bool {
	if code == "PD:server:ErrLeaderNil" {
		return true
	}
	mt, _, err := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if err != nil || mt != "text/plain" {
		return false
	}
	switch string(bytes.TrimSpace(body)) {
	case "no leader", "no service":
		return true
	}
	return false
}

// backoff returns the pause before round n (n ≥ 1): d/2 to d at random,
// d doubling from the base up to the cap.
func (c *Client) backoff(n int) time.Duration {
	d := c.backoffBase
	for i := 1; i < n && d < c.backoffMax; i++ {
		d *= 2
	}
	d = min(d, c.backoffMax)
	return d - time.Duration(c.jitter()*float64(d/2))
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// refreshMembers asks ep for the member list and reorders the endpoints,
// leader first. Callers log and otherwise ignore its failure.
func (c *Client) refreshMembers(ctx context.Context, ep string) error {
	var m Members
	if err := c.once(ctx, ep, request{method: http.MethodGet, path: apiPrefix + "/members"}, decodeInto(&m)); err != nil {
		c.log.Debug("pdclient: refreshing members failed", "endpoint", ep, "err", err)
		var te *TransportError
		if errors.As(err, &te) {
			c.markDown(ep)
		}
		return err
	}
	c.setMembers(&m)
	return nil
}

// once makes one attempt against one endpoint.
func (c *Client) once(ctx context.Context, ep string, r request, h handler) error {
	actx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	var body io.Reader
	if r.body != nil {
		body = bytes.NewReader(r.body)
	}
	req, err := http.NewRequestWithContext(actx, r.method, ep+r.path, body)
	if err != nil {
		return fmt.Errorf("pdclient: %s %s: %v: %w", r.method, r.path, err, ErrBadRequest)
	}
	req.Header.Set(callerIDHeader, c.callerID)
	req.Header.Set("Accept", "application/json")
	if r.body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.httpc.Do(req)
	if err != nil {
		return &TransportError{Method: r.method, Path: r.path, Endpoint: ep, Sent: !isDialError(err), Err: err}
	}
	c.markUp(ep)
	defer func() {
		// Drain a little so the connection can be reused, then close.
		_, _ = io.CopyN(io.Discard, resp.Body, 4<<10)
		_ = resp.Body.Close()
	}()
	cr := &capReader{r: resp.Body, left: c.maxBody, max: c.maxBody}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return c.apiError(r, ep, resp, cr)
	}
	err = h(resp, cr)
	switch {
	case err == nil:
		return nil
	case cr.readErr != nil:
		return &TransportError{Method: r.method, Path: r.path, Endpoint: ep, Sent: true, Err: cr.readErr}
	}
	var ae *APIError
	if errors.As(err, &ae) {
		return err
	}
	return &ResponseError{Method: r.method, Path: r.path, Endpoint: ep, Status: resp.StatusCode,
		ContentType: resp.Header.Get("Content-Type"), Err: err}
}

// maxErrorBody caps what is kept of an error answer: PD's messages are
// one line; a proxy's HTML page is cut.
const maxErrorBody = 64 << 10

// apiError reads a non-2xx answer into an *APIError.
func (c *Client) apiError(r request, ep string, resp *http.Response, body io.Reader) error {
	data, err := io.ReadAll(io.LimitReader(body, maxErrorBody))
	if err != nil && !errors.Is(err, ErrTooLarge) {
		return &TransportError{Method: r.method, Path: r.path, Endpoint: ep, Sent: true, Err: err}
	}
	msg, code := errorMessage(data)
	return &APIError{
		Method: r.method, Path: r.path, Endpoint: ep, Status: resp.StatusCode,
		Message: msg, Code: code, kind: classify(resp.StatusCode, code, msg),
		pdRefused: resp.StatusCode == http.StatusServiceUnavailable && pdRefused(resp, data, code),
	}
}

// errorMessage extracts PD's message and error code from an error body:
// a JSON string, an object {"code","msg"}, null, or raw text.
func errorMessage(data []byte) (msg, code string) {
	raw := bytes.TrimSpace(data)
	switch {
	case len(raw) == 0 || string(raw) == "null":
	case raw[0] == '"':
		if json.Unmarshal(raw, &msg) != nil {
			msg = string(data)
		}
	case raw[0] == '{':
		var o struct {
			Code    string `json:"code"`
			Msg     string `json:"msg"`
			Message string `json:"message"`
			Error   string `json:"error"`
		}
		if json.Unmarshal(raw, &o) != nil {
			msg = string(data)
			break
		}
		msg, code = cmpOr(o.Msg, o.Message, o.Error), o.Code
		if msg == "" {
			msg = string(data)
		}
	default:
		msg = string(data)
	}
	if pc := pdCode(msg); pc != "" {
		code = pc
	}
	return msg, code
}

func cmpOr(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}

// isDialError reports whether err happened before the request could be
// sent: the connection was never made.
func isDialError(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// capReader reads at most max bytes; past that it fails with ErrTooLarge
// instead of returning a silently truncated body. It records a read error
// from the connection so that it is reported as a transport failure.
type capReader struct {
	r       io.Reader
	left    int64
	max     int64
	readErr error
}

func (c *capReader) Read(p []byte) (int, error) {
	if c.left <= 0 {
		var b [1]byte
		for {
			n, err := c.r.Read(b[:])
			if n > 0 {
				return 0, fmt.Errorf("%w: more than %d bytes", ErrTooLarge, c.max)
			}
			if err != nil {
				return 0, c.note(err)
			}
		}
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.r.Read(p)
	c.left -= int64(n)
	return n, c.note(err)
}

func (c *capReader) note(err error) error {
	if err != nil && err != io.EOF {
		c.readErr = err
	}
	return err
}

// decodeInto returns a handler that decodes one JSON value into out and
// refuses anything after it.
func decodeInto(out any) handler {
	return func(_ *http.Response, body io.Reader) error {
		return decodeJSON(body, out)
	}
}

// decodeJSON decodes exactly one JSON value from r into out.
func decodeJSON(r io.Reader, out any) error {
	dec := json.NewDecoder(r)
	if err := dec.Decode(out); err != nil {
		if err == io.EOF {
			return errors.New("empty body")
		}
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		if err == nil {
			return errors.New("unexpected data after the JSON value")
		}
		return err
	}
	return nil
}

// discard is the handler for answers the client has no use for (PD's
// "The config is updated."): it reads them to check the cap.
func discard(_ *http.Response, body io.Reader) error {
	_, err := io.Copy(io.Discard, body)
	return err
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

// getValue GETs path and decodes the answer; it returns the zero T on
// error, never a half-decoded value.
func getValue[T any](ctx context.Context, c *Client, path string) (T, error) {
	var out T
	if err := c.get(ctx, path, &out); err != nil {
		var zero T
		return zero, err
	}
	return out, nil
}

// getPtr is getValue returning a pointer, nil on error.
func getPtr[T any](ctx context.Context, c *Client, path string) (*T, error) {
	out, err := getValue[T](ctx, c, path)
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// CloseIdleConnections closes the idle connections of the client's
// transport.
func (c *Client) CloseIdleConnections() { c.httpc.CloseIdleConnections() }
