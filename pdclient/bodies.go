package pdclient

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
)

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
		ContentType: resp.Header.Get("Content-Type"), Message: msg, Code: code, Body: data, kind: classify(resp.StatusCode, code, msg),
		pdRefused: pdRefused(resp, data, code),
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
