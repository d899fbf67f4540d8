package promclient

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// The client speaks Prometheus' HTTP API (/api/v1/query and
// /api/v1/query_range) itself, over client_golang's api.Client, instead of
// through client_golang's v1 package: that package decodes answers into
// prometheus/common/model, which links protobuf and json-iterator, some
// 2.4 MB of every program that imports tikv, for ten instant queries whose
// answers need a few fields. The requests, and how answers turn into
// errors, are those of client_golang's v1 API (api/prometheus/v1,
// apiClientImpl.Do and DoGetFallback), so that errors classify the same.

// ErrorType is the kind of an [*APIError]: Prometheus' own errorType, or
// one the client gives an answer that is not Prometheus' API's.
type ErrorType string

// The error types. The first six are Prometheus' own (web/api/v1); the last
// three are the client's, as client_golang's v1 API names them.
const (
	ErrorBadData     ErrorType = "bad_data"     // Prometheus rejected the query: retrying will not help
	ErrorExecution   ErrorType = "execution"    // the query failed as it ran
	ErrorTimeout     ErrorType = "timeout"      // the query ran out of Prometheus' own time
	ErrorCanceled    ErrorType = "canceled"     // Prometheus cancelled the query
	ErrorInternal    ErrorType = "internal"     // Prometheus failed
	ErrorUnavailable ErrorType = "unavailable"  // Prometheus cannot answer now
	ErrorClient      ErrorType = "client_error" // a 4xx answer without Prometheus' error body
	ErrorServer      ErrorType = "server_error" // a 5xx answer without Prometheus' error body, as a proxy gives
	ErrorBadResponse ErrorType = "bad_response" // an answer that is not Prometheus' API's
)

// APIError is an answer of Prometheus, or of something in front of it,
// that is not a result. A query Prometheus rejected has Type ErrorBadData
// and Prometheus' message in Msg.
type APIError struct {
	Type ErrorType
	// Msg is Prometheus' message, or what the client saw wrong.
	Msg string
	// Detail is the body of an answer that was not Prometheus' own.
	Detail string
}

// Error gives the type and the message.
func (e *APIError) Error() string { return string(e.Type) + ": " + e.Msg }

// answer is what a query returns, before its result is read.
type answer struct {
	Status string `json:"status"`
	Data   struct {
		ResultType ValueType       `json:"resultType"`
		Result     json.RawMessage `json:"result"`
	} `json:"data"`
	ErrorType ErrorType `json:"errorType"`
	Error     string    `json:"error"`
	Warnings  []string  `json:"warnings"`
}

// exchange sends args to the API endpoint at path as a form POST, or as a
// GET when Prometheus refuses POST (403, 405, 501), and returns its
// result's type and text, and its warnings. It sets *status, when status
// is not nil, to the last answer's status code.
func (c *Client) exchange(ctx context.Context, path string, args url.Values, status *int) (ValueType, json.RawMessage, []string, error) {
	u := c.client.URL(path, nil)
	encoded := args.Encode()
	req, err := http.NewRequest(http.MethodPost, u.String(), strings.NewReader(encoded))
	if err != nil {
		return "", nil, nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header["Idempotency-Key"] = nil
	resp, body, err := c.client.Do(ctx, req)
	if err == nil && (resp.StatusCode == http.StatusForbidden || resp.StatusCode == http.StatusMethodNotAllowed || resp.StatusCode == http.StatusNotImplemented) {
		u.RawQuery = encoded
		if req, err = http.NewRequest(http.MethodGet, u.String(), nil); err != nil {
			return "", nil, nil, err
		}
		resp, body, err = c.client.Do(ctx, req)
	}
	if err != nil {
		return "", nil, nil, err
	}
	if status != nil {
		*status = resp.StatusCode
	}
	return decodeAnswer(resp.StatusCode, body)
}

// decodeAnswer reads an answer as client_golang's v1 API does: an error
// body on 400 and 422, a result on 2xx, an *APIError for anything else.
func decodeAnswer(code int, body []byte) (ValueType, json.RawMessage, []string, error) {
	badCode := func() error {
		switch code / 100 {
		case 4:
			return &APIError{Type: ErrorClient, Msg: fmt.Sprintf("client error: %d", code), Detail: string(body)}
		case 5:
			return &APIError{Type: ErrorServer, Msg: fmt.Sprintf("server error: %d", code), Detail: string(body)}
		}
		return &APIError{Type: ErrorBadResponse, Msg: fmt.Sprintf("bad response code %d", code), Detail: string(body)}
	}
	if code/100 != 2 {
		if code != http.StatusUnprocessableEntity && code != http.StatusBadRequest {
			return "", nil, nil, badCode()
		}
		var a struct {
			Status    string    `json:"status"`
			ErrorType ErrorType `json:"errorType"`
			Error     string    `json:"error"`
			Warnings  []string  `json:"warnings"`
		}
		if err := json.Unmarshal(body, &a); err != nil {
			return "", nil, nil, badCode()
		}
		if a.Status == "success" {
			return "", nil, a.Warnings, &APIError{Type: ErrorBadResponse, Msg: "inconsistent body for response code"}
		}
		if a.ErrorType == "" {
			a.ErrorType = ErrorClient
		}
		if a.Error == "" {
			a.Error = fmt.Sprintf("client error: %d", code)
		}
		return "", nil, a.Warnings, &APIError{Type: a.ErrorType, Msg: a.Error}
	}
	var a answer
	if err := json.Unmarshal(body, &a); err != nil {
		return "", nil, a.Warnings, &APIError{Type: ErrorBadResponse, Msg: err.Error()}
	}
	if a.Status == "error" {
		return "", nil, a.Warnings, &APIError{Type: a.ErrorType, Msg: a.Error}
	}
	return a.Data.ResultType, a.Data.Result, a.Warnings, nil
}

// formatTime writes t as the API's parameters take it: seconds since the
// epoch, as client_golang writes them.
func formatTime(t time.Time) string {
	return strconv.FormatFloat(float64(t.Unix())+float64(t.Nanosecond())/1e9, 'f', -1, 64)
}

// parseMillis reads a timestamp as the API writes it, a JSON number of
// seconds with at most three decimals, into milliseconds since the epoch,
// without going through a float (as prometheus/common's model.Time reads
// it: digits past the third decimal are dropped).
func parseMillis(raw json.RawMessage) (int64, error) {
	s := strings.TrimSpace(string(raw))
	sec, frac, _ := strings.Cut(s, ".")
	v, err := strconv.ParseInt(sec, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("timestamp %s: %w", raw, err)
	}
	ms := v * 1000
	if frac != "" {
		frac = (frac + "00")[:3]
		f, err := strconv.ParseUint(frac, 10, 16)
		if err != nil {
			return 0, fmt.Errorf("timestamp %s: %w", raw, err)
		}
		if strings.HasPrefix(sec, "-") {
			ms -= int64(f)
		} else {
			ms += int64(f)
		}
	}
	return ms, nil
}

// parseValue reads a sample's value: a JSON string holding a float, as
// Prometheus writes it ("1.5", "NaN", "+Inf").
func parseValue(raw json.RawMessage) (float64, error) {
	s, err := strconv.Unquote(string(raw))
	if err != nil {
		return 0, fmt.Errorf("sample value %s: not a string", raw)
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, fmt.Errorf("sample value %q: %w", s, err)
	}
	return v, nil
}

// promDuration writes d as a PromQL duration, as prometheus/common's
// model.Duration does: the largest units first, years and weeks only when
// exact ("90d", not "12w6d"), "0s" for nothing.
func promDuration(d time.Duration) string {
	ms := d.Milliseconds()
	if ms == 0 {
		return "0s"
	}
	var b strings.Builder
	for _, u := range []struct {
		unit  string
		mult  int64
		exact bool
	}{
		{"y", 365 * 24 * 3600 * 1000, true}, {"w", 7 * 24 * 3600 * 1000, true}, {"d", 24 * 3600 * 1000, false},
		{"h", 3600 * 1000, false}, {"m", 60 * 1000, false}, {"s", 1000, false}, {"ms", 1, false},
	} {
		if u.exact && ms%u.mult != 0 {
			continue
		}
		if v := ms / u.mult; v > 0 {
			b.WriteString(strconv.FormatInt(v, 10) + u.unit)
			ms -= v * u.mult
		}
	}
	return b.String()
}
