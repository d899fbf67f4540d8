package promclient

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
)

// The instant queries of StoreMetrics and OneStoreMetrics answer one
// sample per store and metric family: 10,000 samples an evaluation at
// 1,000 stores. client_golang decodes each sample into a model.Sample
// through encoding/json's reflection, with a label map per sample, which
// at that size costs more CPU than the rest of an evaluation. The client
// only ever reads a sample's instance label and value, so it decodes just
// those, into the index assemble reads. Requests and error answers are
// those of client_golang's v1 API (api/prometheus/v1, apiClientImpl.Do and
// DoGetFallback), so errors classify the same.

// indexed is an instant vector already indexed by instance; it is a
// model.Value so that it travels where client_golang's values do.
type indexed struct{ idx map[string]sample }

func (indexed) Type() model.ValueType { return model.ValVector }
func (indexed) String() string        { return "indexed instant vector" }

// other stands for an answer that is not an instant vector.
type other struct{ typ model.ValueType }

func (o other) Type() model.ValueType { return o.typ }
func (o other) String() string        { return o.typ.String() }

// vectorAnswer is Prometheus' answer envelope, reading only what an
// indexed vector needs.
type vectorAnswer struct {
	Status string `json:"status"`
	Data   struct {
		ResultType model.ValueType `json:"resultType"`
		Result     json.RawMessage `json:"result"`
	} `json:"data"`
	ErrorType v1.ErrorType `json:"errorType"`
	Error     string       `json:"error"`
	Warnings  []string     `json:"warnings"`
}

// vectorSample is one sample of an instant vector: its instance label and
// its [timestamp, "value"] pair.
type vectorSample struct {
	Metric struct {
		Instance string `json:"instance"`
	} `json:"metric"`
	Value [2]json.RawMessage `json:"value"`
}

// queryVector sends an instant query and returns its answer indexed by
// instance, as an [indexed] value, or an [other] one when the answer is not
// a vector.
func (c *Client) queryVector(ctx context.Context, query string, at time.Time) (model.Value, []string, error) {
	args := url.Values{"query": {query}, "time": {strconv.FormatFloat(float64(at.Unix())+float64(at.Nanosecond())/1e9, 'f', -1, 64)}}
	u := c.client.URL("/api/v1/query", nil)
	encoded := args.Encode()
	req, err := http.NewRequest(http.MethodPost, u.String(), strings.NewReader(encoded))
	if err != nil {
		return nil, nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header["Idempotency-Key"] = nil
	resp, body, err := c.client.Do(ctx, req)
	if err == nil && (resp.StatusCode == http.StatusForbidden || resp.StatusCode == http.StatusMethodNotAllowed || resp.StatusCode == http.StatusNotImplemented) {
		u.RawQuery = encoded
		if req, err = http.NewRequest(http.MethodGet, u.String(), nil); err != nil {
			return nil, nil, err
		}
		resp, body, err = c.client.Do(ctx, req)
	}
	if err != nil {
		return nil, nil, err
	}
	return decodeVector(resp.StatusCode, body)
}

// decodeVector reads an answer to an instant query as client_golang's v1
// API does, indexing a vector by instance.
func decodeVector(code int, body []byte) (model.Value, []string, error) {
	badCode := func() error {
		switch code / 100 {
		case 4:
			return &v1.Error{Type: v1.ErrClient, Msg: fmt.Sprintf("client error: %d", code), Detail: string(body)}
		case 5:
			return &v1.Error{Type: v1.ErrServer, Msg: fmt.Sprintf("server error: %d", code), Detail: string(body)}
		}
		return &v1.Error{Type: v1.ErrBadResponse, Msg: fmt.Sprintf("bad response code %d", code), Detail: string(body)}
	}
	if code/100 != 2 {
		if code != http.StatusUnprocessableEntity && code != http.StatusBadRequest {
			return nil, nil, badCode()
		}
		var a struct {
			Status    string       `json:"status"`
			ErrorType v1.ErrorType `json:"errorType"`
			Error     string       `json:"error"`
			Warnings  []string     `json:"warnings"`
		}
		if err := json.Unmarshal(body, &a); err != nil {
			return nil, nil, badCode()
		}
		if a.Status == "success" {
			return nil, a.Warnings, &v1.Error{Type: v1.ErrBadResponse, Msg: "inconsistent body for response code"}
		}
		if a.ErrorType == "" {
			a.ErrorType = v1.ErrClient
		}
		if a.Error == "" {
			a.Error = fmt.Sprintf("client error: %d", code)
		}
		return nil, a.Warnings, &v1.Error{Type: a.ErrorType, Msg: a.Error}
	}
	var a vectorAnswer
	if err := json.Unmarshal(body, &a); err != nil {
		return nil, a.Warnings, &v1.Error{Type: v1.ErrBadResponse, Msg: err.Error()}
	}
	if a.Status == "error" {
		return nil, a.Warnings, &v1.Error{Type: a.ErrorType, Msg: a.Error}
	}
	if a.Data.ResultType != model.ValVector {
		return other{a.Data.ResultType}, a.Warnings, nil
	}
	if idx, ok := scanVector(a.Data.Result); ok {
		return indexed{idx}, a.Warnings, nil
	}
	idx, err := decodeResult(a.Data.Result)
	if err != nil {
		return nil, a.Warnings, &v1.Error{Type: v1.ErrBadResponse, Msg: err.Error()}
	}
	return indexed{idx}, a.Warnings, nil
}

// decodeResult reads a vector result with encoding/json.
func decodeResult(b []byte) (map[string]sample, error) {
	var result []vectorSample
	if err := json.Unmarshal(b, &result); err != nil {
		return nil, err
	}
	idx := make(map[string]sample, len(result))
	for _, s := range result {
		v, err := sampleValue(s.Value[1])
		if err != nil {
			return nil, err
		}
		cur := idx[s.Metric.Instance]
		idx[s.Metric.Instance] = sample{v: v, count: cur.count + 1}
	}
	return idx, nil
}

// sampleValue reads a sample's value: a JSON string holding a float, as
// Prometheus writes it ("1.5", "NaN", "+Inf").
func sampleValue(raw json.RawMessage) (float64, error) {
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

// scanVector reads a vector result in the shape Prometheus writes it,
//
//	[{"metric":{"instance":"a:1","job":"tikv"},"value":[1764619531.5,"0.004"]},...]
//
// without reflection or a map per sample. It gives up (false) on anything
// else, escapes in strings included, and the caller decodes the result
// with encoding/json instead: the fast path never decides what an answer
// means, it only reads the common one faster.
func scanVector(b []byte) (map[string]sample, bool) {
	sc := scanner{b: b}
	if !sc.lit('[') {
		return nil, false
	}
	idx := make(map[string]sample, bytes.Count(b, []byte(`"value"`)))
	if sc.lit(']') {
		return idx, sc.end()
	}
	for {
		if !sc.lit('{') || !sc.key("metric") || !sc.lit('{') {
			return nil, false
		}
		inst := ""
		if !sc.lit('}') {
			for {
				k, ok := sc.str()
				if !ok || !sc.lit(':') {
					return nil, false
				}
				v, ok := sc.str()
				if !ok {
					return nil, false
				}
				if k == "instance" {
					inst = v
				}
				if sc.lit('}') {
					break
				}
				if !sc.lit(',') {
					return nil, false
				}
			}
		}
		if !sc.lit(',') || !sc.key("value") || !sc.lit('[') || !sc.number() || !sc.lit(',') {
			return nil, false
		}
		vs, ok := sc.str()
		if !ok || !sc.lit(']') || !sc.lit('}') {
			return nil, false
		}
		v, err := strconv.ParseFloat(vs, 64)
		if err != nil {
			return nil, false
		}
		cur := idx[inst]
		idx[inst] = sample{v: v, count: cur.count + 1}
		if sc.lit(']') {
			return idx, sc.end()
		}
		if !sc.lit(',') {
			return nil, false
		}
	}
}

// scanner reads JSON tokens of a known shape from b.
type scanner struct {
	b []byte
	i int
}

func (s *scanner) space() {
	for s.i < len(s.b) && (s.b[s.i] == ' ' || s.b[s.i] == '\n' || s.b[s.i] == '\t' || s.b[s.i] == '\r') {
		s.i++
	}
}

// lit consumes c, after white space, if it comes next.
func (s *scanner) lit(c byte) bool {
	s.space()
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}

// str consumes a string without escapes and returns its text.
func (s *scanner) str() (string, bool) {
	if !s.lit('"') {
		return "", false
	}
	start := s.i
	for s.i < len(s.b) {
		switch c := s.b[s.i]; {
		case c == '"':
			out := string(s.b[start:s.i])
			s.i++
			return out, true
		case c == '\\' || c < 0x20:
			return "", false
		}
		s.i++
	}
	return "", false
}

// key consumes "name":.
func (s *scanner) key(name string) bool {
	k, ok := s.str()
	return ok && k == name && s.lit(':')
}

// number consumes a JSON number (the answer was checked to be valid JSON
// as a whole: this only needs to find its end).
func (s *scanner) number() bool {
	s.space()
	start := s.i
	for s.i < len(s.b) && strings.IndexByte("+-0123456789.eE", s.b[s.i]) >= 0 {
		s.i++
	}
	return s.i > start
}

// end reports whether only white space is left.
func (s *scanner) end() bool {
	s.space()
	return s.i == len(s.b)
}
