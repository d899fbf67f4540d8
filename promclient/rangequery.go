package promclient

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"time"

	"github.com/kvops/operator/subject"
)

// RangeSeries is one series of a range query's answer.
type RangeSeries struct {
	// Metric is the series' labels, __name__ included when the
	// expression keeps it.
	Metric map[string]string
	// Samples are the series' float samples in time order; a step with
	// no sample has none. Native histogram samples are not read.
	Samples []RangeSample
}

// RangeSample is one sample of a range series.
type RangeSample struct {
	// At is the sample's time, to the millisecond.
	At time.Time
	// Value is the sample, NaN and infinities as Prometheus gives them.
	Value float64
}

// QueryRange evaluates one PromQL expression at every step of r and
// returns Prometheus' answer, every series with its labels, and its
// warnings. It is for callers with queries of their own (package
// tikv/record reads the series an incident's rules select); the store
// metrics have [Client.StoreMetricsRange].
//
// r is checked as for StoreMetricsRange. The call is bounded by
// Config.Timeout, and the answer by Config.MaxResponseBytes; errors are as
// for [Client.Query]. An answer that is not a range vector (the
// expression is a string) is a [*QueryError] wrapping an [*APIError] of
// type [ErrorBadResponse].
//
// It calls POST /api/v1/query_range.
func (c *Client) QueryRange(ctx context.Context, query string, r Range) ([]RangeSeries, []string, error) {
	switch {
	case r.Step < time.Millisecond:
		return nil, nil, fmt.Errorf("promclient: range step %v: %w: must be at least 1ms", r.Step, subject.ErrInvalid)
	case r.End.Before(r.Start):
		return nil, nil, fmt.Errorf("promclient: range ends (%v) before it starts (%v): %w", r.End, r.Start, subject.ErrInvalid)
	case r.End.Sub(r.Start)/r.Step >= maxPoints:
		return nil, nil, fmt.Errorf("promclient: range of %v at step %v: %w: more than %d points", r.End.Sub(r.Start), r.Step, subject.ErrInvalid, maxPoints)
	}
	ctx, cancel := c.withTimeout(ctx)
	defer cancel()
	start := time.Now()
	typ, raw, w, err := c.call(ctx, "/api/v1/query_range", url.Values{
		"query": {query}, "start": {formatTime(r.Start)}, "end": {formatTime(r.End)},
		"step": {strconv.FormatFloat(r.Step.Seconds(), 'f', -1, 64)},
	})
	var out []RangeSeries
	if err == nil {
		out, err = decodeMatrix(typ, raw)
	}
	c.log.LogAttrs(ctx, slog.LevelDebug, "promclient range query",
		slog.String("prometheus", c.address), slog.String("query", query),
		slog.Duration("took", time.Since(start)), slog.Int("warnings", len(w)),
		slog.Any("error", err))
	if err != nil {
		return nil, w, &QueryError{Address: c.address, Query: query, Err: classify(err)}
	}
	return out, w, nil
}

// decodeMatrix reads a range vector.
func decodeMatrix(typ ValueType, raw json.RawMessage) ([]RangeSeries, error) {
	if typ != ValueMatrix {
		return nil, badResult(fmt.Errorf("query returned %v, want a range vector", typeOf(typ)))
	}
	var matrix []struct {
		Metric map[string]string    `json:"metric"`
		Values [][2]json.RawMessage `json:"values"`
	}
	if err := json.Unmarshal(raw, &matrix); err != nil {
		return nil, badResult(err)
	}
	out := make([]RangeSeries, len(matrix))
	for i, ss := range matrix {
		out[i] = RangeSeries{Metric: ss.Metric, Samples: make([]RangeSample, len(ss.Values))}
		if out[i].Metric == nil {
			out[i].Metric = map[string]string{}
		}
		for j, pair := range ss.Values {
			ms, err := parseMillis(pair[0])
			if err != nil {
				return nil, badResult(err)
			}
			v, err := parseValue(pair[1])
			if err != nil {
				return nil, badResult(err)
			}
			out[i].Samples[j] = RangeSample{At: time.UnixMilli(ms).UTC(), Value: v}
		}
	}
	return out, nil
}
