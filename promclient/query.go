package promclient

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/url"
	"time"
)

// ValueType is the type of a query's result, as Prometheus' API names it.
type ValueType string

// The result types.
const (
	ValueScalar ValueType = "scalar"
	ValueVector ValueType = "vector"
	ValueMatrix ValueType = "matrix"
	ValueString ValueType = "string"
)

// Sample is one series' reading at one instant.
type Sample struct {
	// Metric is the series' labels, __name__ included when the
	// expression keeps it; a scalar's is empty.
	Metric map[string]string
	// At is the reading's time, to the millisecond (Prometheus'
	// precision).
	At time.Time
	// Value is the reading, NaN and infinities as Prometheus gives them.
	Value float64
	// Histogram is set when the reading is a native histogram, whose
	// buckets the client does not read; Value is then zero.
	Histogram bool
}

// Result is Prometheus' answer to an instant query.
type Result struct {
	// Type is the result's type.
	Type ValueType
	// Samples has a vector's samples, one per series, or a scalar's one
	// sample, without labels. A matrix or a string (an instant query of a
	// range selector or of a string literal) has none: the client reads
	// only what alerting and recording rules evaluate to.
	Samples []Sample
}

// Query evaluates one PromQL expression at the instant at and returns
// Prometheus' answer, with its warnings. It is for callers with queries of
// their own, such as alerting rules; the store metrics have their own
// methods.
//
// The call is bounded by Config.Timeout. A failure is a [*QueryError]
// (Metric empty, Query the expression) whose cause matches
// [ErrUnavailable] when Prometheus could not be reached or answered with a
// server error (worth retrying later), a context error when ctx ended or
// the timeout passed, [ErrTooLarge] for an oversized answer, or is an
// [*APIError] carrying Prometheus' own message when it rejected the query
// (Type [ErrorBadData]: retrying the same query will not help).
//
// It calls POST /api/v1/query.
func (c *Client) Query(ctx context.Context, query string, at time.Time) (Result, []string, error) {
	ctx, cancel := c.withTimeout(ctx)
	defer cancel()
	start := time.Now()
	typ, raw, w, err := c.call(ctx, "/api/v1/query", url.Values{"query": {query}, "time": {formatTime(at)}})
	var res Result
	if err == nil {
		res, err = decodeResult(typ, raw)
	}
	c.log.LogAttrs(ctx, slog.LevelDebug, "promclient query",
		slog.String("prometheus", c.address), slog.String("query", query),
		slog.Duration("took", time.Since(start)), slog.Int("warnings", len(w)),
		slog.Any("error", err))
	if err != nil {
		return Result{}, w, &QueryError{Address: c.address, Query: query, Err: classify(err)}
	}
	return res, w, nil
}

// decodeResult reads an instant query's result of type typ.
func decodeResult(typ ValueType, raw json.RawMessage) (Result, error) {
	res := Result{Type: typ}
	switch typ {
	case ValueVector:
		var vec []struct {
			Metric    map[string]string `json:"metric"`
			Value     []json.RawMessage `json:"value"`
			Histogram []json.RawMessage `json:"histogram"`
		}
		if err := json.Unmarshal(raw, &vec); err != nil {
			return Result{}, badResult(err)
		}
		res.Samples = make([]Sample, len(vec))
		for i, s := range vec {
			pair, hist := s.Value, false
			if pair == nil {
				pair, hist = s.Histogram, true
			}
			sm, err := readSample(pair, hist)
			if err != nil {
				return Result{}, badResult(err)
			}
			sm.Metric = s.Metric
			if sm.Metric == nil {
				sm.Metric = map[string]string{}
			}
			res.Samples[i] = sm
		}
	case ValueScalar:
		var pair []json.RawMessage
		if err := json.Unmarshal(raw, &pair); err != nil {
			return Result{}, badResult(err)
		}
		sm, err := readSample(pair, false)
		if err != nil {
			return Result{}, badResult(err)
		}
		sm.Metric = map[string]string{}
		res.Samples = []Sample{sm}
	case ValueMatrix, ValueString:
	default:
		return Result{}, badResult(fmt.Errorf("unknown result type %q", typ))
	}
	return res, nil
}

// readSample reads a [timestamp, value] pair; a histogram's value is not
// read.
func readSample(pair []json.RawMessage, histogram bool) (Sample, error) {
	if len(pair) != 2 {
		return Sample{}, fmt.Errorf("sample of %d elements, want [timestamp, value]", len(pair))
	}
	ms, err := parseMillis(pair[0])
	if err != nil {
		return Sample{}, err
	}
	s := Sample{At: time.UnixMilli(ms), Histogram: histogram}
	if !histogram {
		if s.Value, err = parseValue(pair[1]); err != nil {
			return Sample{}, err
		}
	}
	return s, nil
}

// badResult is a result the client cannot read.
func badResult(err error) error { return &APIError{Type: ErrorBadResponse, Msg: err.Error()} }
