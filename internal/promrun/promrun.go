// Package promrun runs a real Prometheus server (Debian's prometheus
// binary) as a child process: for the examples, which scrape a simulated
// cluster, and, through package promtest, for tests.
package promrun

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/kvops/operator/internal/certs"
)

// Config says how to run Prometheus.
type Config struct {
	// DataDir is the TSDB directory. Empty means a new temporary
	// directory, removed by Stop.
	DataDir string
	// Job, Interval and Targets make Prometheus scrape the host:port
	// targets under the job name every interval (at least 1s is sensible).
	Job      string
	Interval time.Duration
	Targets  []string
	// Jobs are more scrape jobs, each scraped every Interval as well.
	Jobs []Job
	// RemoteRead adds a remote_read endpoint, queried for recent data too.
	// Pointed at an address where nothing listens, it makes every query
	// answer with a warning, as Prometheus turns a failed remote read into
	// one.
	RemoteRead string
	// TLS makes Prometheus serve HTTPS only, with a certificate for
	// 127.0.0.1 issued by a throwaway authority that Server.RootCAs
	// trusts.
	TLS bool
	// ClientAuth, with TLS, makes Prometheus require a client certificate
	// issued by that same authority (web.yml client_auth_type
	// RequireAndVerifyClientCert); Server.ClientCert holds one.
	ClientAuth bool
	// ReadyTimeout bounds how long Start waits for /-/ready (default 60s).
	ReadyTimeout time.Duration
}

// Job is a scrape job: its name and host:port targets.
type Job struct {
	Name    string
	Targets []string
}

// ErrNotInstalled is returned by Start when the prometheus binary is not
// on PATH.
var ErrNotInstalled = errors.New("promrun: prometheus not found in PATH (install Debian's prometheus package)")

// Server is a running Prometheus.
type Server struct {
	// URL is its base URL, such as http://127.0.0.1:41234, or https://
	// with TLS.
	URL string
	// RootCAs trusts the certificate Prometheus serves with TLS; nil
	// otherwise.
	RootCAs *x509.CertPool
	// ClientCert is a client certificate Prometheus accepts with
	// ClientAuth; nil otherwise.
	ClientCert *tls.Certificate
	// DataDir is its TSDB directory.
	DataDir string

	cmd     *exec.Cmd
	exited  chan struct{}
	out     *lockedBuffer
	tmpDirs []string
	once    sync.Once
}

// Start runs prometheus on a loopback port of its own choosing and returns
// once /-/ready answers. Prometheus listens on 127.0.0.1:0 and the port
// is read back from its "Listening on" log line: no port is picked ahead
// and handed on, which another process could take in between (and then
// answer /-/ready in Prometheus' place). The caller must call Stop.
func Start(ctx context.Context, cfg Config) (*Server, error) {
	if _, err := exec.LookPath("prometheus"); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNotInstalled, err)
	}
	if cfg.ReadyTimeout <= 0 {
		cfg.ReadyTimeout = 60 * time.Second
	}
	s := &Server{DataDir: cfg.DataDir}
	tmp, err := os.MkdirTemp("", "promrun-")
	if err != nil {
		return nil, fmt.Errorf("promrun: %w", err)
	}
	s.tmpDirs = append(s.tmpDirs, tmp)
	if s.DataDir == "" {
		s.DataDir = filepath.Join(tmp, "data")
	}
	cfgPath := filepath.Join(tmp, "prometheus.yml")
	if err := os.WriteFile(cfgPath, []byte(configYAML(cfg)), 0o600); err != nil {
		s.cleanup()
		return nil, fmt.Errorf("promrun: write config: %w", err)
	}
	args := []string{
		"--config.file=" + cfgPath,
		"--storage.tsdb.path=" + s.DataDir,
		"--storage.tsdb.retention.time=30d",
		"--web.listen-address=127.0.0.1:0",
		// Info, for the line that gives the port chosen.
		"--log.level=info",
	}
	if cfg.TLS {
		web, err := s.webConfig(tmp, cfg.ClientAuth)
		if err != nil {
			s.cleanup()
			return nil, fmt.Errorf("promrun: %w", err)
		}
		args = append(args, "--web.config.file="+web)
	}
	if err := s.start(ctx, args, cfg.ReadyTimeout); err != nil {
		s.cleanup()
		return nil, fmt.Errorf("promrun: %w", err)
	}
	return s, nil
}

// ErrExited is returned by Start when Prometheus exits before it is
// ready; the error carries its output.
var ErrExited = errors.New("prometheus exited before it was ready")

// listening matches the line Prometheus (through exporter-toolkit) logs
// once its listener is open, with the address it got:
//
//	... msg="Listening on" address=127.0.0.1:40509
//
// The port must be followed by a space or the line's end, so that a line
// half written is not read as a shorter port.
var listening = regexp.MustCompile(`msg="?Listening on"? address=(127\.0\.0\.1:[0-9]+)\s`)

func (s *Server) start(ctx context.Context, args []string, readyTimeout time.Duration) error {
	s.out = newLockedBuffer()
	cmd := exec.Command("prometheus", args...)
	cmd.Stdout, cmd.Stderr = s.out, s.out
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start prometheus: %w", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	s.cmd, s.exited = cmd, exited
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	addr, err := s.out.await(ctx, exited, listening)
	switch {
	case errors.Is(err, errClosed):
		return fmt.Errorf("%w:\n%s", ErrExited, s.out.String())
	case err != nil:
		s.kill()
		return fmt.Errorf("prometheus gave no listening address within %v (%v):\n%s", readyTimeout, err, s.out.String())
	}
	s.URL = "http://" + addr
	if s.RootCAs != nil {
		s.URL = "https://" + addr
	}
	hc := s.HTTPClient()
	backoff := 20 * time.Millisecond
	for {
		if ready(ctx, hc, s.URL) {
			return nil
		}
		select {
		case <-exited:
			return fmt.Errorf("%w on %s:\n%s", ErrExited, addr, s.out.String())
		case <-ctx.Done():
			s.kill()
			return fmt.Errorf("prometheus on %s not ready after %v (%v):\n%s", addr, readyTimeout, ctx.Err(), s.out.String())
		case <-time.After(backoff):
			backoff = min(2*backoff, 500*time.Millisecond)
		}
	}
}

func (s *Server) kill() {
	_ = s.cmd.Process.Kill()
	<-s.exited
}

// Stop kills Prometheus, waits for it to exit and removes the temporary
// directories Start made. It is safe to call more than once.
func (s *Server) Stop() {
	s.once.Do(func() {
		s.kill()
		s.cleanup()
	})
}

func (s *Server) cleanup() {
	for _, d := range s.tmpDirs {
		_ = os.RemoveAll(d)
	}
}

// Output returns what Prometheus has printed so far.
func (s *Server) Output() string { return s.out.String() }

// HTTPClient returns a client that trusts the server's certificate and,
// with ClientAuth, presents ClientCert.
func (s *Server) HTTPClient() *http.Client {
	if s.RootCAs == nil {
		return http.DefaultClient
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: s.RootCAs}
	if s.ClientCert != nil {
		tr.TLSClientConfig.Certificates = []tls.Certificate{*s.ClientCert}
	}
	return &http.Client{Transport: tr}
}

// ErrBackfill is returned by Backfill when promtool refuses the input;
// the error carries promtool's output.
var ErrBackfill = errors.New("promrun: promtool could not backfill")

// Backfill turns the OpenMetrics text in file (timestamps in seconds,
// ending with "# EOF") into TSDB blocks in dir with "promtool tsdb
// create-blocks-from openmetrics". Start Prometheus on dir afterwards
// (Config.DataDir). It fails with ErrNotInstalled when promtool is not on
// PATH.
func Backfill(ctx context.Context, file, dir string) error {
	if _, err := exec.LookPath("promtool"); err != nil {
		return fmt.Errorf("%w: promtool: %v", ErrNotInstalled, err)
	}
	out, err := exec.CommandContext(ctx, "promtool", "tsdb", "create-blocks-from", "openmetrics", file, dir).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%w: %v\n%s", ErrBackfill, err, out)
	}
	return nil
}

// ConfigYAML returns the prometheus.yml that Start writes for cfg.
func ConfigYAML(cfg Config) string { return configYAML(cfg) }

func configYAML(o Config) string {
	var b strings.Builder
	b.WriteString("global:\n  evaluation_interval: 1m\n")
	if o.RemoteRead != "" {
		fmt.Fprintf(&b, "remote_read:\n  - url: %q\n    read_recent: true\n    remote_timeout: 5s\n", o.RemoteRead)
	}
	jobs := o.Jobs
	if len(o.Targets) > 0 {
		jobs = append([]Job{{o.Job, o.Targets}}, jobs...)
	}
	if len(jobs) == 0 {
		return b.String()
	}
	b.WriteString("scrape_configs:\n")
	for _, j := range jobs {
		fmt.Fprintf(&b, "  - job_name: %q\n    scrape_interval: %s\n    scrape_timeout: %s\n    static_configs:\n      - targets: [", j.Name, o.Interval, o.Interval)
		for i, tg := range j.Targets {
			if i > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "%q", tg)
		}
		b.WriteString("]\n")
	}
	return b.String()
}

// lockedBuffer collects a process's output while tests read it, and
// tells a waiter when more has come.
type lockedBuffer struct {
	mu   sync.Mutex
	b    bytes.Buffer
	more chan struct{} // closed and replaced at each write
}

func newLockedBuffer() *lockedBuffer { return &lockedBuffer{more: make(chan struct{})} }

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	close(l.more)
	l.more = make(chan struct{})
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

var errClosed = errors.New("the process exited")

// await returns re's first submatch in the output once it shows, or
// errClosed once done is closed without it, or ctx's error.
func (l *lockedBuffer) await(ctx context.Context, done <-chan struct{}, re *regexp.Regexp) (string, error) {
	for {
		l.mu.Lock()
		m := re.FindSubmatch(l.b.Bytes())
		more := l.more
		l.mu.Unlock()
		if m != nil {
			return string(m[1]), nil
		}
		select {
		case <-more:
		case <-done:
			// The output is complete once the process has exited
			// (cmd.Wait copies it all first): look once more.
			if m := re.FindStringSubmatch(l.String()); m != nil {
				return m[1], nil
			}
			return "", errClosed
		case <-ctx.Done():
			return "", ctx.Err()
		}
	}
}

func ready(ctx context.Context, hc *http.Client, base string) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/-/ready", nil)
	if err != nil {
		return false
	}
	resp, err := hc.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// webConfig issues the certificates TLS needs into dir and writes the
// web.yml that serves them, returning its path.
func (s *Server) webConfig(dir string, clientAuth bool) (string, error) {
	ca, err := certs.NewAuthority("promrun")
	if err != nil {
		return "", err
	}
	srv, err := ca.Server()
	if err != nil {
		return "", err
	}
	certFile, keyFile, err := srv.WriteFiles(dir, "server")
	if err != nil {
		return "", err
	}
	s.RootCAs = ca.Pool()
	webCfg := fmt.Sprintf("tls_server_config:\n  cert_file: %q\n  key_file: %q\n", certFile, keyFile)
	if clientAuth {
		client, err := ca.Client("promrun")
		if err != nil {
			return "", err
		}
		s.ClientCert = &client.TLS
		caFile := filepath.Join(dir, "ca.pem")
		if err := os.WriteFile(caFile, ca.CertPEM, 0o600); err != nil {
			return "", err
		}
		webCfg += fmt.Sprintf("  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: %q\n", caFile)
	}
	web := filepath.Join(dir, "web.yml")
	if err := os.WriteFile(web, []byte(webCfg), 0o600); err != nil {
		return "", fmt.Errorf("write web config: %w", err)
	}
	return web, nil
}
