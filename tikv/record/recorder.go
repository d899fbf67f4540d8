package record

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/kvops/operator/subject"
)

// Summary says what a recording holds.
type Summary struct {
	// Start and End are the times of the first and the last evaluation.
	Start, End time.Time
	// Evaluations counts the evaluations made.
	Evaluations int
	// PDAnswers counts the PD lines written; PDUnchanged the answers
	// left out because they equalled the last one written for their
	// path; PDFailures the answers that were errors (a non-2xx status,
	// or no answer at all), written or not.
	PDAnswers, PDUnchanged, PDFailures int
	// RegionReads counts the whole reads of the regions, RegionFailures
	// those that failed part way; Regions is the count of the last whole
	// read, RegionLines the Regions lines written.
	RegionReads, RegionFailures, Regions, RegionLines int
	// Series counts the Series lines, Samples their samples,
	// SeriesFailures the queries that failed (their range is asked again
	// with the next chunk).
	Series, Samples, SeriesFailures int
	// Logs counts the Log lines, LogFailures the failed reads of a
	// source (read again from the same point at the next evaluation).
	Logs, LogFailures int
	// Entries counts the lines written, header and end line included.
	Entries int64
}

// Recorder writes one recording: New writes its header, each Observe an
// evaluation, Close the last series and the end line. [Record] runs the
// whole window; a caller stepping a simulated cluster itself drives a
// Recorder. It is not safe for concurrent use.
type Recorder struct {
	cfg     Config
	header  Header
	w       *Writer
	start   time.Time
	end     time.Time
	last    time.Time
	pd      pdState
	regions regionState
	series  []time.Time // per query: where its next chunk starts
	logs    []time.Time // per source: where its next read starts
	sum     Summary
	closed  bool
}

// New writes the header of a recording starting at cfg.Clock's now and
// planned to last cfg.Duration. Config errors match subject.ErrInvalid.
func New(w io.Writer, cfg Config) (*Recorder, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	start := cfg.Clock.Now()
	h := Header{
		Start: start, End: start.Add(cfg.Duration), Interval: Duration(cfg.Interval),
		PD: strings.Join(cfg.PD.Endpoints(), ","), Queries: cfg.Queries, Labels: cfg.Labels,
	}
	if cfg.Prometheus != nil {
		h.Prometheus = cfg.Prometheus.Address()
	}
	rw, err := NewWriter(w, h)
	if err != nil {
		return nil, err
	}
	h.Format, h.Version = Format, Version
	r := &Recorder{cfg: cfg, header: h, w: rw, start: start, end: h.End, pd: pdState{last: map[string]uint64{}},
		series: make([]time.Time, len(cfg.Queries)), logs: make([]time.Time, len(cfg.Logs))}
	for i := range r.series {
		r.series[i] = start
	}
	for i := range r.logs {
		r.logs[i] = start
	}
	r.sum.Start = start
	return r, nil
}

// Header is the header written.
func (r *Recorder) Header() Header { return r.header }

// Observe makes one evaluation at the clock's now: it reads every path
// of Config.Paths, the regions when RegionsEvery has passed since the
// last read, the logs since the last read, and writes a chunk of series
// when SeriesEvery has passed since the last one. What PD or Prometheus
// answered, errors included, is recorded, not returned: Observe fails
// only when writing fails, or ctx ends.
func (r *Recorder) Observe(ctx context.Context) error {
	if r.closed {
		return fmt.Errorf("record: Observe after Close: %w", subject.ErrPrecondition)
	}
	now := r.cfg.Clock.Now()
	if err := r.observePD(ctx, now); err != nil {
		return err
	}
	if r.cfg.RegionsEvery > 0 && (r.regions.reads == 0 && !r.regions.tried || now.Sub(r.regions.at) >= r.cfg.RegionsEvery) {
		if err := r.readRegions(ctx, now); err != nil {
			return err
		}
	}
	if err := r.readLogs(ctx, now); err != nil {
		return err
	}
	if r.cfg.Prometheus != nil && r.seriesDue(now) {
		if err := r.WriteSeries(ctx, r.cfg.Prometheus, now); err != nil {
			return err
		}
	}
	r.sum.Evaluations++
	r.last = now
	r.sum.End = now
	if err := ctx.Err(); err != nil {
		return err
	}
	return r.w.Flush()
}

// Close writes the series of the window not written yet (when
// Config.Prometheus is set) and the end line, and returns the summary.
// It does not close the underlying writer.
func (r *Recorder) Close(ctx context.Context) (Summary, error) {
	if r.closed {
		return r.sum, nil
	}
	var err error
	if r.cfg.Prometheus != nil && !r.last.IsZero() {
		err = r.WriteSeries(ctx, r.cfg.Prometheus, r.last)
	}
	r.closed = true
	if cerr := r.w.Close(r.last); err == nil {
		err = cerr
	}
	r.sum.Entries = r.w.Entries()
	return r.sum, err
}

// Record watches a live cluster for cfg.Duration, evaluating every
// cfg.Interval, and writes one recording to w: nothing of the window is
// held in memory but the last answer's digest per PD path, one digest
// per region, and one chunk of series.
//
// When ctx ends first, the recording is closed where it got to (a whole
// file, its end line at the last evaluation) and ctx's error returned
// with the summary. An error writing w ends the recording there; the
// file then has no end line and reads as [ErrTruncated].
func Record(ctx context.Context, w io.Writer, cfg Config) (Summary, error) {
	r, err := New(w, cfg)
	if err != nil {
		return Summary{}, err
	}
	clock := r.cfg.Clock
	var stop error
	for {
		if stop = r.Observe(ctx); stop != nil {
			break
		}
		next := r.last.Add(r.cfg.Interval)
		if next.After(r.end) {
			break
		}
		if stop = clock.Sleep(ctx, next.Sub(clock.Now())); stop != nil {
			break
		}
	}
	if stop != nil && ctx.Err() == nil {
		// Writing failed: the file cannot be closed whole.
		return r.sum, stop
	}
	// Close with a context of its own: the last series are worth
	// reading even after ctx ended.
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	sum, err := r.Close(cctx)
	return sum, errors.Join(stop, err)
}
