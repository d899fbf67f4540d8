// Package promtest runs a real Prometheus (Debian's prometheus package)
// for tests: over a TSDB backfilled from OpenMetrics text with promtool,
// or scraping targets the test serves.
//
// Tests call [Require] first: it skips when prometheus or promtool is not
// installed, and fails instead when the environment variable CI is "true",
// so that CI cannot pass by skipping.
package promtest

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

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
			msg := fmt.Sprintf("promtest: %s not found in PATH (install Debian's prometheus package; scripts/test does): %v", b, err)
			if os.Getenv("CI") == "true" {
				t.Fatal(msg)
			} else {
				t.Skip(msg)
			}
			return
		}
	}
}

// Prometheus is a running Prometheus server.
type Prometheus struct {
	// URL is its base URL, such as http://127.0.0.1:41234, or https://
	// with WithTLS.
	URL string
	// RootCAs holds the certificate Prometheus serves with WithTLS; nil
	// otherwise.
	RootCAs *x509.CertPool
	// DataDir is its TSDB directory.
	DataDir string
}

type options struct {
	tls        bool
	remoteRead string
	dataDir    string
	targets    []string
	job        string
	interval   time.Duration
	ready      time.Duration
}

// Option configures Start.
type Option func(*options)

// WithDataDir serves the TSDB in dir, such as one Backfill filled. By
// default Prometheus starts on an empty t.TempDir.
func WithDataDir(dir string) Option { return func(o *options) { o.dataDir = dir } }

// WithScrape makes Prometheus scrape the given host:port targets under the
// given job name every interval (at least 1s is sensible).
func WithScrape(job string, interval time.Duration, targets ...string) Option {
	return func(o *options) { o.job, o.interval, o.targets = job, interval, targets }
}

// WithRemoteRead adds a remote_read endpoint, queried for recent data too.
// Pointed at an address where nothing listens, it makes every query answer
// with a warning, as Prometheus turns a failed remote read into one.
func WithRemoteRead(url string) Option { return func(o *options) { o.remoteRead = url } }

// WithTLS makes Prometheus serve HTTPS only, with a self-signed
// certificate for 127.0.0.1 that Prometheus.RootCAs trusts.
func WithTLS() Option { return func(o *options) { o.tls = true } }

// WithReadyTimeout bounds how long Start waits for Prometheus to be
// ready; default 60s.
func WithReadyTimeout(d time.Duration) Option { return func(o *options) { o.ready = d } }

// Start runs prometheus on a free loopback port, waits until /-/ready
// answers, and stops it when the test ends. It fails the test if
// Prometheus does not become ready in time, showing its output.
func Start(t testing.TB, opts ...Option) *Prometheus {
	t.Helper()
	Require(t)
	o := options{ready: 60 * time.Second}
	for _, opt := range opts {
		opt(&o)
	}
	if o.dataDir == "" {
		o.dataDir = t.TempDir()
	}
	cfgPath := filepath.Join(t.TempDir(), "prometheus.yml")
	if err := os.WriteFile(cfgPath, []byte(config(o)), 0o600); err != nil {
		t.Fatalf("promtest: write config: %v", err)
	}
	var webArgs []string
	var roots *x509.CertPool
	if o.tls {
		dir := t.TempDir()
		var err error
		if roots, err = selfSigned(dir); err != nil {
			t.Fatalf("promtest: %v", err)
		}
		web := filepath.Join(dir, "web.yml")
		webCfg := fmt.Sprintf("tls_server_config:\n  cert_file: %q\n  key_file: %q\n", filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem"))
		if err := os.WriteFile(web, []byte(webCfg), 0o600); err != nil {
			t.Fatalf("promtest: write web config: %v", err)
		}
		webArgs = append(webArgs, "--web.config.file="+web)
	}
	// Another process may take the port between our probe and
	// Prometheus' bind: try a few ports before giving up.
	var lastErr error
	for range 3 {
		p, err := start(t, o, cfgPath, webArgs, roots)
		if err == nil {
			return p
		}
		lastErr = err
		if !errors.Is(err, errExited) {
			break
		}
	}
	t.Fatalf("promtest: %v", lastErr)
	return nil
}

var errExited = errors.New("prometheus exited before it was ready")

// lockedBuffer collects a process's output while tests read it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func start(t testing.TB, o options, cfgPath string, extraArgs []string, roots *x509.CertPool) (*Prometheus, error) {
	addr, err := freePort()
	if err != nil {
		return nil, err
	}
	out := &lockedBuffer{}
	args := append([]string{
		"--config.file=" + cfgPath,
		"--storage.tsdb.path=" + o.dataDir,
		"--storage.tsdb.retention.time=30d",
		"--web.listen-address=" + addr,
		"--log.level=warn",
	}, extraArgs...)
	cmd := exec.Command("prometheus", args...)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start prometheus: %w", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	stop := func() {
		_ = cmd.Process.Kill()
		<-exited
	}
	p := &Prometheus{URL: "http://" + addr, DataDir: o.dataDir, RootCAs: roots}
	if roots != nil {
		p.URL = "https://" + addr
	}
	hc := p.httpClient()
	ctx, cancel := context.WithTimeout(context.Background(), o.ready)
	defer cancel()
	backoff := 20 * time.Millisecond
	for {
		if ready(ctx, hc, p.URL) {
			t.Cleanup(func() {
				stop()
				if t.Failed() {
					t.Logf("promtest: prometheus output:\n%s", out.String())
				}
			})
			return p, nil
		}
		select {
		case <-exited:
			return nil, fmt.Errorf("%w on %s:\n%s", errExited, addr, out.String())
		case <-ctx.Done():
			stop()
			return nil, fmt.Errorf("prometheus on %s not ready after %v:\n%s", addr, o.ready, out.String())
		case <-time.After(backoff):
			backoff = min(2*backoff, 500*time.Millisecond)
		}
	}
}

// httpClient returns a client that trusts the server's certificate.
func (p *Prometheus) httpClient() *http.Client {
	if p.RootCAs == nil {
		return http.DefaultClient
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: p.RootCAs}
	return &http.Client{Transport: tr}
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

// freePort returns a loopback address no one listens on right now.
func freePort() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("find a free port: %w", err)
	}
	addr := l.Addr().String()
	return addr, l.Close()
}

// FreeAddr returns a loopback host:port that nothing listens on, for tests
// of an unreachable server.
func FreeAddr(t testing.TB) string {
	t.Helper()
	addr, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	return addr
}

// ConfigYAML returns the prometheus.yml that Start writes for opts.
func ConfigYAML(opts ...Option) string {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	return config(o)
}

func config(o options) string {
	var b strings.Builder
	b.WriteString("global:\n  evaluation_interval: 1m\n")
	if o.remoteRead != "" {
		fmt.Fprintf(&b, "remote_read:\n  - url: %q\n    read_recent: true\n    remote_timeout: 5s\n", o.remoteRead)
	}
	if len(o.targets) == 0 {
		return b.String()
	}
	fmt.Fprintf(&b, "scrape_configs:\n  - job_name: %q\n    scrape_interval: %s\n    scrape_timeout: %s\n    static_configs:\n      - targets: [", o.job, o.interval, o.interval)
	for i, tg := range o.targets {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%q", tg)
	}
	b.WriteString("]\n")
	return b.String()
}

// Backfill writes the OpenMetrics text (which must end with "# EOF";
// timestamps in seconds) to a file and turns it into TSDB blocks in dir
// with "promtool tsdb create-blocks-from openmetrics". Start Prometheus
// on dir afterwards with WithDataDir.
func Backfill(t testing.TB, dir, openMetrics string) {
	t.Helper()
	Require(t)
	if !strings.HasSuffix(strings.TrimRight(openMetrics, "\n"), "# EOF") {
		t.Fatal("promtest: OpenMetrics input must end with \"# EOF\"")
	}
	in := filepath.Join(t.TempDir(), "backfill.om")
	if err := os.WriteFile(in, []byte(openMetrics), 0o600); err != nil {
		t.Fatalf("promtest: write backfill input: %v", err)
	}
	out, err := exec.Command("promtool", "tsdb", "create-blocks-from", "openmetrics", in, dir).CombinedOutput()
	if err != nil {
		t.Fatalf("promtest: promtool tsdb create-blocks-from openmetrics: %v\n%s", err, out)
	}
}

// WaitFor polls query (an instant query at the current time) until it
// returns at least one series, or fails the test after timeout. It is for
// data Prometheus scrapes: the wait is bounded and ends as soon as the
// data is there.
func (p *Prometheus) WaitFor(t testing.TB, query string, timeout time.Duration) {
	t.Helper()
	c, err := api.NewClient(api.Config{Address: p.URL, Client: p.httpClient()})
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

// selfSigned writes cert.pem and key.pem for 127.0.0.1 into dir and
// returns a pool that trusts the certificate.
func selfSigned(dir string) (*x509.CertPool, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "promtest"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:                  true,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, err
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	if err := os.WriteFile(filepath.Join(dir, "cert.pem"), certPEM, 0o600); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "key.pem"), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(certPEM)
	return pool, nil
}
