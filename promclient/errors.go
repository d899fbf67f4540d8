package promclient

import (
	"context"
	"errors"
	"fmt"
	"strings"

	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
)

// ErrUnavailable matches errors raised when Prometheus could not be
// reached or answered with a server error (connection refused, unknown
// host, HTTP 5xx from a proxy in front of it).
var ErrUnavailable = errors.New("prometheus unavailable")

// ErrTooLarge matches errors raised when an answer exceeded
// Config.MaxResponseBytes.
var ErrTooLarge = errors.New("prometheus response too large")

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
	// is a [*v1.Error] carrying Prometheus' own message.
	Err error
}

// Error names the address, the metric family (or, for a caller's own
// query, the query) and the cause.
func (e *QueryError) Error() string {
	if e.Metric == "" {
		return fmt.Sprintf("promclient: prometheus %s: query %q: %v", e.Address, e.Query, e.Err)
	}
	return fmt.Sprintf("promclient: prometheus %s: query %s: %v", e.Address, e.Metric, e.Err)
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

// classify makes a transport failure match ErrUnavailable and leaves
// context errors, oversized answers and Prometheus' API errors as they
// are.
func classify(err error) error {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) || errors.Is(err, ErrTooLarge) {
		return err
	}
	var apiErr *v1.Error
	if errors.As(err, &apiErr) {
		if apiErr.Type == v1.ErrServer || apiErr.Type == v1.ErrorType("unavailable") {
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
// deadline), the first failure alone, else all of them joined.
func combine(failed []*QueryError) (err error, ok bool) {
	switch {
	case len(failed) == 0:
		return nil, true
	case len(failed) < len(families):
		return &PartialError{Errors: failed}, true
	}
	shared := true
	for _, qe := range failed {
		if !errors.Is(qe, ErrUnavailable) && !errors.Is(qe, context.DeadlineExceeded) && !errors.Is(qe, context.Canceled) {
			shared = false
			break
		}
	}
	if shared {
		return failed[0], false
	}
	errs := make([]error, len(failed))
	for i, qe := range failed {
		errs[i] = qe
	}
	return errors.Join(errs...), false
}
