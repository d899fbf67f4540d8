// Package amtest runs a real Alertmanager (Debian's prometheus-alertmanager
// package) on loopback for tests, with clustering off and a webhook
// receiver that records what Alertmanager notifies.
//
// Tests call [Require] first (Start does): it skips when the binary is not
// installed, and fails instead when the environment variable CI is "true",
// so that CI cannot pass by skipping.
//
// # Ports
//
// The harness listens on 127.0.0.1:0 itself and hands the listening socket
// to Alertmanager through systemd socket activation
// (--web.systemd-socket: the socket is file descriptor 3, LISTEN_FDS=1 and
// LISTEN_PID the child's pid, which a shell sets with $$ before it execs
// the binary). Nothing picks a port, closes it and hopes it is still free:
// the socket is bound once and held by the test for its whole life, so
// [Alertmanager.Restart] brings the server back on the same address, and
// no other process can take it meanwhile. While it is down
// ([Alertmanager.Stop]) the harness itself accepts each connection and
// closes it unread, as a host with nothing listening refuses it: a request
// fails at once, and none waits in the socket's backlog to be served by
// the next run.
package amtest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kvops/operator/internal/needs"
	"github.com/kvops/operator/internal/syncbuf"
)

// Binaries are the names the Alertmanager binary goes by: Debian's package
// installs prometheus-alertmanager, upstream's tarball alertmanager.
var Binaries = []string{"prometheus-alertmanager", "alertmanager"}

// ErrNotInstalled says that no Alertmanager binary is on PATH.
var ErrNotInstalled = errors.New("amtest: no Alertmanager binary in PATH (install Debian's prometheus-alertmanager package; scripts/test does)")

// Binary returns the path of the Alertmanager binary, or ErrNotInstalled.
func Binary() (string, error) {
	for _, b := range Binaries {
		if p, err := exec.LookPath(b); err == nil {
			return p, nil
		}
	}
	return "", ErrNotInstalled
}

// Require skips t when Alertmanager is not installed, or fails it when
// CI=true.
func Require(t testing.TB) {
	t.Helper()
	if _, err := Binary(); err != nil {
		needs.Missing(t, err)
	}
}

// Alertmanager is a running Alertmanager.
type Alertmanager struct {
	// URL is its base URL, such as http://127.0.0.1:41234.
	URL string

	t      testing.TB
	bin    string
	args   []string
	sock   *os.File // the listening socket, handed to every run
	ln     net.Listener
	hook   *httptest.Server
	mu     sync.Mutex
	notes  []Notification
	noted  chan struct{} // closed and replaced on each notification
	cmd    *exec.Cmd
	exited chan struct{}
	out    *syncbuf.Buffer

	refusing chan struct{} // closed when the refusing loop has returned; nil when none runs
}

// readyTimeout bounds how long Start and Restart wait for /-/ready.
const readyTimeout = 60 * time.Second

// Start runs Alertmanager on a loopback socket of its own, waits until
// /-/ready answers, and stops it when the test ends. Its route sends every
// alert, grouped by all its labels, to a webhook the harness serves, at
// once (group_wait 0s, group_interval 1s), resolved ones too: see
// [Alertmanager.Notifications].
func Start(t testing.TB) *Alertmanager {
	t.Helper()
	Require(t)
	bin, err := Binary()
	if err != nil {
		t.Fatal(err)
	}
	a := &Alertmanager{t: t, bin: bin, noted: make(chan struct{})}
	a.hook = httptest.NewServer(http.HandlerFunc(a.serveHook))
	t.Cleanup(a.hook.Close)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("amtest: %v", err)
	}
	a.ln = ln
	t.Cleanup(func() { _ = ln.Close() })
	sock, err := ln.(*net.TCPListener).File()
	if err != nil {
		t.Fatalf("amtest: %v", err)
	}
	a.sock = sock
	t.Cleanup(func() { _ = sock.Close() })
	a.URL = "http://" + ln.Addr().String()

	dir := t.TempDir()
	cfg := filepath.Join(dir, "alertmanager.yml")
	if err := os.WriteFile(cfg, []byte(configYAML(a.hook.URL+"/hook")), 0o600); err != nil {
		t.Fatalf("amtest: %v", err)
	}
	a.args = []string{
		"--config.file=" + cfg,
		"--storage.path=" + filepath.Join(dir, "data"),
		"--web.systemd-socket",
		"--web.external-url=" + a.URL,
		"--cluster.listen-address=",
		"--log.level=warn",
	}
	t.Cleanup(func() {
		a.kill()
		a.stopRefusing()
		if t.Failed() {
			t.Logf("amtest: alertmanager output:\n%s", a.out.String())
		}
	})
	a.start()
	return a
}

// configYAML routes every alert to the webhook at once.
func configYAML(hook string) string {
	return fmt.Sprintf(`route:
  receiver: hook
  group_by: ["..."]
  group_wait: 0s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: hook
    webhook_configs:
      - url: %q
        send_resolved: true
`, hook)
}

// start runs the binary on the held socket and waits for /-/ready.
func (a *Alertmanager) start() {
	a.t.Helper()
	a.stopRefusing()
	a.out = &syncbuf.Buffer{}
	// The shell's $$ is its own pid, which exec keeps: the pid that
	// socket activation checks LISTEN_PID against.
	cmd := exec.Command("/bin/sh", append([]string{"-c", `LISTEN_PID=$$ LISTEN_FDS=1 exec "$0" "$@"`, a.bin}, a.args...)...)
	cmd.Env = slices.DeleteFunc(os.Environ(), func(kv string) bool {
		return strings.HasPrefix(kv, "LISTEN_")
	})
	cmd.ExtraFiles = []*os.File{a.sock}
	cmd.Stdout, cmd.Stderr = a.out, a.out
	if err := cmd.Start(); err != nil {
		a.t.Fatalf("amtest: start %s: %v", a.bin, err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	a.cmd, a.exited = cmd, exited

	ctx, cancel := context.WithTimeout(context.Background(), readyTimeout)
	defer cancel()
	backoff := 20 * time.Millisecond
	for {
		if a.ready(ctx) {
			return
		}
		select {
		case <-exited:
			a.t.Fatalf("amtest: alertmanager exited before it was ready:\n%s", a.out.String())
		case <-ctx.Done():
			a.kill()
			a.t.Fatalf("amtest: alertmanager not ready after %v:\n%s", readyTimeout, a.out.String())
		case <-time.After(backoff):
			backoff = min(2*backoff, 500*time.Millisecond)
		}
	}
}

func (a *Alertmanager) ready(ctx context.Context) bool {
	// A short bound per probe: before Alertmanager accepts, a request
	// waits in the socket's backlog.
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.URL+"/-/ready", nil)
	if err != nil {
		return false
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

func (a *Alertmanager) kill() {
	if a.cmd == nil {
		return
	}
	_ = a.cmd.Process.Kill()
	<-a.exited
	a.cmd = nil
}

// Stop kills Alertmanager and waits for it to exit. The socket stays
// bound, and until [Alertmanager.Restart] every connection to it is closed
// unread, so a request fails at once. It is safe to call more than once.
func (a *Alertmanager) Stop() {
	a.kill()
	if a.refusing != nil {
		return
	}
	done := make(chan struct{})
	a.refusing = done
	go func() {
		defer close(done)
		for {
			c, err := a.ln.Accept()
			if err != nil {
				// The deadline stopRefusing sets, or the listener closed
				// at the end of the test.
				return
			}
			_ = c.Close()
		}
	}()
}

// stopRefusing ends Stop's accept loop, if it runs, before another process
// takes the socket.
func (a *Alertmanager) stopRefusing() {
	if a.refusing == nil {
		return
	}
	tl := a.ln.(*net.TCPListener)
	_ = tl.SetDeadline(time.Now())
	<-a.refusing
	_ = tl.SetDeadline(time.Time{})
	a.refusing = nil
}

// Restart kills Alertmanager, if it runs, and starts it again on the same
// socket and storage. Alertmanager keeps alerts in memory only, so the
// new one knows none of the old one's alerts.
func (a *Alertmanager) Restart() {
	a.t.Helper()
	a.kill()
	a.start()
}

// Output returns what the current run of Alertmanager has printed.
func (a *Alertmanager) Output() string { return a.out.String() }

// Alert is an alert as Alertmanager's API v2 lists it (gettableAlert).
type Alert struct {
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       time.Time         `json:"endsAt"`
	UpdatedAt    time.Time         `json:"updatedAt"`
	GeneratorURL string            `json:"generatorURL"`
	Fingerprint  string            `json:"fingerprint"`
	Status       struct {
		State string `json:"state"`
	} `json:"status"`
}

// Alerts returns the alerts Alertmanager holds and has not seen end
// (GET /api/v2/alerts): a resolved alert is not listed.
func (a *Alertmanager) Alerts(ctx context.Context) ([]Alert, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.URL+"/api/v2/alerts", nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("amtest: GET /api/v2/alerts: %s: %s", resp.Status, body)
	}
	var out []Alert
	if err := json.Unmarshal(body, &out); err != nil {
		return nil, fmt.Errorf("amtest: GET /api/v2/alerts: %w", err)
	}
	return out, nil
}

// WaitAlerts polls GET /api/v2/alerts until done accepts the list, for at
// most timeout, and returns the last list. It fails the test on timeout.
// Alertmanager lists an alert as soon as POST /api/v2/alerts has answered;
// the polling covers the notification side, which runs on its own
// schedule.
func (a *Alertmanager) WaitAlerts(t testing.TB, timeout time.Duration, done func([]Alert) bool) []Alert {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var last []Alert
	var lastErr error
	for {
		last, lastErr = a.Alerts(ctx)
		if lastErr == nil && done(last) {
			return last
		}
		select {
		case <-ctx.Done():
			t.Fatalf("amtest: alerts not as expected after %v (last error %v): %+v", timeout, lastErr, last)
			return nil
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Notification is one webhook call of Alertmanager (its webhook payload,
// version 4).
type Notification struct {
	Status string `json:"status"`
	Alerts []struct {
		Status      string            `json:"status"`
		Labels      map[string]string `json:"labels"`
		Annotations map[string]string `json:"annotations"`
		StartsAt    time.Time         `json:"startsAt"`
		EndsAt      time.Time         `json:"endsAt"`
	} `json:"alerts"`
}

func (a *Alertmanager) serveHook(w http.ResponseWriter, r *http.Request) {
	var n Notification
	if err := json.NewDecoder(r.Body).Decode(&n); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	a.mu.Lock()
	a.notes = append(a.notes, n)
	close(a.noted)
	a.noted = make(chan struct{})
	a.mu.Unlock()
}

// Notifications returns the webhook calls received so far, oldest first.
func (a *Alertmanager) Notifications() []Notification {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.notes)
}

// WaitNotification waits until a webhook call that match accepts has
// arrived, for at most timeout, and returns it. It fails the test on
// timeout.
func (a *Alertmanager) WaitNotification(t testing.TB, timeout time.Duration, match func(Notification) bool) Notification {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	seen := 0
	for {
		a.mu.Lock()
		notes, noted := a.notes[seen:], a.noted
		seen = len(a.notes)
		a.mu.Unlock()
		for _, n := range notes {
			if match(n) {
				return n
			}
		}
		select {
		case <-noted:
		case <-deadline.C:
			t.Fatalf("amtest: no matching notification after %v; got %+v", timeout, a.Notifications())
			return Notification{}
		}
	}
}
