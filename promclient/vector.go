package promclient

import (
	"bytes"
	"context"
	"encoding/json"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// The instant queries of StoreMetrics and OneStoreMetrics answer one
// sample per store and metric family: 10,000 samples an evaluation at
// 1,000 stores. Decoding each sample with its label map through
// encoding/json's reflection costs, at that size, more CPU than the rest of
// an evaluation. The client only ever reads a sample's instance label and
// value, so it decodes just those, into the index assemble reads.

// familyAnswer is one metric family's answer: its type, and an instant
// vector indexed by instance or a range vector's series.
type familyAnswer struct {
	typ    ValueType
	vector map[string]sample
	matrix []rangeSeries
}

// vectorSample is one sample of an instant vector: its instance label and
// its [timestamp, "value"] pair.
type vectorSample struct {
	// Metric is a map, not a struct: label names are case-sensitive, and
	// encoding/json matches a struct's fields case-insensitively (it read
	// a label "instAnCe" as the instance; found by FuzzScanVector).
	Metric map[string]string  `json:"metric"`
	Value  [2]json.RawMessage `json:"value"`
}

// queryVector sends an instant query and returns its answer, a vector
// indexed by instance.
func (c *Client) queryVector(ctx context.Context, query string, at time.Time) (familyAnswer, []string, error) {
	typ, raw, w, err := c.call(ctx, "/api/v1/query", url.Values{"query": {query}, "time": {formatTime(at)}})
	if err != nil || typ != ValueVector {
		return familyAnswer{typ: typ}, w, err
	}
	if idx, ok := scanVector(raw); ok {
		return familyAnswer{typ: typ, vector: idx}, w, nil
	}
	idx, err := decodeIndexed(raw)
	if err != nil {
		return familyAnswer{}, w, badResult(err)
	}
	return familyAnswer{typ: typ, vector: idx}, w, nil
}

// decodeIndexed reads a vector result with encoding/json.
func decodeIndexed(b []byte) (map[string]sample, error) {
	var result []vectorSample
	if err := json.Unmarshal(b, &result); err != nil {
		return nil, err
	}
	idx := make(map[string]sample, len(result))
	for _, s := range result {
		v, err := parseValue(s.Value[1])
		if err != nil {
			return nil, err
		}
		inst := s.Metric["instance"]
		cur := idx[inst]
		idx[inst] = sample{v: v, count: cur.count + 1}
	}
	return idx, nil
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
