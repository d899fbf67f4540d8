package pdclient

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/kvops/operator/subject"
)

// sentinel is an error value that also matches a sentinel of package
// subject, so that code written against subject's vocabulary can test a
// pdclient error with errors.Is(err, subject.ErrNotFound).
type sentinel struct {
	msg  string
	also error
}

func (s *sentinel) Error() string { return s.msg }

func (s *sentinel) Is(target error) bool { return s.also != nil && target == s.also }

// Sentinel errors. Every error a Client returns matches at most one of
// ErrNotFound, ErrBadRequest, ErrPrecondition and ErrServer, and may also
// match ErrUnavailable, ErrTooLarge, ErrBadResponse or ErrUnconfirmed. Test
// them with errors.Is; never match error strings.
var (
	// ErrNotFound: the store, region, operator or scheduler does not
	// exist. It also matches subject.ErrNotFound. PD reports some of
	// these with status 500 (a missing region on POST /operators); the
	// client recognises them by PD's error code ("[PD:region:ErrRegionNotFound]").
	ErrNotFound error = &sentinel{"not found", subject.ErrNotFound}
	// ErrBadRequest: PD refused the request as malformed or invalid
	// (status 400, or a 500 that PD uses for a caller's mistake such as an
	// unknown split policy), or the client refused an argument before
	// sending anything. It also matches subject.ErrInvalid.
	ErrBadRequest error = &sentinel{"bad request", subject.ErrInvalid}
	// ErrPrecondition: the request was well formed but the cluster's state
	// does not allow it (PD's "region has no voter in store 4", answered
	// with 500, or "[PD:operator:ErrAddOperator]failed to add operator,
	// maybe already have one" when the region has an operator pending).
	// Nothing was changed. It also matches subject.ErrPrecondition.
	ErrPrecondition error = &sentinel{"precondition failed", subject.ErrPrecondition}
	// ErrServer: PD answered with another 5xx status.
	ErrServer error = &sentinel{"server error", nil}
	// ErrUnavailable: no PD endpoint could be reached, or the one reached
	// answered 503. It also matches subject.ErrUnavailable.
	ErrUnavailable error = &sentinel{"unavailable", subject.ErrUnavailable}
	// ErrUnconfirmed: a write may have been applied though it failed: it
	// was sent and its answer was lost, or it was answered 503 by
	// something other than PD itself (a proxy). The client did not resend
	// it; read the cluster before repeating it. It also matches
	// subject.ErrUnconfirmed, and never a refusal (ErrNotFound,
	// ErrBadRequest, ErrPrecondition).
	ErrUnconfirmed error = &sentinel{"write may have been applied", subject.ErrUnconfirmed}
	// ErrTooLarge: a response body was larger than
	// Config.MaxResponseBytes. The client stops reading one byte past the
	// cap and returns nothing of the body; a body of exactly
	// MaxResponseBytes is accepted. The server answered, so the error never
	// matches ErrUnavailable; retrying gets the same answer unless the cap
	// is raised.
	ErrTooLarge error = &sentinel{"response larger than Config.MaxResponseBytes", nil}
	// ErrBadResponse: a successful response could not be decoded (not
	// JSON, truncated, wrong types, an HTML page from a proxy...).
	ErrBadResponse error = &sentinel{"bad response", nil}
)

// APIError is PD's answer to a request it did not carry out: any status
// other than 2xx.
type APIError struct {
	// Method and Path are the request's (the path includes the query).
	Method string
	Path   string
	// Endpoint is the PD member that answered, as scheme://host:port.
	Endpoint string
	// Status is the HTTP status code.
	Status int
	// Message is PD's message verbatim: the JSON string PD sent, the "msg"
	// of an error object, or the raw body when it is not JSON.
	Message string
	// Code is PD's error code when it gave one: "PD:region:ErrRegionNotFound"
	// from a message that starts with "[PD:region:ErrRegionNotFound]", or
	// the "code" of an error object ("input").
	Code string

	kind error
	// pdRefused: a 503 that PD gives before any handler runs (see
	// pdRefused in client.go); a write it answers was not applied.
	pdRefused bool
}

// Error formats the error with the request, the member that answered,
// the status and PD's message.
func (e *APIError) Error() string {
	msg := strings.TrimSpace(e.Message)
	if msg == "" {
		msg = http.StatusText(e.Status)
	}
	return fmt.Sprintf("pdclient: %s %s%s: status %d: %s", e.Method, e.Endpoint, e.Path, e.Status, msg)
}

// Is reports whether target is the sentinel the error is classified as
// (ErrNotFound, ErrBadRequest, ErrPrecondition, ErrServer or
// ErrUnavailable), or that sentinel's counterpart in package subject.
func (e *APIError) Is(target error) bool {
	if e.kind == nil {
		return false
	}
	return target == e.kind || errors.Is(e.kind, target)
}

// Kind returns the sentinel the error is classified as, or nil for a status
// the client does not classify (a 4xx other than 400 and 404).
func (e *APIError) Kind() error { return e.kind }

// preconditionPhrases start the messages PD sends with status 500 when the
// request was valid but the cluster's state refuses it. PD gives them no
// error code, so the client has to recognise the text; callers never do.
var preconditionPhrases = []string{
	"region has no voter in store",
	"region has no peer in store",
	"region already has peer in store",
	"no operator step is built",
	// A transfer to a store whose leaders are evicted
	// (pd-operators/operator-transfer-to-evicted).
	"cannot create operator: target leader is not allowed",
}

// preconditionCodes are PD's error codes for a request the cluster's state
// refuses, whatever the status. ErrAddOperator is PD's
// "failed to add operator, maybe already have one": the region has an
// operator pending, and nothing was changed.
var preconditionCodes = map[string]bool{
	"PD:operator:ErrAddOperator": true,
}

// badRequestPhrases start the messages PD sends with status 500 for a
// caller's mistake.
var badRequestPhrases = []string{
	"check policy ",
	"transfer region without peer role is not supported",
}

// classify picks the sentinel for an API error. PD's error codes come
// first, whatever the status: PD answers a missing region on
// POST /operators with 500.
func classify(status int, code, msg string) error {
	if strings.HasPrefix(code, "PD:") && strings.HasSuffix(code, "NotFound") {
		return ErrNotFound
	}
	if preconditionCodes[code] {
		return ErrPrecondition
	}
	switch {
	case status == http.StatusNotFound:
		return ErrNotFound
	case status == http.StatusBadRequest:
		return ErrBadRequest
	case status == http.StatusServiceUnavailable:
		return ErrUnavailable
	}
	if status >= 500 {
		text := strings.TrimLeft(msg, "\"")
		for _, p := range preconditionPhrases {
			if strings.HasPrefix(text, p) {
				return ErrPrecondition
			}
		}
		for _, p := range badRequestPhrases {
			if strings.HasPrefix(text, p) {
				return ErrBadRequest
			}
		}
		return ErrServer
	}
	return nil
}

// pdCode extracts "PD:component:ErrName" from a message containing
// "[PD:component:ErrName]".
func pdCode(msg string) string {
	i := strings.Index(msg, "[PD:")
	if i < 0 {
		return ""
	}
	j := strings.IndexByte(msg[i:], ']')
	if j < 0 {
		return ""
	}
	return msg[i+1 : i+j]
}

// TransportError is a request that got no HTTP answer from an endpoint:
// the connection was refused, timed out or broke. It matches ErrUnavailable
// (and so subject.ErrUnavailable).
type TransportError struct {
	Method   string
	Path     string
	Endpoint string
	// Sent is false when the request provably never reached the server
	// (the connection could not be made), true when it may have.
	Sent bool
	Err  error
}

// Error names the endpoint and the request that failed.
func (e *TransportError) Error() string {
	return fmt.Sprintf("pdclient: %s %s%s: %v", e.Method, e.Endpoint, e.Path, e.Err)
}

// Unwrap returns the underlying network error.
func (e *TransportError) Unwrap() error { return e.Err }

// Is reports whether target is ErrUnavailable or subject.ErrUnavailable.
func (e *TransportError) Is(target error) bool {
	return target == ErrUnavailable || target == subject.ErrUnavailable
}

// ResponseError is a 2xx answer the client could not use: too large, or not
// the JSON it expected. It matches ErrTooLarge or ErrBadResponse.
type ResponseError struct {
	Method   string
	Path     string
	Endpoint string
	Status   int
	// ContentType is the response's Content-Type header.
	ContentType string
	// Err says what was wrong (it wraps ErrTooLarge or a decoding error).
	Err error
}

// Error names the request and what was wrong with its answer.
func (e *ResponseError) Error() string {
	return fmt.Sprintf("pdclient: %s %s: bad response from %s (status %d, %s): %v",
		e.Method, e.Path, e.Endpoint, e.Status, e.ContentType, e.Err)
}

// Unwrap returns the decoding error.
func (e *ResponseError) Unwrap() error { return e.Err }

// Is matches ErrBadResponse, and ErrTooLarge when the body was over the cap.
func (e *ResponseError) Is(target error) bool {
	return target == ErrBadResponse || (target == ErrTooLarge && errors.Is(e.Err, ErrTooLarge))
}

// invalidArg is an argument refused before any request was sent.
func invalidArg(format string, args ...any) error {
	return fmt.Errorf("pdclient: "+format+": %w", append(args, ErrBadRequest)...)
}
