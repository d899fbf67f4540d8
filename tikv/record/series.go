package record

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"time"

	"github.com/kvops/operator/logparse"
	"github.com/kvops/operator/promclient"
)

// maxSteps keeps a range query under Prometheus' 11,000 points a series.
const maxSteps = 10000

// seriesDue reports whether a query's next chunk is due at now.
func (r *Recorder) seriesDue(now time.Time) bool {
	for _, from := range r.series {
		if now.Sub(from) >= r.cfg.SeriesEvery {
			return true
		}
	}
	return false
}

// WriteSeries reads the series of Config.Queries from prom, from where
// each query's last chunk ended up to to, in chunks of at most
// Config.SeriesEvery, and writes them. A query that fails is counted in
// the summary and asked again from the same point by the next call; only
// a failed write, or ctx's end, is returned.
//
// [Observe] and [Close] call it when Config.Prometheus is set. A caller
// whose Prometheus holds the window only afterwards (a simulated
// cluster's history backfilled into one) calls it before Close.
func (r *Recorder) WriteSeries(ctx context.Context, prom *promclient.Client, to time.Time) error {
	step := r.cfg.Step
	chunk := min(r.cfg.SeriesEvery, maxSteps*step)
	for i, q := range r.cfg.Queries {
		for !r.series[i].After(to) {
			if err := ctx.Err(); err != nil {
				return err
			}
			from := r.series[i]
			end := from.Add(chunk)
			if end.After(to) {
				end = to
			}
			// Samples fall on from + k*step; the next chunk starts at the
			// step after end.
			n := end.Sub(from) / step
			end = from.Add(n * step)
			ss, _, err := prom.QueryRange(ctx, q, promclient.Range{Start: from, End: end, Step: step})
			if err != nil {
				r.cfg.Logger.DebugContext(ctx, "record: series query failed", slog.String("query", q), slog.Any("error", err))
				r.sum.SeriesFailures++
				break
			}
			for _, s := range ss {
				if len(s.Samples) == 0 {
					continue
				}
				line := &Series{From: from, To: end, Labels: s.Metric, Samples: make([]Sample, len(s.Samples))}
				for k, p := range s.Samples {
					line.Samples[k] = Sample{T: p.At, V: p.Value}
				}
				if err := r.w.Write(Entry{Kind: KindSeries, Series: line}); err != nil {
					return err
				}
				r.sum.Series++
				r.sum.Samples += len(line.Samples)
			}
			r.series[i] = end.Add(step)
		}
	}
	return nil
}

// readLogs writes the entries of each source since its last read up to
// now. A source that fails is read again from the same point next time.
func (r *Recorder) readLogs(ctx context.Context, now time.Time) error {
	for i, src := range r.cfg.Logs {
		since := r.logs[i]
		if !now.After(since) {
			continue
		}
		ok := true
		for e, err := range src.Entries(ctx, since, now) {
			if err != nil {
				if isSyntax(err) {
					continue
				}
				r.cfg.Logger.DebugContext(ctx, "record: reading a log failed", slog.String("source", src.Name()), slog.Any("error", err))
				r.sum.LogFailures++
				ok = false
				break
			}
			if r.cfg.LogFilter != nil && !r.cfg.LogFilter(e) {
				continue
			}
			line := strings.TrimRight(string(logparse.Format(e)), "\n")
			if err := r.w.Write(Entry{Kind: KindLog, Log: &Log{At: e.Time, Source: src.Name(), Line: line}}); err != nil {
				return err
			}
			r.sum.Logs++
		}
		if ok {
			r.logs[i] = now
		}
	}
	return nil
}

func isSyntax(err error) bool { return errors.Is(err, logparse.ErrSyntax) }
