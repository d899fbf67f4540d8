package promclient

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"time"

	"github.com/kvops/operator/subject"
)

// maxPoints is Prometheus' own limit on the points of one range query
// series (its API refuses more than 11,000).
const maxPoints = 11000

// Point is one reading of a range series.
type Point struct {
	At    time.Time
	Value subject.Value
}

// StoreSeries is one store's metrics over a time range. Each series has
// one point per step from the range's start to its end, so that the series
// of all metrics and stores line up; a step with no sample has an unknown
// value.
type StoreSeries struct {
	Store    subject.StoreID
	Instance string
	// Series maps each metric family to its points.
	Series map[Metric][]Point
}

// Range is the time range of a range query: points at Start, Start+Step,
// and so on up to End. Step must be at least 1ms.
type Range struct {
	Start, End time.Time
	Step       time.Duration
}

// StoreMetricsRange returns the metrics of every given store over r, in
// the order given, with one range query per metric family whatever the
// number of stores. Errors are as for [Client.StoreMetrics]; a failed
// family has every point unknown.
//
// It calls POST /api/v1/query_range, once per metric family.
func (c *Client) StoreMetricsRange(ctx context.Context, stores []subject.Store, r Range) ([]StoreSeries, []string, error) {
	switch {
	case r.Step < time.Millisecond:
		return nil, nil, fmt.Errorf("promclient: range step %v: %w: must be at least 1ms", r.Step, subject.ErrInvalid)
	case r.End.Before(r.Start):
		return nil, nil, fmt.Errorf("promclient: range ends (%v) before it starts (%v): %w", r.End, r.Start, subject.ErrInvalid)
	case r.End.Sub(r.Start)/r.Step >= maxPoints:
		return nil, nil, fmt.Errorf("promclient: range of %v at step %v: %w: more than %d points", r.End.Sub(r.Start), r.Step, subject.ErrInvalid, maxPoints)
	}
	if len(stores) == 0 {
		return []StoreSeries{}, nil, nil
	}
	ctx, cancel := c.withTimeout(ctx)
	defer cancel()
	res, warnings := c.run(ctx, "", func(ctx context.Context, q string) (familyAnswer, []string, error) {
		return c.queryRange(ctx, q, r)
	})

	steps := int(r.End.Sub(r.Start)/r.Step) + 1
	out := make([]StoreSeries, len(stores))
	for j, s := range stores {
		out[j] = StoreSeries{Store: s.ID, Instance: c.instance(s), Series: make(map[Metric][]Point, len(families))}
	}
	var failed []*QueryError
	for i, f := range families {
		m := f.metric
		fr := &res[i]
		var idx map[string]*rangeSeries
		dup := map[string]int{}
		if fr.err == nil {
			if fr.typ != ValueMatrix {
				fr.err = &QueryError{Address: c.address, Metric: m, Err: fmt.Errorf("query returned %v, want a range vector", typeOf(fr.typ))}
			} else {
				idx = make(map[string]*rangeSeries, len(fr.matrix))
				for k := range fr.matrix {
					ss := &fr.matrix[k]
					idx[ss.instance] = ss
					dup[ss.instance]++
				}
			}
		}
		if fr.err != nil {
			failed = append(failed, fr.err)
		}
		for j := range out {
			out[j].Series[m] = c.points(r, steps, m, out[j], idx[out[j].Instance], dup[out[j].Instance], fr.err)
		}
	}
	err, ok := combine(failed)
	if !ok {
		return nil, warnings, err
	}
	return out, warnings, err
}

func typeOf(t ValueType) string {
	if t == "" {
		return "nothing"
	}
	return "a " + string(t)
}

// rangeSeries is one series of a range vector: its instance label and
// its float samples. Native histograms are not read.
type rangeSeries struct {
	instance string
	points   []rangePoint
}

// rangePoint is one sample of a range series, at ms milliseconds since the
// epoch.
type rangePoint struct {
	ms int64
	v  float64
}

// queryRange sends a range query and returns its answer, the series of a
// range vector.
func (c *Client) queryRange(ctx context.Context, query string, r Range) (familyAnswer, []string, error) {
	typ, raw, w, err := c.call(ctx, "/api/v1/query_range", url.Values{
		"query": {query}, "start": {formatTime(r.Start)}, "end": {formatTime(r.End)},
		"step": {strconv.FormatFloat(r.Step.Seconds(), 'f', -1, 64)},
	})
	if err != nil || typ != ValueMatrix {
		return familyAnswer{typ: typ}, w, err
	}
	var matrix []struct {
		Metric map[string]string    `json:"metric"` // case-sensitive, unlike a struct's fields
		Values [][2]json.RawMessage `json:"values"`
	}
	if err := json.Unmarshal(raw, &matrix); err != nil {
		return familyAnswer{}, w, badResult(err)
	}
	a := familyAnswer{typ: typ, matrix: make([]rangeSeries, len(matrix))}
	for i, ss := range matrix {
		a.matrix[i] = rangeSeries{instance: ss.Metric["instance"], points: make([]rangePoint, len(ss.Values))}
		for j, pair := range ss.Values {
			ms, err := parseMillis(pair[0])
			if err != nil {
				return familyAnswer{}, w, badResult(err)
			}
			v, err := parseValue(pair[1])
			if err != nil {
				return familyAnswer{}, w, badResult(err)
			}
			a.matrix[i].points[j] = rangePoint{ms: ms, v: v}
		}
	}
	return a, w, nil
}

// points lays one store's series out on the range's steps.
func (c *Client) points(r Range, steps int, m Metric, s StoreSeries, ss *rangeSeries, n int, qerr *QueryError) []Point {
	pts := make([]Point, steps)
	var missing subject.Value
	switch {
	case s.Instance == "":
		missing = subject.Unknown(fmt.Sprintf("store %d has no instance (status address) to read metrics by", s.Store))
	case qerr != nil:
		missing = subject.Unknown(qerr.Error())
	case ss == nil:
		missing = subject.Unknown(fmt.Sprintf("no %s series for instance %s", m, s.Instance))
	case n > 1:
		missing = subject.Unknown(fmt.Sprintf("%d %s series for instance %s: the query must aggregate by (instance)", n, m, s.Instance))
	default:
		missing = subject.Unknown(fmt.Sprintf("no %s sample for instance %s at this step", m, s.Instance))
	}
	for k := range pts {
		pts[k] = Point{At: r.Start.Add(time.Duration(k) * r.Step), Value: missing}
	}
	if ss == nil || n > 1 || qerr != nil || s.Instance == "" {
		return pts
	}
	start := r.Start.UnixMilli()
	stepMs := r.Step.Milliseconds()
	for _, sp := range ss.points {
		off := sp.ms - start
		if off < 0 || off%stepMs != 0 || off/stepMs >= int64(steps) {
			continue // not on a step: Prometheus answered for other times than asked
		}
		pts[off/stepMs].Value = subject.Known(sp.v)
	}
	return pts
}
