package pdclient

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/http/httptrace"
	"sync/atomic"
	"time"
)

// request is one API call.
type request struct {
	method string
	// path starts with "/pd/api/v1" (or "/pd/api/v2") and includes the
	// query.
	path string
	// body is the body, nil for none; JSON unless contentType says
	// otherwise.
	body        []byte
	contentType string
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
			if !read && !NotApplied(err) {
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
// endpoint: for a read, after any failure to connect and any answer that
// says the member is unavailable (503, a failed redirect to the leader);
// for a write, only when it provably never reached PD's handlers.
func canFailOver(err error, read bool) bool {
	var te *TransportError
	if errors.As(err, &te) {
		return read || !te.Sent
	}
	var ae *APIError
	if errors.As(err, &ae) {
		return ae.pdRefused || read && ae.kind == ErrUnavailable
	}
	return false
}

// pdRefused reports whether an answer is one that PD gives before the
// request reaches any handler, so that a write it answers was not applied.
// From PD's source (tikv/pd):
//
//   - pkg/utils/apiutil/serverapi/middleware.go, the redirector of API v1:
//     a member that is not leader and knows no leader answers
//     http.Error(w, "no leader", http.StatusServiceUnavailable), a
//     text/plain body "no leader\n", before forwarding anything; the
//     runtimeServiceValidator there answers "no service" the same way
//     before the handler runs. A member that is not leader and receives a
//     request another member forwarded (it carries PD-Redirector) answers
//     http.Error(w, apiutil.ErrRedirectToNotLeader, 500), "redirect to not
//     leader\n", before any handler; the forwarding member passes that
//     answer on.
//   - server/apiv2/middlewares/redirector.go, API v2: c.AbortWithStatusJSON
//     (503, errs.ErrLeaderNil...), the JSON string
//     "[PD:server:ErrLeaderNil]leader is nil" (pkg/errs/errno.go), and
//     (500, errs.ErrRedirectToNotLeader...) for the forwarded case.
//
// A 503 "no leader" cannot come from the leader behind a follower's
// forwarding: a forwarded request carries PD-Redirector, and a member that
// finds it is not leader answers that with 500 ErrRedirectToNotLeader before
// its "no leader" check; a failed forward is 500 ErrRedirect
// (apiutil.customReverseProxies; see unavailableCodes for why that one may
// have been applied), and an unbootstrapped cluster is 500
// ErrNotBootstrapped (server/api/middleware.go). Any other 503 is not known
// to be PD's, so it counts as possibly applied. No recording holds a real
// 503 nor a "redirect to not leader" (pd-cluster's killed leader refused
// connections, and followers answered ErrRedirect): these shapes are read
// from the source.
func pdRefused(resp *http.Response, body []byte, code string) bool {
	switch {
	case code == "PD:server:ErrLeaderNil" && resp.StatusCode == http.StatusServiceUnavailable,
		code == "PD:apiutil:ErrRedirectToNotLeader" && resp.StatusCode == http.StatusInternalServerError:
		return true
	}
	mt, _, err := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if err != nil || mt != "text/plain" {
		return false
	}
	switch text := string(bytes.TrimSpace(body)); resp.StatusCode {
	case http.StatusServiceUnavailable:
		return text == "no leader" || text == "no service"
	case http.StatusInternalServerError:
		return text == redirectToNotLeader
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

// once makes one attempt against one endpoint, and tells
// Config.OnRequest about it.
func (c *Client) once(ctx context.Context, ep string, r request, h handler) error {
	if !c.observing() {
		return c.attempt(ctx, ep, r, h, nil)
	}
	start := time.Now()
	var status int
	err := c.attempt(ctx, ep, r, h, &status)
	c.onRequest(RequestInfo{Method: r.method, Route: routeOf(r.path), Endpoint: ep, Status: status,
		Err: err, Duration: time.Since(start)})
	return err
}

// attempt makes one attempt against one endpoint, setting *status (when
// status is not nil) to the answer's status code.
func (c *Client) attempt(ctx context.Context, ep string, r request, h handler, status *int) error {
	actx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	// Whether the request may have reached PD is whether the transport
	// finished writing its headers: before that, no server can have a
	// request to carry out. The flags are sticky across the transport's
	// own retries on a reused connection.
	var traced, wrote atomic.Bool
	actx = httptrace.WithClientTrace(actx, &httptrace.ClientTrace{
		GetConn:      func(string) { traced.Store(true) },
		WroteHeaders: func() { wrote.Store(true) },
	})
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
		req.Header.Set("Content-Type", cmp.Or(r.contentType, "application/json"))
	}
	if err := actx.Err(); err != nil {
		return &TransportError{Method: r.method, Path: r.path, Endpoint: ep, Sent: false, Err: err}
	}
	resp, err := c.httpc.Do(req)
	if err != nil {
		sent := wrote.Load()
		if !sent && !c.traceable && !traced.Load() {
			// A transport of the caller's that reports nothing through
			// httptrace: only a failure to dial is known to have sent
			// nothing.
			sent = !isDialError(err)
		}
		return &TransportError{Method: r.method, Path: r.path, Endpoint: ep, Sent: sent, Err: err}
	}
	c.markUp(ep)
	if status != nil {
		*status = resp.StatusCode
	}
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
