package promclient

import (
	"context"
	"fmt"
	"time"

	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"

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
	res, warnings := c.run(ctx, "", func(ctx context.Context, q string) (model.Value, []string, error) {
		v, w, _, err := c.api.QueryRange(ctx, q, v1.Range{Start: r.Start, End: r.End, Step: r.Step})
		return v, w, err
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
		var idx map[string]*model.SampleStream
		dup := map[string]int{}
		if fr.err == nil {
			mat, ok := fr.value.(model.Matrix)
			if !ok {
				fr.err = &QueryError{Address: c.address, Metric: m, Err: fmt.Errorf("query returned %v, want a range vector", typeOf(fr.value))}
			} else {
				idx = make(map[string]*model.SampleStream, len(mat))
				for _, ss := range mat {
					inst := string(ss.Metric[model.InstanceLabel])
					idx[inst] = ss
					dup[inst]++
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

func typeOf(v model.Value) string {
	if v == nil {
		return "nothing"
	}
	return "a " + v.Type().String()
}

// points lays one store's series out on the range's steps.
func (c *Client) points(r Range, steps int, m Metric, s StoreSeries, ss *model.SampleStream, n int, qerr *QueryError) []Point {
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
	start := model.TimeFromUnixNano(r.Start.UnixNano())
	stepMs := r.Step.Milliseconds()
	for _, sp := range ss.Values {
		off := int64(sp.Timestamp - start)
		if off < 0 || off%stepMs != 0 || off/stepMs >= int64(steps) {
			continue // not on a step: Prometheus answered for other times than asked
		}
		pts[off/stepMs].Value = subject.Known(float64(sp.Value))
	}
	return pts
}
