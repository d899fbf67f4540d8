package promclient

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/api"

	"github.com/kvops/operator/subject"
)

// Client reads TiKV store metrics from one Prometheus. It is safe for
// concurrent use.
type Client struct {
	client     api.Client
	hc         *http.Client // under client
	address    string       // redacted, for errors and logs
	timeout    time.Duration
	window     string
	restartWin string
	matchers   string // rendered Config.Matchers, each preceded by a comma
	queries    [len(families)]queryText
	instance   func(subject.Store) string
	now        func() time.Time
	maxConc    int
	log        *slog.Logger
	onQuery    func(QueryInfo)
}

var labelName = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)

// New returns a client for the Prometheus cfg names. It does no I/O. It
// fails, with an error matching [subject.ErrInvalid], when the address is
// not an http(s) URL, carries credentials, or a matcher or query override
// is malformed, or when TLS, HTTPClient and RoundTripper are combined.
//
// The client follows redirects to the same host only, and never from https
// to plaintext: its transport may add credentials to every request,
// redirected ones included, and following elsewhere would hand them out.
func New(cfg Config) (*Client, error) {
	def := DefaultConfig()
	cfg.Address = cmpOr(cfg.Address, def.Address)
	u, err := parseAddress(&cfg)
	switch {
	case err != nil:
		return nil, err
	case cfg.Timeout < 0 || cfg.RateWindow < 0 || cfg.RestartWindow < 0 || cfg.MaxConcurrent < 0 || cfg.MaxResponseBytes < 0:
		return nil, fmt.Errorf("promclient: %w: negative timeout, window, concurrency or size cap", subject.ErrInvalid)
	}
	if err := checkTransport(&cfg, u); err != nil {
		return nil, err
	}
	c := &Client{
		address:  u.Redacted(),
		timeout:  cmpOr(cfg.Timeout, def.Timeout),
		instance: cfg.Instance,
		now:      cfg.Clock,
		maxConc:  cmpOr(cfg.MaxConcurrent, def.MaxConcurrent),
		log:      cfg.Logger,
		onQuery:  cfg.OnQuery,
	}
	c.window = promDuration(cmpOr(cfg.RateWindow, def.RateWindow))
	c.restartWin = promDuration(cmpOr(cfg.RestartWindow, def.RestartWindow))
	if c.instance == nil {
		c.instance = func(s subject.Store) string { return s.StatusAddress }
	}
	if c.now == nil {
		c.now = time.Now
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if c.matchers, err = renderMatchers(cfg.Matchers); err != nil {
		return nil, err
	}
	defaults := DefaultQueries()
	for i, f := range families {
		m := f.metric
		text := cmpOr(*f.query(&cfg.Queries), *f.query(&defaults))
		q, err := parseQuery(text)
		if err != nil {
			return nil, fmt.Errorf("promclient: query %s: %w", m, err)
		}
		c.queries[i] = q
	}

	hc := httpClient(cfg, u, cmpOr(cfg.MaxResponseBytes, def.MaxResponseBytes))
	ac, err := api.NewClient(api.Config{Address: cfg.Address, Client: hc})
	if err != nil {
		return nil, fmt.Errorf("promclient: address %s: %w: %w", c.address, subject.ErrInvalid, err)
	}
	c.client, c.hc = ac, hc
	return c, nil
}

// CloseIdleConnections closes the connections the client keeps open
// between queries, as http.Client's method of that name does: those of its
// own transport, or of the HTTPClient or RoundTripper it was given, when
// that transport can.
func (c *Client) CloseIdleConnections() { c.hc.CloseIdleConnections() }

func cmpOr[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

func renderMatchers(ms []Matcher) (string, error) {
	var b strings.Builder
	for _, m := range ms {
		if !labelName.MatchString(m.Name) {
			return "", fmt.Errorf("promclient: matcher label %q: %w: not a label name", m.Name, subject.ErrInvalid)
		}
		switch m.Op {
		case MatchEqual, MatchNotEqual, MatchRegexp, MatchNotRegexp:
		case "":
			m.Op = MatchEqual
		default:
			return "", fmt.Errorf("promclient: matcher %s: %w: operator %q", m.Name, subject.ErrInvalid, m.Op)
		}
		b.WriteString("," + m.Name + string(m.Op) + strconv.Quote(m.Value))
	}
	return b.String(), nil
}

// render returns the PromQL of family i, restricted to one instance when
// instance is not empty.
func (c *Client) render(i int, instance string) string {
	matchers := c.matchers
	if instance != "" {
		matchers += ",instance=" + strconv.Quote(instance)
	}
	return c.queries[i].render(c.window, c.restartWin, matchers)
}

// Query is one metric family's PromQL.
type Query struct {
	Metric Metric
	PromQL string
}

// Queries returns the PromQL that [Client.StoreMetrics] sends, one query
// per metric family, in family order.
func (c *Client) Queries() []Query {
	qs := make([]Query, len(families))
	for i, f := range families {
		m := f.metric
		q := c.render(i, "")
		qs[i] = Query{Metric: m, PromQL: q}
	}
	return qs
}

// familyResult is what one family's query gave: a vector (instant) or a
// matrix (range), or an error.
type familyResult struct {
	familyAnswer
	warnings []string
	err      *QueryError
}

// run sends one query per metric family, at most maxConc at once, and
// returns the results in family order.
func (c *Client) run(ctx context.Context, instance string, do func(ctx context.Context, q string) (familyAnswer, []string, error)) ([len(families)]familyResult, []string) {
	var res [len(families)]familyResult
	sem := make(chan struct{}, c.maxConc)
	var wg sync.WaitGroup
	for i, f := range families {
		m := f.metric
		q := c.render(i, instance)
		wg.Go(func() {
			select {
			case sem <- struct{}{}:
				defer func() { <-sem }()
			case <-ctx.Done():
				res[i].err = &QueryError{Address: c.address, Metric: m, Query: q, Err: ctx.Err()}
				return
			}
			start := time.Now()
			a, w, err := do(ctx, q)
			res[i].familyAnswer, res[i].warnings = a, w
			if err != nil {
				res[i].err = &QueryError{Address: c.address, Metric: m, Query: q, Err: classify(err)}
			}
			c.log.LogAttrs(ctx, slog.LevelDebug, "promclient query",
				slog.String("prometheus", c.address), slog.String("metric", string(m)),
				slog.Duration("took", time.Since(start)), slog.Int("warnings", len(w)),
				slog.Any("error", err))
		})
	}
	wg.Wait()
	var warnings []string
	for _, r := range res {
		for _, w := range r.warnings {
			if !slices.Contains(warnings, w) {
				warnings = append(warnings, w)
			}
		}
	}
	return res, warnings
}

func (c *Client) withTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, c.timeout)
}

// StoreMetrics returns the metrics of every given store, in the order
// given, evaluated at Config.Clock. It sends one instant query per metric
// family whatever the number of stores (see [Client.Queries]).
//
// A store with no series for a family has that value unknown, the reason
// naming its instance. When some families fail, the others are still
// returned and err is a [*PartialError]; when every family fails, the
// result is nil and err says why: a [*SharedError] when they failed for
// one reason (matching [ErrUnavailable] when Prometheus could not be
// reached, [context.DeadlineExceeded] when the time ran out), else each
// family's error joined. No stores, no queries.
//
// It calls POST /api/v1/query, once per metric family.
func (c *Client) StoreMetrics(ctx context.Context, stores []subject.Store) ([]subject.StoreMetrics, []string, error) {
	if len(stores) == 0 {
		return []subject.StoreMetrics{}, nil, nil
	}
	ctx, cancel := c.withTimeout(ctx)
	defer cancel()
	at := c.now()
	res, warnings := c.run(ctx, "", func(ctx context.Context, q string) (familyAnswer, []string, error) {
		return c.queryVector(ctx, q, at)
	})
	out, err := c.assemble(stores, at, res)
	return out, warnings, err
}

// OneStoreMetrics returns one store's metrics, evaluated at Config.Clock,
// with every query restricted to the store's instance. Errors are as for
// [Client.StoreMetrics]. A store that maps to no instance gets every value
// unknown and sends no query.
//
// It calls POST /api/v1/query, once per metric family.
func (c *Client) OneStoreMetrics(ctx context.Context, store subject.Store) (subject.StoreMetrics, []string, error) {
	at := c.now()
	inst := c.instance(store)
	if inst == "" {
		out, err := c.assemble([]subject.Store{store}, at, [len(families)]familyResult{})
		return out[0], nil, err
	}
	ctx, cancel := c.withTimeout(ctx)
	defer cancel()
	res, warnings := c.run(ctx, inst, func(ctx context.Context, q string) (familyAnswer, []string, error) {
		return c.queryVector(ctx, q, at)
	})
	out, err := c.assemble([]subject.Store{store}, at, res)
	if err != nil && out == nil {
		return subject.StoreMetrics{}, warnings, err
	}
	return out[0], warnings, err
}

// sample is one instance's reading in a family's vector.
type sample struct {
	v     float64
	count int
}

// assemble builds each store's metrics from the families' vectors.
func (c *Client) assemble(stores []subject.Store, at time.Time, res [len(families)]familyResult) ([]subject.StoreMetrics, error) {
	out := make([]subject.StoreMetrics, len(stores))
	for j, s := range stores {
		out[j] = subject.StoreMetrics{Store: s.ID, Instance: c.instance(s), At: at}
	}
	var failed []*QueryError
	for i, f := range families {
		m := f.metric
		r := &res[i]
		// A family not asked (a store without instance) has no type.
		if r.err == nil && r.typ != "" && r.typ != ValueVector {
			r.err = &QueryError{Address: c.address, Metric: m, Err: fmt.Errorf("query returned a %s, want an instant vector", r.typ)}
		}
		idx := r.vector
		if r.err != nil {
			failed = append(failed, r.err)
		}
		for j := range out {
			*f.field(&out[j]) = c.reading(out[j], m, idx, r.err)
		}
	}
	err, ok := combine(failed)
	if !ok {
		return nil, err
	}
	return out, err
}

// reading is one store's value of family m.
func (c *Client) reading(sm subject.StoreMetrics, m Metric, idx map[string]sample, qerr *QueryError) subject.Value {
	switch {
	case sm.Instance == "":
		return subject.Unknown(fmt.Sprintf("store %d has no instance (status address) to read metrics by", sm.Store))
	case qerr != nil:
		return subject.Unknown(qerr.Error())
	}
	s, ok := idx[sm.Instance]
	switch {
	case !ok:
		return subject.Unknown(fmt.Sprintf("no %s series for instance %s", m, sm.Instance))
	case s.count > 1:
		return subject.Unknown(fmt.Sprintf("%d %s series for instance %s: the query must aggregate by (instance)", s.count, m, sm.Instance))
	}
	return subject.Known(s.v)
}

// checkRedirect refuses the redirects that would undo the configuration:
// from https to plaintext, and to another host, since a transport may add
// credentials to every request, redirected ones included, and the client
// cannot tell whether it does. Then it asks next, when set.
func checkRedirect(base *url.URL, next func(*http.Request, []*http.Request) error) func(*http.Request, []*http.Request) error {
	return func(req *http.Request, via []*http.Request) error {
		switch {
		case base.Scheme == "https" && req.URL.Scheme != "https":
			return fmt.Errorf("promclient: refusing redirect from https to plaintext %s", req.URL.Redacted())
		case req.URL.Host != base.Host:
			return fmt.Errorf("promclient: refusing redirect to another host (%s)", req.URL.Host)
		case next != nil:
			return next(req, via)
		case len(via) >= 10:
			return errors.New("promclient: stopped after 10 redirects")
		}
		return nil
	}
}

// capTransport caps every response body at max bytes: client_golang reads
// an answer whole before decoding it, so an unbounded one could exhaust
// memory.
type capTransport struct {
	next http.RoundTripper
	max  int64
}

// CloseIdleConnections closes next's idle connections, when it can.
func (t capTransport) CloseIdleConnections() {
	if c, ok := t.next.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

func (t capTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	if err := notPrometheus(req, resp); err != nil {
		return nil, err
	}
	resp.Body = &capBody{ReadCloser: resp.Body, left: t.max, max: t.max}
	return resp, nil
}

// capBody fails with ErrTooLarge once more than max bytes arrive, rather
// than truncating the answer silently.
type capBody struct {
	io.ReadCloser
	left, max int64
}

func (b *capBody) Read(p []byte) (int, error) {
	if b.left < 0 {
		return 0, b.tooLarge()
	}
	// Read one byte past the cap to tell an answer of exactly max bytes
	// from a longer one.
	if int64(len(p)) > b.left+1 {
		p = p[:b.left+1]
	}
	n, err := b.ReadCloser.Read(p)
	b.left -= int64(n)
	if b.left < 0 {
		return 0, b.tooLarge()
	}
	return n, err
}

func (b *capBody) tooLarge() error {
	return fmt.Errorf("%w: more than %d bytes", ErrTooLarge, b.max)
}

// Address is the Prometheus address the client queries, with any
// password in it redacted.
func (c *Client) Address() string { return c.address }
