package tikvtest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/kvops/operator/internal/needs"
	"github.com/kvops/operator/internal/promrun"
	"github.com/kvops/operator/subject"
)

// ErrNoPrometheus is returned by [Cluster.StartPrometheus] and
// [BackfillPrometheus] when no prometheus binary (or, to backfill, no
// promtool) is on PATH (Debian's prometheus package installs both). It
// matches subject.ErrNotSupported.
var ErrNoPrometheus = fmt.Errorf("tikvtest: prometheus not found in PATH: %w", subject.ErrNotSupported)

// Prometheus is a real Prometheus server, run as a child process,
// scraping a test cluster's stores and PD members, or serving a
// backfilled [History].
type Prometheus struct {
	// URL is its base URL ("http://127.0.0.1:port"), for
	// promclient.Config.Address.
	URL string

	srv *promrun.Server
	own string // the directory BackfillPrometheus made, removed by Stop
}

// StartPrometheus runs the prometheus binary on PATH on a free loopback
// port, scraping every store's metrics endpoint ([Cluster.ScrapeTargets]
// as of the call, so start it after [Cluster.Start]) every interval (one
// second if zero) under job name "tikv", which the library's queries
// select, and every PD member's ([Cluster.PDScrapeTargets]) under job
// name "pd", which PD's alert rules select. It returns once Prometheus
// answers /-/ready; the caller must call [Prometheus.Stop]. A stopped
// store keeps its address, so Prometheus scrapes it again once it starts.
//
// Errors: [ErrNoPrometheus] when the binary is missing;
// subject.ErrPrecondition before [Cluster.Start]; otherwise
// Prometheus did not start or did not become ready (its output is in the
// error).
func (c *Cluster) StartPrometheus(ctx context.Context, interval time.Duration) (*Prometheus, error) {
	if interval <= 0 {
		interval = time.Second
	}
	targets := c.ScrapeTargets()
	if len(targets) == 0 {
		return nil, fmt.Errorf("tikvtest: StartPrometheus before Start, no store listens: %w", subject.ErrPrecondition)
	}
	srv, err := promrun.Start(ctx, promrun.Config{Job: "tikv", Interval: interval, Targets: targets,
		Jobs: []promrun.Job{{Name: "pd", Targets: c.PDScrapeTargets()}}})
	if errors.Is(err, promrun.ErrNotInstalled) {
		return nil, fmt.Errorf("%w (%w)", ErrNoPrometheus, err)
	}
	if err != nil {
		return nil, fmt.Errorf("tikvtest: start prometheus: %w", err)
	}
	return &Prometheus{URL: srv.URL, srv: srv}, nil
}

// Stop kills Prometheus and removes its data. Stopping twice does
// nothing.
func (p *Prometheus) Stop() {
	p.srv.Stop()
	if p.own != "" {
		_ = os.RemoveAll(p.own)
	}
}

// NewPrometheus starts Prometheus for a test, as [Cluster.StartPrometheus]
// does, and stops it with t.Cleanup. When prometheus is not installed it
// skips the test, or fails it when the environment variable CI is "true",
// so that CI cannot pass by skipping.
func NewPrometheus(t testing.TB, c *Cluster) *Prometheus {
	t.Helper()
	return forTest(t, func() (*Prometheus, error) { return c.StartPrometheus(t.Context(), time.Second) })
}

// forTest starts a Prometheus for a test with start, skipping (or, with
// CI=true, failing) when prometheus or promtool is missing, and stops it
// with t.Cleanup.
func forTest(t testing.TB, start func() (*Prometheus, error)) *Prometheus {
	t.Helper()
	p, err := start()
	switch {
	case errors.Is(err, ErrNoPrometheus):
		needs.Missing(t, fmt.Errorf("tikvtest: %w", err))
		return nil
	case err != nil:
		t.Fatalf("tikvtest: %v", err)
		return nil
	}
	t.Cleanup(p.Stop)
	return p
}

// BackfillPrometheus writes the history into a new TSDB with promtool
// ("promtool tsdb create-blocks-from openmetrics") and runs the prometheus
// binary on it, on a free loopback port, scraping nothing: every query
// reads exactly the history's samples, at any evaluation time (within
// Prometheus' 5-minute lookback of a sample, as for a scraped one). It
// returns once Prometheus answers /-/ready; the caller must call
// [Prometheus.Stop], which removes the TSDB.
//
// Unlike a live scrape, a backfilled series has no staleness marker: a
// store that stopped has up 0 from then on, and its other series keep
// their last sample for the lookback.
//
// Errors: [ErrNoPrometheus] when prometheus or promtool is missing;
// [ErrBadArgument] for an empty history; otherwise promtool refused the
// history or Prometheus did not become ready (their output is in the
// error).
func BackfillPrometheus(ctx context.Context, h *History) (*Prometheus, error) {
	if h == nil || len(h.series) == 0 {
		return nil, fmt.Errorf("%w: the history is empty (Config.RecordMetrics, History.Add)", ErrBadArgument)
	}
	dir, err := os.MkdirTemp("", "tikvtest-history-")
	if err != nil {
		return nil, fmt.Errorf("tikvtest: %w", err)
	}
	fail := func(err error) (*Prometheus, error) {
		_ = os.RemoveAll(dir)
		if errors.Is(err, promrun.ErrNotInstalled) {
			return nil, fmt.Errorf("%w (%w)", ErrNoPrometheus, err)
		}
		return nil, fmt.Errorf("tikvtest: backfill prometheus: %w", err)
	}
	in := filepath.Join(dir, "history.om")
	f, err := os.Create(in)
	if err != nil {
		return fail(err)
	}
	err = h.WriteOpenMetrics(f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fail(err)
	}
	data := filepath.Join(dir, "data")
	if err := promrun.Backfill(ctx, in, data); err != nil {
		return fail(err)
	}
	if err := os.Remove(in); err != nil {
		return fail(err)
	}
	srv, err := promrun.Start(ctx, promrun.Config{DataDir: data})
	if err != nil {
		return fail(err)
	}
	return &Prometheus{URL: srv.URL, srv: srv, own: dir}, nil
}

// NewBackfilledPrometheus starts Prometheus on the history for a test, as
// [BackfillPrometheus] does, and stops it with t.Cleanup. When prometheus
// or promtool is not installed it skips the test, or fails it when the
// environment variable CI is "true".
func NewBackfilledPrometheus(t testing.TB, h *History) *Prometheus {
	t.Helper()
	return forTest(t, func() (*Prometheus, error) { return BackfillPrometheus(t.Context(), h) })
}
