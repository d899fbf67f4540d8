package promrun

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/kvops/operator/internal/needs"
)

// start runs Prometheus for a test, skipping when it is not installed
// (failing when CI=true).
func start(t *testing.T, cfg Config) *Server {
	t.Helper()
	s, err := Start(t.Context(), cfg)
	if errors.Is(err, ErrNotInstalled) {
		needs.Missing(t, err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	return s
}

// TestStartLetsPrometheusChooseItsPort: Prometheus is told to listen on
// port 0 and the port it got is read back, so no port is chosen ahead and
// handed on (another process could take it in between, and answer in
// Prometheus' place). Prometheus' own flags say what it was given.
func TestStartLetsPrometheusChooseItsPort(t *testing.T) {
	for _, tls := range []bool{false, true} {
		s := start(t, Config{TLS: tls})
		scheme := "http://"
		if tls {
			scheme = "https://"
		}
		if !strings.HasPrefix(s.URL, scheme+"127.0.0.1:") || strings.HasSuffix(s.URL, ":0") {
			t.Fatalf("URL %q: want %s127.0.0.1 and the port Prometheus got", s.URL, scheme)
		}
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, s.URL+"/api/v1/status/flags", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := s.HTTPClient().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var flags struct {
			Data map[string]string `json:"data"`
		}
		err = json.NewDecoder(resp.Body).Decode(&flags)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		if got := flags.Data["web.listen-address"]; got != "127.0.0.1:0" {
			t.Errorf("Prometheus was told to listen on %q, want 127.0.0.1:0 (its own choice)", got)
		}
	}
}

// TestAwaitListening reads the address from the line each Prometheus
// release logs once it listens, and not from a line half written.
func TestAwaitListening(t *testing.T) {
	for _, line := range []string{
		// Prometheus 2.42 (Debian bookworm), logfmt through go-kit.
		`ts=2026-12-07T04:14:27.992Z caller=tls_config.go:232 level=info component=web msg="Listening on" address=127.0.0.1:40509`,
		// Prometheus 3, logfmt through slog.
		`time=2026-12-07T04:14:27.992Z level=INFO source=tls_config.go:347 msg="Listening on" address=127.0.0.1:40509`,
	} {
		b := newLockedBuffer()
		exited := make(chan struct{})
		close(exited) // await looks once, then says the process exited
		_, _ = b.Write([]byte("level=info msg=\"Start listening for connections\" address=127.0.0.1:0\n" + line[:len(line)-3]))
		if a, err := b.await(t.Context(), exited, listening); !errors.Is(err, errClosed) {
			t.Errorf("half a line gave %q, %v; want errClosed", a, err)
		}
		_, _ = b.Write([]byte(line[len(line)-3:] + "\n"))
		if a, err := b.await(t.Context(), exited, listening); err != nil || a != "127.0.0.1:40509" {
			t.Errorf("await gave %q, %v for %s", a, err, line)
		}
	}
}

// TestAwaitEnds: await ends with errClosed when the process exits without
// the line, and with the context's error when it ends first.
func TestAwaitEnds(t *testing.T) {
	b := newLockedBuffer()
	done := make(chan struct{})
	close(done)
	if _, err := b.await(t.Context(), done, listening); !errors.Is(err, errClosed) {
		t.Errorf("exited: %v, want errClosed", err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := b.await(ctx, make(chan struct{}), listening); !errors.Is(err, context.Canceled) {
		t.Errorf("context ended: %v, want Canceled", err)
	}
}
