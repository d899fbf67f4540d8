package alertmanager_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/kvops/operator/invariant"
)

// TestMain fails the package if a test leaves a goroutine behind.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// sent is one alert as a receiver decoded it from a POST.
type sent struct {
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
	StartsAt    time.Time         `json:"startsAt"`
	EndsAt      time.Time         `json:"endsAt"`
}

// receiver stands in for an Alertmanager in unit tests: it records every
// POST /api/v2/alerts and answers with the status that status returns for
// the n-th POST (counting from 0; 200 when status is nil).
type receiver struct {
	*httptest.Server
	mu     sync.Mutex
	posts  [][]sent
	status func(n int) int
	got    chan struct{} // gets a value per POST, if not full
}

func newReceiver(t *testing.T, status func(n int) int) *receiver {
	t.Helper()
	r := &receiver{status: status, got: make(chan struct{}, 100)}
	r.Server = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.Close)
	return r
}

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	if req.Method != http.MethodPost || req.URL.Path != "/api/v2/alerts" || req.Header.Get("Content-Type") != "application/json" {
		http.Error(w, "want POST /api/v2/alerts, application/json", http.StatusNotFound)
		return
	}
	var batch []sent
	if err := json.NewDecoder(req.Body).Decode(&batch); err != nil {
		http.Error(w, err.Error(), http.StatusUnprocessableEntity)
		return
	}
	r.mu.Lock()
	n := len(r.posts)
	r.posts = append(r.posts, batch)
	r.mu.Unlock()
	code := http.StatusOK
	if r.status != nil {
		code = r.status(n)
	}
	w.WriteHeader(code)
	_, _ = w.Write([]byte(`"answer"`))
	select {
	case r.got <- struct{}{}:
	default:
	}
}

// Posts returns the POSTs received so far.
func (r *receiver) Posts() [][]sent {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([][]sent(nil), r.posts...)
}

// all returns the alerts of every POST, in order.
func (r *receiver) all() []sent {
	var out []sent
	for _, p := range r.Posts() {
		out = append(out, p...)
	}
	return out
}

// toggle is an invariant whose findings the test sets.
type toggle struct {
	mu       sync.Mutex
	findings []invariant.Finding
}

func (tg *toggle) set(f ...invariant.Finding) {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	tg.findings = f
}

func (tg *toggle) check(context.Context, time.Time) ([]invariant.Finding, error) {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	return append([]invariant.Finding(nil), tg.findings...), nil
}

// newEvaluator is the one place the tests build an evaluator.
func newEvaluator(t *testing.T, invs ...invariant.Invariant) *invariant.Evaluator {
	t.Helper()
	ev, err := invariant.New(invs, invariant.Config{})
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

// step evaluates at now and hands the evaluator's alerts to update.
func step(t *testing.T, ev *invariant.Evaluator, now time.Time, update func(time.Time, []invariant.Alert) int) int {
	t.Helper()
	if _, err := ev.Evaluate(context.Background(), now); err != nil {
		t.Fatal(err)
	}
	return update(now, ev.Alerts())
}

var t0 = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

// logSignal is a slog handler that hands each record's level to the test,
// so that it can wait for the sender to record a send's outcome.
type logSignal struct{ levels chan slog.Level }

func newLogSignal() *logSignal { return &logSignal{levels: make(chan slog.Level, 100)} }

func (l *logSignal) logger() *slog.Logger { return slog.New(l) }

func (l *logSignal) Enabled(context.Context, slog.Level) bool { return true }

func (l *logSignal) Handle(_ context.Context, r slog.Record) error {
	l.levels <- r.Level
	return nil
}

func (l *logSignal) WithAttrs([]slog.Attr) slog.Handler { return l }

func (l *logSignal) WithGroup(string) slog.Handler { return l }

// wait waits for a record of the level.
func (l *logSignal) wait(t *testing.T, level slog.Level) {
	t.Helper()
	timeout := time.After(30 * time.Second)
	for {
		select {
		case got := <-l.levels:
			if got == level {
				return
			}
		case <-timeout:
			t.Fatalf("no %v record", level)
		}
	}
}
