package pdclient

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/kvops/operator/internal/errs"
)

// sentinel is an error value that also matches a sentinel of package
// subject, so that code written against subject's vocabulary can test a
// pdclient error with errors.Is(err, subject.ErrNotFound). subject's
// sentinels are the values of internal/errs, so pdclient matches them
// without importing subject.
type sentinel struct {
	msg  string
	also error
}

func (s *sentinel) Error() string { return s.msg }

func (s *sentinel) Is(target error) bool { return s.also != nil && target == s.also }

// Sentinel errors. Every error a Client returns matches at most one of
// ErrNotFound, ErrBadRequest, ErrPrecondition, ErrNotSupported and
// ErrServer, and may also
// match ErrUnavailable, ErrTooLarge, ErrBadResponse or ErrUnconfirmed. Test
// them with errors.Is; never match error strings.
var (
	// ErrNotFound: the store, region, operator or scheduler does not
	// exist. It also matches subject.ErrNotFound. PD reports some of
	// these with status 500 (a missing region on POST /operators); the
	// client recognises them by PD's error code ("[PD:region:ErrRegionNotFound]").
	ErrNotFound error = &sentinel{"not found", errs.ErrNotFound}
	// ErrBadRequest: PD refused the request as malformed or invalid
	// (status 400, or a 500 that PD uses for a caller's mistake such as an
	// unknown split policy), or the client refused an argument before
	// sending anything. It also matches subject.ErrInvalid.
	ErrBadRequest error = &sentinel{"bad request", errs.ErrInvalid}
	// ErrPrecondition: the request was well formed but the cluster's state
	// does not allow it (PD's "region has no voter in store 4", answered
	// with 500, or "[PD:operator:ErrAddOperator]failed to add operator,
	// maybe already have one" when the region has an operator pending).
	// Nothing was changed. It also matches subject.ErrPrecondition.
	ErrPrecondition error = &sentinel{"precondition failed", errs.ErrPrecondition}
	// ErrNotSupported: this PD does not serve the endpoint: a PD older
	// than its feature answers the route with its router's plain-text
	// "404 page not found", where a PD that has it answers 404 with a
	// JSON string for a missing object. Only the methods of endpoints
	// newer than PD v8.5 (the maintenance lock) tell the two apart; the
	// others report any 404 as ErrNotFound. It also matches
	// subject.ErrNotSupported.
	ErrNotSupported error = &sentinel{"not supported by this PD", errs.ErrNotSupported}
	// ErrServer: PD answered with another 5xx status.
	ErrServer error = &sentinel{"server error", nil}
	// ErrUnavailable: no PD endpoint could be reached, the one reached
	// answered 503, or a PD follower could not forward the request to a
	// leader (500 "[PD:apiutil:ErrRedirect]redirect failed", or "redirect
	// to not leader", which PD answers while it elects a leader). Reads
	// try the next endpoint and retry; a write does only when it provably
	// never reached PD (see NotApplied). It also matches
	// subject.ErrUnavailable.
	ErrUnavailable error = &sentinel{"unavailable", errs.ErrUnavailable}
	// ErrUnconfirmed: a write may have been applied though it failed: it
	// may have been written before its answer was lost, it was answered
	// 503 by something other than PD itself (a proxy), PD answered a 5xx
	// that does not say it refused the write (ErrServer, or ErrRedirect:
	// a follower that forwarded it to the leader and lost the answer), or
	// PD's 2xx answer could not be read. The client did not resend it;
	// read the cluster before repeating it. It also matches
	// subject.ErrUnconfirmed, and never a refusal (ErrNotFound,
	// ErrBadRequest, ErrPrecondition). Every failed write either matches
	// it or is NotApplied, never both.
	ErrUnconfirmed error = &sentinel{"write may have been applied", errs.ErrUnconfirmed}
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
	// ContentType is the answer's Content-Type header.
	ContentType string
	// Message is PD's message verbatim: the JSON string PD sent, the "msg"
	// of an error object, or the raw body when it is not JSON. Error
	// shows at most its first 256 bytes.
	Message string
	// Body is the answer's body as received, at most 64 KiB of it (a
	// proxy's HTML page, say). It is never part of Error.
	Body []byte
	// Code is PD's error code when it gave one: "PD:region:ErrRegionNotFound"
	// from a message that starts with "[PD:region:ErrRegionNotFound]", or
	// the "code" of an error object ("input").
	Code string

	kind error
	// pdRefused: an answer PD gives before any handler runs (see
	// pdRefused in retry.go); a write it answers was not applied.
	pdRefused bool
}

// Error formats the error with the request, the member that answered,
// the status and PD's message, cut to its first 256 bytes.
func (e *APIError) Error() string {
	msg := strings.TrimSpace(e.Message)
	if msg == "" {
		msg = http.StatusText(e.Status)
	}
	return fmt.Sprintf("pdclient: %s %s%s: status %d: %s", e.Method, e.Endpoint, e.Path, e.Status, errs.Clip(msg, errs.MaxMessage))
}

// refusal reports whether PD refused the request without carrying it
// out: it answered before any handler ran, with a 4xx (the request was
// PD's caller's mistake, or a proxy's refusal before forwarding it), or
// with a message that says why it refused.
func (e *APIError) refusal() bool {
	switch {
	case e.pdRefused, e.Status >= 400 && e.Status < 500:
		return true
	}
	return e.kind == ErrNotFound || e.kind == ErrBadRequest || e.kind == ErrPrecondition || e.kind == ErrNotSupported
}

// Is reports whether target is the sentinel the error is classified as
// (ErrNotFound, ErrBadRequest, ErrPrecondition, ErrNotSupported, ErrServer
// or ErrUnavailable), or that sentinel's counterpart in package subject.
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

// unavailableCodes are PD's error codes for a member that could not
// hand the request to a leader. From PD's source (tikv/pd):
//
//   - "[PD:apiutil:ErrRedirect]redirect failed", status 500, text/plain
//     (http.Error): customReverseProxies.ServeHTTP in
//     pkg/utils/apiutil/apiutil.go, which the redirectors of API v1
//     (pkg/utils/apiutil/serverapi/middleware.go) and v2
//     (server/apiv2/middlewares/redirector.go) call on a follower, writes
//     it after every leader URL failed: p.client.Do(r) returned an error
//     for each (or the leader's gzip answer could not be read). During a
//     leader election a follower still names the old leader, whose
//     connection is refused, so every request it forwards meets it for the
//     seconds the election takes (recorded on the real PD: 11 to 15 s,
//     testdata/pd-redirect). The source does NOT show that nothing was
//     applied: an error from client.Do includes a forwarded request
//     written to the leader whose answer was lost (a leader that dies
//     mid-request), so a write answered this way may have been applied,
//     exactly like one whose own answer was lost. It is unavailable (a
//     read retries and fails over) and, for a write, unconfirmed.
//   - "redirect to not leader", status 500: a member that received a
//     request already forwarded once (it carries the PD-Redirector
//     header) and is not leader answers it before any handler runs;
//     the follower that forwarded it passes the answer on. API v1 sends
//     apiutil.ErrRedirectToNotLeader as text/plain, API v2
//     errs.ErrRedirectToNotLeader ("[PD:apiutil:ErrRedirectToNotLeader]")
//     as a JSON string. Nothing was applied (see pdRefused).
//
// The first is recorded from a real 3-member PD whose leader was killed
// (testdata/pd-redirect); the second, never met in the recordings, is
// read from the source above.
var unavailableCodes = map[string]bool{
	"PD:apiutil:ErrRedirect":            true,
	"PD:apiutil:ErrRedirectToNotLeader": true,
}

// redirectToNotLeader is API v1's text/plain "redirect to not leader"
// (apiutil.ErrRedirectToNotLeader), which carries no error code.
const redirectToNotLeader = "redirect to not leader"

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
	case status == http.StatusServiceUnavailable, status >= 500 && unavailableCodes[code],
		status == http.StatusInternalServerError && strings.TrimSpace(msg) == redirectToNotLeader:
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
	// Sent is false when the request provably never reached the server:
	// the transport never finished writing its headers (the connection
	// could not be made, or the context ended first), as
	// net/http/httptrace reports it. It is true when it may have. With a
	// Config.HTTPClient whose transport is not an *http.Transport and does
	// not report through httptrace, only a failure to dial counts as not
	// sent.
	Sent bool
	Err  error
}

// Error names the endpoint and the request that failed, and the cause
// (without the URL again, which net/http's *url.Error repeats).
func (e *TransportError) Error() string {
	cause := e.Err
	var ue *url.Error
	if errors.As(cause, &ue) && ue.Err != nil {
		cause = ue.Err
	}
	return fmt.Sprintf("pdclient: %s %s%s: %v", e.Method, e.Endpoint, e.Path, cause)
}

// Unwrap returns the underlying network error.
func (e *TransportError) Unwrap() error { return e.Err }

// Is reports whether target is ErrUnavailable or subject.ErrUnavailable.
func (e *TransportError) Is(target error) bool {
	return target == ErrUnavailable || target == errs.ErrUnavailable
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

// NotApplied reports whether a write that failed with err provably changed
// nothing in PD, so that sending it again cannot apply it twice: the
// client refused it before sending (an invalid argument), the transport
// never finished writing it (no connection, or the context ended first),
// PD answered before any handler ran (PD's own 503 "no leader", "redirect
// to not leader"), or PD answered that it refused it (a 4xx; not found,
// invalid or precondition failed with a 500). Any other failure of a
// write may have been applied, and its error matches ErrUnconfirmed: the
// two never agree and never both fail. This is the client's one decision
// about a failed write; package tikv reports an action refused exactly
// when it holds. For a read's error it says nothing useful: reads change
// nothing.
func NotApplied(err error) bool {
	var (
		te *TransportError
		ae *APIError
		re *ResponseError
	)
	switch {
	case err == nil, errors.Is(err, ErrUnconfirmed):
		return false
	case errors.As(err, &te):
		return !te.Sent
	case errors.As(err, &ae):
		return ae.refusal()
	case errors.As(err, &re):
		// PD answered 2xx: it carried the request out.
		return false
	}
	// Refused by the client before anything was sent: those errors all
	// wrap ErrBadRequest. Anything else is not known to be unsent.
	return errors.Is(err, ErrBadRequest)
}

// configError is a Config that New refuses. It matches ErrBadRequest and
// subject.ErrInvalid.
type configError struct{ msg string }

func (e *configError) Error() string { return "pdclient: Config." + e.msg + ": invalid configuration" }

func (e *configError) Is(target error) bool {
	return target == ErrBadRequest || target == errs.ErrInvalid
}

func badConfig(format string, args ...any) error {
	return &configError{fmt.Sprintf(format, args...)}
}

// invalidArg is an argument refused before any request was sent.
func invalidArg(format string, args ...any) error {
	return fmt.Errorf("pdclient: "+format+": %w", append(args, ErrBadRequest)...)
}
