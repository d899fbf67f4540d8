package pdclient

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
)

// RawResponse is one answer of PD as it was sent, for callers that keep
// PD's bytes rather than decode them (package tikv/record).
type RawResponse struct {
	// Endpoint is the member that answered, as scheme://host:port.
	Endpoint string
	// Status is the HTTP status code.
	Status int
	// ContentType is the answer's Content-Type header.
	ContentType string
	// Body is the answer's body: whole for a 2xx answer (up to
	// Config.MaxResponseBytes), at most 64 KiB of an error answer.
	Body []byte
}

// Raw sends a GET of path, relative to /pd/api/v1 and with its query
// ("/stores?state=0"), or whole when it starts with /pd/
// ("/pd/api/v2/maintenance"), with the same failover, retry, leader following and
// size cap as every read, and returns PD's answer as it was sent.
//
// A non-2xx answer is returned along with its *APIError (the answer of
// the last member asked, after the failover and retries a read makes),
// so that a caller recording PD keeps what PD said; when no member
// answered, the response is nil and the error is what Do's would be
// (matching ErrUnavailable for a *TransportError).
//
// PD API: GET any
func (c *Client) Raw(ctx context.Context, path string) (*RawResponse, error) {
	if !strings.HasPrefix(path, "/") {
		return nil, invalidArg("path %q must start with /", path)
	}
	if !strings.HasPrefix(path, "/pd/") {
		path = apiPrefix + path
	}
	var out *RawResponse
	err := c.do(ctx, request{method: http.MethodGet, path: path}, func(resp *http.Response, body io.Reader) error {
		b, err := io.ReadAll(body)
		if err != nil {
			return err
		}
		out = &RawResponse{
			Endpoint: resp.Request.URL.Scheme + "://" + resp.Request.URL.Host,
			Status:   resp.StatusCode, ContentType: resp.Header.Get("Content-Type"), Body: b,
		}
		return nil
	})
	if err == nil {
		return out, nil
	}
	var ae *APIError
	if errors.As(err, &ae) {
		return &RawResponse{Endpoint: ae.Endpoint, Status: ae.Status, ContentType: ae.ContentType, Body: ae.Body}, err
	}
	return nil, err
}
