package tikvtest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/kvops/operator/internal/promrun"
	"github.com/kvops/operator/subject"
)

// ErrNoPrometheus is returned by [Cluster.StartPrometheus] when no
// prometheus binary is on PATH (Debian's prometheus package installs one).
// It matches subject.ErrNotSupported.
var ErrNoPrometheus = fmt.Errorf("tikvtest: prometheus not found in PATH: %w", subject.ErrNotSupported)

// Prometheus is a real Prometheus server, run as a child process, scraping
// a test cluster's stores.
type Prometheus struct {
	// URL is its base URL ("http://127.0.0.1:port"), for
	// promclient.Config.Address.
	URL string

	srv *promrun.Server
}

// StartPrometheus runs the prometheus binary on PATH on a free loopback
// port, scraping every store's metrics endpoint ([Cluster.ScrapeTargets]
// as of the call, so start it after [Cluster.Start]) every interval (one
// second if zero) under job name "tikv", which the library's queries
// select. It returns once Prometheus answers /-/ready; the caller must
// call [Prometheus.Stop]. A stopped store keeps its address, so
// Prometheus scrapes it again once it starts.
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
	srv, err := promrun.Start(ctx, promrun.Config{Job: "tikv", Interval: interval, Targets: targets})
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
func (p *Prometheus) Stop() { p.srv.Stop() }

// NewPrometheus starts Prometheus for a test, as [Cluster.StartPrometheus]
// does, and stops it with t.Cleanup. When prometheus is not installed it
// skips the test, or fails it when the environment variable CI is "true",
// so that CI cannot pass by skipping.
func NewPrometheus(t testing.TB, c *Cluster) *Prometheus {
	t.Helper()
	p, err := c.StartPrometheus(t.Context(), time.Second)
	switch {
	case errors.Is(err, ErrNoPrometheus) && os.Getenv("CI") != "true":
		t.Skipf("tikvtest: %v", err)
		return nil
	case err != nil:
		t.Fatalf("tikvtest: %v", err)
		return nil
	}
	t.Cleanup(p.Stop)
	return p
}
