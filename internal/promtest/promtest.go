// Package promtest runs a real Prometheus (Debian's prometheus package)
// for tests: over a TSDB backfilled from OpenMetrics text with promtool,
// or scraping targets the test serves.
//
// Tests call [Require] first: it skips when prometheus or promtool is not
// installed, and fails instead when the environment variable CI is "true",
// so that CI cannot pass by skipping.
package promtest

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kvops/operator/internal/needs"
	"github.com/kvops/operator/internal/promrun"
	"github.com/prometheus/client_golang/api"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
)

// Require skips t when prometheus or promtool is missing from PATH, or
// fails it when CI=true.
func Require(t testing.TB) {
	t.Helper()
	for _, b := range []string{"prometheus", "promtool"} {
		if _, err := exec.LookPath(b); err != nil {
			needs.Missing(t, fmt.Errorf("promtest: %s not found in PATH (install Debian's prometheus package; scripts/test does): %w", b, err))
			return
		}
	}
}

// Prometheus is a running Prometheus server.
type Prometheus struct {
	// URL is its base URL, such as http://127.0.0.1:41234, or https://
	// with WithTLS.
	URL string
	// RootCAs trusts the certificate Prometheus serves with WithTLS; nil
	// otherwise.
	RootCAs *x509.CertPool
	// ClientCert is a client certificate Prometheus accepts with
	// WithClientAuth; nil otherwise.
	ClientCert *tls.Certificate
	// DataDir is its TSDB directory.
	DataDir string

	srv *promrun.Server
	own string // the directory StartShared backfilled, removed by Stop
}

// Option configures Start.
type Option func(*promrun.Config)

// WithDataDir serves the TSDB in dir, such as one Backfill filled. By
// default Prometheus starts on an empty t.TempDir.
func WithDataDir(dir string) Option { return func(c *promrun.Config) { c.DataDir = dir } }

// WithScrape makes Prometheus scrape the given host:port targets under the
// given job name every interval (at least 1s is sensible).
func WithScrape(job string, interval time.Duration, targets ...string) Option {
	return func(c *promrun.Config) { c.Job, c.Interval, c.Targets = job, interval, targets }
}

// WithRemoteRead adds a remote_read endpoint, queried for recent data too.
// Pointed at an address where nothing listens, it makes every query answer
// with a warning, as Prometheus turns a failed remote read into one.
func WithRemoteRead(url string) Option { return func(c *promrun.Config) { c.RemoteRead = url } }

// WithTLS makes Prometheus serve HTTPS only, with a certificate for
// 127.0.0.1 that Prometheus.RootCAs trusts.
func WithTLS() Option { return func(c *promrun.Config) { c.TLS = true } }

// WithClientAuth makes Prometheus serve HTTPS only (as WithTLS) and
// require a client certificate from its authority: mutual TLS.
// Prometheus.ClientCert holds one it accepts.
func WithClientAuth() Option {
	return func(c *promrun.Config) { c.TLS, c.ClientAuth = true, true }
}

// WithReadyTimeout bounds how long Start waits for Prometheus to be
// ready; default 60s.
func WithReadyTimeout(d time.Duration) Option { return func(c *promrun.Config) { c.ReadyTimeout = d } }

// Start runs prometheus on a free loopback port, waits until /-/ready
// answers, and stops it when the test ends. It fails the test if
// Prometheus does not become ready in time, showing its output.
func Start(t testing.TB, opts ...Option) *Prometheus {
	t.Helper()
	Require(t)
	var cfg promrun.Config
	for _, opt := range opts {
		opt(&cfg)
	}
	if cfg.DataDir == "" {
		cfg.DataDir = t.TempDir()
	}
	srv, err := promrun.Start(context.Background(), cfg)
	if err != nil {
		t.Fatalf("promtest: %v", err)
	}
	t.Cleanup(func() {
		srv.Stop()
		if t.Failed() {
			t.Logf("promtest: prometheus output:\n%s", srv.Output())
		}
	})
	return &Prometheus{URL: srv.URL, RootCAs: srv.RootCAs, ClientCert: srv.ClientCert, DataDir: srv.DataDir, srv: srv}
}

// StartShared runs prometheus, as Start does, over a TSDB backfilled from
// the OpenMetrics text (as Backfill does; none when it is empty), for the
// tests of a package that only read from it: one server started once
// instead of one per test. It is bound to no test, so a failure is
// returned, not reported; the caller calls Stop, such as from TestMain
// after m.Run.
func StartShared(openMetrics string, opts ...Option) (*Prometheus, error) {
	dir, err := os.MkdirTemp("", "promtest-")
	if err != nil {
		return nil, fmt.Errorf("promtest: %w", err)
	}
	fail := func(err error) (*Prometheus, error) {
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("promtest: %w", err)
	}
	data := filepath.Join(dir, "data")
	if openMetrics != "" {
		if err := backfill(dir, data, openMetrics); err != nil {
			return fail(err)
		}
	}
	cfg := promrun.Config{DataDir: data}
	for _, opt := range opts {
		opt(&cfg)
	}
	srv, err := promrun.Start(context.Background(), cfg)
	if err != nil {
		return fail(err)
	}
	return &Prometheus{URL: srv.URL, RootCAs: srv.RootCAs, ClientCert: srv.ClientCert, DataDir: srv.DataDir, srv: srv, own: dir}, nil
}

// Stop stops a Prometheus that StartShared started and removes its data.
// (One that Start started stops when its test ends.)
func (p *Prometheus) Stop() {
	p.srv.Stop()
	if p.own != "" {
		_ = os.RemoveAll(p.own)
	}
}

// ConfigYAML returns the prometheus.yml that Start writes for opts.
func ConfigYAML(opts ...Option) string {
	var cfg promrun.Config
	for _, opt := range opts {
		opt(&cfg)
	}
	return promrun.ConfigYAML(cfg)
}

// Backfill writes the OpenMetrics text (which must end with "# EOF";
// timestamps in seconds) to a file and turns it into TSDB blocks in dir
// with "promtool tsdb create-blocks-from openmetrics". Start Prometheus
// on dir afterwards with WithDataDir.
func Backfill(t testing.TB, dir, openMetrics string) {
	t.Helper()
	Require(t)
	if err := backfill(t.TempDir(), dir, openMetrics); err != nil {
		t.Fatalf("promtest: %v", err)
	}
}

// backfill writes the OpenMetrics text to a file in tmp and turns it into
// TSDB blocks in dir.
func backfill(tmp, dir, openMetrics string) error {
	if !strings.HasSuffix(strings.TrimRight(openMetrics, "\n"), "# EOF") {
		return errors.New("OpenMetrics input must end with \"# EOF\"")
	}
	in := filepath.Join(tmp, "backfill.om")
	if err := os.WriteFile(in, []byte(openMetrics), 0o600); err != nil {
		return fmt.Errorf("write backfill input: %w", err)
	}
	if err := promrun.Backfill(context.Background(), in, dir); err != nil {
		return err
	}
	return nil
}

// WaitFor polls query (an instant query at the current time) until it
// returns at least one series, or fails the test after timeout. It is for
// data Prometheus scrapes: the wait is bounded and ends as soon as the
// data is there.
func (p *Prometheus) WaitFor(t testing.TB, query string, timeout time.Duration) {
	t.Helper()
	c, err := api.NewClient(api.Config{Address: p.URL, Client: p.srv.HTTPClient()})
	if err != nil {
		t.Fatalf("promtest: %v", err)
	}
	prom := v1.NewAPI(c)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	backoff := 50 * time.Millisecond
	var last string
	for {
		v, _, _, err := prom.Query(ctx, query, time.Now())
		if vec, ok := v.(model.Vector); err == nil && ok && len(vec) > 0 {
			return
		}
		last = fmt.Sprintf("%v, error %v", v, err)
		select {
		case <-ctx.Done():
			t.Fatalf("promtest: %s gave no series within %v (last: %s)", query, timeout, last)
		case <-time.After(backoff):
			backoff = min(2*backoff, 500*time.Millisecond)
		}
	}
}
