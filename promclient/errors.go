package promclient

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strings"
	"syscall"

	"github.com/kvops/operator/internal/errs"
	"github.com/kvops/operator/subject"
)

// ErrUnavailable matches errors raised when Prometheus could not be
// reached or answered with a server error (connection refused, unknown
// host, a TLS handshake refused either way, HTTP 5xx from a proxy in front
// of it). It also matches [subject.ErrUnavailable].
var ErrUnavailable = fmt.Errorf("prometheus %w", subject.ErrUnavailable)

// ErrTooLarge: a response body was larger than Config.MaxResponseBytes.
// The client stops reading one byte past the cap and returns nothing of the
// body; a body of exactly MaxResponseBytes is accepted. Prometheus
// answered, so the error never matches [ErrUnavailable]; retrying gets the
// same answer unless the cap is raised.
var ErrTooLarge = errors.New("prometheus response larger than Config.MaxResponseBytes")

// ErrNotPrometheus: the server at Config.Address answered, but not as
// Prometheus' HTTP API answers: 404 for its query endpoint, or a 2xx
// answer that is not JSON (an HTML page, a login portal). The address
// most likely names another server, or lacks the path prefix Prometheus
// serves under (--web.route-prefix). Retrying gets the same answer. The
// error is a [*NotPrometheusError]; a call all of whose queries meet it
// fails with one [*SharedError] that says so in one line. It does not
// match [ErrUnavailable]: the server is there.
var ErrNotPrometheus = errors.New("the server does not answer as Prometheus' HTTP API does")

// NotPrometheusError is an answer that is not Prometheus': see
// [ErrNotPrometheus].
type NotPrometheusError struct {
	// Status and ContentType are the answer's.
	Status      int
	ContentType string
	// Body is the start of the answer's body, at most 4 KiB; it is never
	// part of Error.
	Body []byte
}

// Error says what answered, in one line.
func (e *NotPrometheusError) Error() string {
	ct := e.ContentType
	if ct == "" {
		ct = "no content type"
	}
	return fmt.Sprintf("%v (status %d, %s): is Config.Address Prometheus?", ErrNotPrometheus, e.Status, ct)
}

// Is matches ErrNotPrometheus.
func (e *NotPrometheusError) Is(target error) bool { return target == ErrNotPrometheus }

// notPrometheus returns a *NotPrometheusError for an answer to Prometheus'
// API (/api/v1/...) that Prometheus never gives, closing its body, or nil.
// Prometheus' API answers every call with application/json, errors
// included, and serves every endpoint the client calls.
func notPrometheus(req *http.Request, resp *http.Response) error {
	if !strings.Contains(req.URL.Path, "/api/v1/") {
		return nil
	}
	ct := resp.Header.Get("Content-Type")
	mt, _, _ := mime.ParseMediaType(ct)
	switch {
	case resp.StatusCode == http.StatusNotFound:
	case resp.StatusCode/100 == 2 && mt != "application/json":
	default:
		return nil
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	_ = resp.Body.Close()
	return &NotPrometheusError{Status: resp.StatusCode, ContentType: ct, Body: body}
}

// urlCause is a *url.Error whose message leaves out the method and URL,
// which the error around it names already; errors.As still finds it.
type urlCause struct{ ue *url.Error }

func (u urlCause) Error() string { return u.ue.Err.Error() }

func (u urlCause) Unwrap() error { return u.ue }

// quiet replaces a *url.Error at the top of err by a urlCause.
func quiet(err error) error {
	if ue, ok := err.(*url.Error); ok && ue.Err != nil {
		return urlCause{ue}
	}
	return err
}

// QueryError reports one query that failed.
type QueryError struct {
	// Address is Prometheus' address, without any credentials.
	Address string
	// Metric names the metric family the query reads; empty for a
	// caller's own query ([Client.Query]).
	Metric Metric
	// Query is the PromQL sent.
	Query string
	// Err is the cause. It matches [ErrUnavailable], a context error, or
	// is an [*APIError] carrying Prometheus' own message.
	Err error
}

// Error names the address, the metric family (or, for a caller's own
// query, the query) and the cause, each cut to 256 bytes.
func (e *QueryError) Error() string {
	cause := errs.Clip(fmt.Sprint(e.Err), errs.MaxMessage)
	if e.Metric == "" {
		return fmt.Sprintf("promclient: prometheus %s: query %q: %s", e.Address, errs.Clip(e.Query, errs.MaxMessage), cause)
	}
	return fmt.Sprintf("promclient: prometheus %s: query %s: %s", e.Address, e.Metric, cause)
}

// Unwrap returns the cause.
func (e *QueryError) Unwrap() error { return e.Err }

// PartialError is returned alongside results when some metric families
// failed and others answered. The failed families' values are unknown for
// every store, their reason naming the error; the other values are good.
type PartialError struct {
	// Errors has one entry per failed family, in family order.
	Errors []*QueryError
}

// Error lists the failed families.
func (e *PartialError) Error() string {
	msgs := make([]string, len(e.Errors))
	for i, qe := range e.Errors {
		msgs[i] = qe.Error()
	}
	return fmt.Sprintf("promclient: %d of %d metric families failed: %s", len(e.Errors), len(families), strings.Join(msgs, "; "))
}

// Unwrap returns the failures, so that errors.Is and errors.As see each.
func (e *PartialError) Unwrap() []error {
	errs := make([]error, len(e.Errors))
	for i, qe := range e.Errors {
		errs[i] = qe
	}
	return errs
}

// SharedError reports a call every query of which failed for one reason
// that is no family's own: Prometheus could not be reached, or the call's
// deadline passed. It names no family, since none is to blame, and says
// what they shared.
type SharedError struct {
	// Address is Prometheus' address, without any credentials.
	Address string
	// Cause is the failure that explains the others: among every family's
	// failure, the first (in family order) whose cause is a network, TLS
	// or HTTP error, else the first that matches [ErrUnavailable], else
	// the first. Queries share connections: when one breaks, the others on
	// it fail with errors that only say so, or with a context error.
	Cause *QueryError
	// Errors has every family's own failure, in family order.
	Errors []*QueryError
}

// Error names the address, says that every query failed, and gives the
// cause.
func (e *SharedError) Error() string {
	return fmt.Sprintf("promclient: prometheus %s: all %d metric queries failed: %s", e.Address, len(e.Errors), errs.Clip(fmt.Sprint(e.Cause.Err), errs.MaxMessage))
}

// Unwrap returns the cause, so that errors.Is and errors.As see it (and not
// its consequences).
func (e *SharedError) Unwrap() error { return e.Cause }

// classify makes a transport failure match ErrUnavailable and leaves
// context errors, oversized answers, answers that are not Prometheus',
// a transport's refusal of a request as misconfigured (subject.ErrInvalid,
// such as package httpconfig's of plaintext when TLS is configured) and
// Prometheus' API errors as they are. A *url.Error's message loses its
// URL, which the QueryError names.
func classify(err error) error {
	err = quiet(err)
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) || errors.Is(err, ErrTooLarge) ||
		errors.Is(err, ErrNotPrometheus) || errors.Is(err, subject.ErrInvalid) {
		return err
	}
	var apiErr *APIError
	if errors.As(err, &apiErr) {
		if apiErr.Type == ErrorServer || apiErr.Type == ErrorUnavailable {
			return fmt.Errorf("%w: %w", ErrUnavailable, err)
		}
		return err
	}
	return fmt.Errorf("%w: %w", ErrUnavailable, err)
}

// combine turns the failures of one call into its error. With no
// failures it returns nil; with some it returns a *PartialError and ok
// true (results are usable); when every family failed it returns ok false
// and, if they failed for one shared reason (Prometheus unreachable, the
// deadline), a *SharedError, else all of them joined.
func combine(failed []*QueryError) (err error, ok bool) {
	switch {
	case len(failed) == 0:
		return nil, true
	case len(failed) < len(families):
		return &PartialError{Errors: failed}, true
	}
	cause := failed[0]
	for _, qe := range failed {
		r := rank(qe)
		if r < 0 {
			cause = nil
			break
		}
		if r < rank(cause) {
			cause = qe
		}
	}
	if cause != nil {
		return &SharedError{Address: cause.Address, Cause: cause, Errors: failed}, false
	}
	errs := make([]error, len(failed))
	for i, qe := range failed {
		errs[i] = qe
	}
	return errors.Join(errs...), false
}

// rank orders the failures of one call by how well they explain it: 0 for
// a failure with a network, TLS or HTTP cause (the connection refused or
// reset, a certificate refused, a proxy's 5xx, a server that is not
// Prometheus), 1 for another failure to
// reach Prometheus (a connection closed because a sibling query's broke,
// which the HTTP transport reports without a typed cause), 2 for a context
// error; -1 for a failure that is the family's own (Prometheus rejected its
// query, an oversized or malformed answer), which no other failure
// explains.
func rank(qe *QueryError) int {
	switch {
	case errors.Is(qe, ErrNotPrometheus):
		return 0
	case errors.Is(qe, context.DeadlineExceeded) || errors.Is(qe, context.Canceled):
		return 2
	case !errors.Is(qe, ErrUnavailable):
		return -1
	case rootCause(qe):
		return 0
	}
	return 1
}

// rootCause reports whether err carries a typed network, TLS or HTTP
// error.
func rootCause(err error) bool {
	var (
		op      *net.OpError
		dns     *net.DNSError
		errno   syscall.Errno
		verify  *tls.CertificateVerificationError
		record  tls.RecordHeaderError
		alert   tls.AlertError
		unknown x509.UnknownAuthorityError
		host    x509.HostnameError
		invalid x509.CertificateInvalidError
		api     *APIError
	)
	return errors.As(err, &op) || errors.As(err, &dns) || errors.As(err, &errno) ||
		errors.As(err, &verify) || errors.As(err, &record) || errors.As(err, &alert) ||
		errors.As(err, &unknown) || errors.As(err, &host) || errors.As(err, &invalid) ||
		errors.As(err, &api)
}
