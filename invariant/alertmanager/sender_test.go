package alertmanager_test

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/stretchr/testify/require"

	"github.com/kvops/operator/invariant"
	"github.com/kvops/operator/invariant/alertmanager"
)

func TestNewRefusesBadConfig(t *testing.T) {
	ok := []string{"http://127.0.0.1:9093"}
	for _, tt := range []struct {
		name string
		cfg  alertmanager.Config
	}{
		{"no URL", alertmanager.Config{}},
		{"not http", alertmanager.Config{URLs: []string{"ftp://x"}}},
		{"no host", alertmanager.Config{URLs: []string{"http://"}}},
		{"credentials", alertmanager.Config{URLs: []string{"http://u:p@x"}}},
		{"query", alertmanager.Config{URLs: []string{"http://x/?a=b"}}},
		{"repeated", alertmanager.Config{URLs: []string{"http://x", "http://x/"}}},
		{"negative interval", alertmanager.Config{URLs: ok, EvaluationInterval: -1}},
		{"negative resend", alertmanager.Config{URLs: ok, ResendDelay: -1}},
		{"negative timeout", alertmanager.Config{URLs: ok, Timeout: -1}},
		{"negative batch", alertmanager.Config{URLs: ok, MaxBatchSize: -1}},
		{"negative capacity", alertmanager.Config{URLs: ok, QueueCapacity: -1}},
		{"bad external label", alertmanager.Config{URLs: ok, ExternalLabels: map[string]string{"a-b": "x"}}},
		{"TLS and RoundTripper", alertmanager.Config{URLs: ok, TLS: &tlsConfig, RoundTripper: http.DefaultTransport}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := alertmanager.New(tt.cfg)
			require.ErrorIs(t, err, alertmanager.ErrInvalid)
		})
	}
}

// TestContract steps an evaluator and a sender minute by minute and checks
// what is sent when, with which times, against Prometheus' rules
// (rules/alerting.go needsSending and sendAlerts; rules/manager.go
// SendAlerts).
func TestContract(t *testing.T) {
	rc := newReceiver(t, nil)
	var tg toggle
	ev := newEvaluator(t, invariant.Invariant{
		Name: "disk_full", Check: tg.check, Grace: 30 * time.Second, Severity: invariant.SeverityWarning,
	})
	snd, err := alertmanager.New(alertmanager.Config{
		URLs: []string{rc.URL}, EvaluationInterval: 15 * time.Second, ResendDelay: time.Minute,
	})
	require.NoError(t, err)
	ctx := context.Background()

	labels := map[string]string{"alertname": "disk_full", "severity": "warning", "key": "store=1", "store": "1"}
	firing := func(at time.Duration) sent {
		return sent{Labels: labels, Annotations: map[string]string{"summary": "disk 97% full"},
			StartsAt: t0.Add(30 * time.Second), EndsAt: t0.Add(at + 4*time.Minute)}
	}
	resolvedAt := t0.Add(3 * time.Minute)
	resolved := sent{Labels: labels, Annotations: map[string]string{"summary": "disk 97% full"},
		StartsAt: t0.Add(30 * time.Second), EndsAt: resolvedAt}

	tg.set(invariant.Finding{Key: "store=1", Message: "disk 97% full", Labels: map[string]string{"store": "1"}})
	for _, st := range []struct {
		at     time.Duration
		clear  bool
		queued int
		want   []sent
	}{
		{at: 0, queued: 0},                // pending: never sent
		{at: 15 * time.Second, queued: 0}, // still pending
		{at: 30 * time.Second, queued: 1, want: []sent{firing(30 * time.Second)}}, // fires: sent at once
		{at: 45 * time.Second, queued: 0},                                         // resend delay not over
		{at: 90 * time.Second, queued: 0},                                         // exactly one resend delay later: not yet (Before)
		{at: 105 * time.Second, queued: 1, want: []sent{firing(105 * time.Second)}},
		{at: 3 * time.Minute, clear: true, queued: 1, want: []sent{resolved}}, // resolved: sent at once with its end
		{at: 3*time.Minute + 15*time.Second, queued: 0},
		{at: 4*time.Minute + 15*time.Second, queued: 1, want: []sent{resolved}}, // re-sent while retained
		{at: 19 * time.Minute, queued: 0},                                       // retention over: dropped by the evaluator, forgotten here
	} {
		if st.clear {
			tg.set()
		}
		before := len(rc.all())
		got := step(t, ev, t0.Add(st.at), snd.Update)
		require.Equal(t, st.queued, got, "queued at %v", st.at)
		require.NoError(t, snd.Flush(ctx))
		if diff := cmp.Diff(st.want, rc.all()[before:], cmpTimes, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("at %v: sent (-want +got):\n%s", st.at, diff)
		}
	}
	s := snd.Stats()
	require.Equal(t, uint64(4), s[0].Sent)
	require.Zero(t, s[0].Queued)
}

var cmpTimes = cmp.Comparer(func(a, b time.Time) bool { return a.Equal(b) })

func TestBatches(t *testing.T) {
	rc := newReceiver(t, nil)
	snd, err := alertmanager.New(alertmanager.Config{URLs: []string{rc.URL}, MaxBatchSize: 256})
	require.NoError(t, err)
	require.Equal(t, 600, snd.Update(t0, firingAlerts(600)))
	require.NoError(t, snd.Flush(context.Background()))
	var sizes []int
	for _, p := range rc.Posts() {
		sizes = append(sizes, len(p))
	}
	require.Equal(t, []int{256, 256, 88}, sizes)
	// In the order they were queued.
	require.Equal(t, "k000", rc.all()[0].Labels["key"])
	require.Equal(t, "k599", rc.all()[599].Labels["key"])
}

// firingAlerts returns n firing alerts of one invariant, keys k000...
func firingAlerts(n int) []invariant.Alert {
	out := make([]invariant.Alert, n)
	for i := range out {
		out[i] = invariant.Alert{
			Invariant: "x", Key: fmt.Sprintf("k%03d", i), State: invariant.StateFiring,
			Severity: invariant.SeverityInfo, FiredAt: t0, FirstSeen: t0, LastSeen: t0,
		}
	}
	return out
}

// TestFailedSendKeepsAlerts: a send that gets a 503 keeps its alerts,
// ahead of newer ones, and the next send delivers them all.
func TestFailedSendKeepsAlerts(t *testing.T) {
	rc := newReceiver(t, func(n int) int {
		if n == 0 {
			return http.StatusServiceUnavailable
		}
		return http.StatusOK
	})
	snd, err := alertmanager.New(alertmanager.Config{URLs: []string{rc.URL}, MaxBatchSize: 2})
	require.NoError(t, err)
	alerts := firingAlerts(3)
	snd.Update(t0, alerts)
	err = snd.Flush(context.Background())
	require.ErrorIs(t, err, alertmanager.ErrUnavailable)
	var se *alertmanager.SendError
	require.ErrorAs(t, err, &se)
	require.Equal(t, http.StatusServiceUnavailable, se.StatusCode)
	require.Equal(t, 2, se.Alerts)
	require.Len(t, rc.Posts(), 1, "a failed send stops the flush for that Alertmanager")
	st := snd.Stats()[0]
	require.Equal(t, 3, st.Queued)
	require.Equal(t, uint64(2), st.Failed)
	require.True(t, st.Failing)
	require.ErrorIs(t, st.LastError, alertmanager.ErrUnavailable)

	// A fourth alert fires meanwhile; the kept ones go first.
	more := firingAlerts(4)
	snd.Update(t0.Add(15*time.Second), more)
	require.NoError(t, snd.Flush(context.Background()))
	var keys []string
	for _, a := range rc.all()[2:] {
		keys = append(keys, a.Labels["key"])
	}
	require.Equal(t, []string{"k000", "k001", "k002", "k003"}, keys)
	require.Equal(t, uint64(4), snd.Stats()[0].Sent)
	require.False(t, snd.Stats()[0].Failing)
}

// TestRejectedAlertsDropped: alerts an Alertmanager refuses as invalid are
// not sent again, and the rest of the queue still goes.
func TestRejectedAlertsDropped(t *testing.T) {
	rc := newReceiver(t, func(n int) int {
		if n == 0 {
			return http.StatusBadRequest
		}
		return http.StatusOK
	})
	snd, err := alertmanager.New(alertmanager.Config{URLs: []string{rc.URL}, MaxBatchSize: 2})
	require.NoError(t, err)
	snd.Update(t0, firingAlerts(3))
	err = snd.Flush(context.Background())
	require.ErrorIs(t, err, alertmanager.ErrInvalid)
	require.NotErrorIs(t, err, alertmanager.ErrUnavailable)
	require.Len(t, rc.Posts(), 2)
	st := snd.Stats()[0]
	require.Equal(t, alertmanager.Stats{URL: rc.URL, Sent: 1, Rejected: 2, LastError: st.LastError, LastErrorAt: t0}, st)
	require.NoError(t, snd.Flush(context.Background()))
	require.Len(t, rc.Posts(), 2, "nothing left to send")
}

// TestQueueDropsOldest: past its capacity a queue drops its oldest alerts
// and counts them; a newer version of a waiting alert replaces it.
func TestQueueDropsOldest(t *testing.T) {
	rc := newReceiver(t, nil)
	snd, err := alertmanager.New(alertmanager.Config{URLs: []string{rc.URL}, QueueCapacity: 3, ResendDelay: time.Minute})
	require.NoError(t, err)
	alerts := firingAlerts(5)
	snd.Update(t0, alerts[:2])
	// k000 again, due after the resend delay: replaces the waiting one.
	snd.Update(t0.Add(2*time.Minute), alerts[:1])
	require.Equal(t, 2, snd.Stats()[0].Queued)
	snd.Update(t0.Add(2*time.Minute), alerts) // k001..k004 are new to it: 5 waiting, 2 over
	st := snd.Stats()[0]
	require.Equal(t, 3, st.Queued)
	require.Equal(t, uint64(2), st.Dropped)
	require.NoError(t, snd.Flush(context.Background()))
	var keys []string
	for _, a := range rc.all() {
		keys = append(keys, a.Labels["key"])
	}
	// Waiting were k001 (oldest), k000 (replaced, so newer), then k002..
	// k004: k001 and k000 are dropped.
	require.Equal(t, []string{"k002", "k003", "k004"}, keys)
	require.Equal(t, t0.Add(2*time.Minute+4*time.Minute), rc.all()[0].EndsAt.UTC())
}

// TestSeveralAlertmanagers: each Alertmanager gets every alert from a
// queue of its own; one that fails does not hold back the other.
func TestSeveralAlertmanagers(t *testing.T) {
	up := newReceiver(t, nil)
	down := newReceiver(t, func(int) int { return http.StatusInternalServerError })
	snd, err := alertmanager.New(alertmanager.Config{URLs: []string{down.URL, up.URL}})
	require.NoError(t, err)
	snd.Update(t0, firingAlerts(2))
	err = snd.Flush(context.Background())
	var se *alertmanager.SendError
	require.ErrorAs(t, err, &se)
	require.Equal(t, down.URL, se.URL)
	require.Len(t, up.all(), 2)
	st := snd.Stats()
	require.Equal(t, []int{2, 0}, []int{st[0].Queued, st[1].Queued})
	require.Equal(t, []uint64{0, 2}, []uint64{st[0].Sent, st[1].Sent})
}

// TestTimeout: an Alertmanager that does not answer within the timeout
// fails the send with a deadline, and the alerts stay queued.
func TestTimeout(t *testing.T) {
	release := make(chan struct{})
	hang := newReceiver(t, func(int) int { <-release; return http.StatusOK })
	defer close(release)
	snd, err := alertmanager.New(alertmanager.Config{URLs: []string{hang.URL}, Timeout: 50 * time.Millisecond})
	require.NoError(t, err)
	snd.Update(t0, firingAlerts(1))
	err = snd.Flush(context.Background())
	require.ErrorIs(t, err, alertmanager.ErrUnavailable)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Equal(t, 1, snd.Stats()[0].Queued)
}

// TestLabelsChangeResolvesOldSet: Alertmanager knows an alert by its
// labels, so when a firing pair's labels change the old set is sent
// resolved beside the new one.
func TestLabelsChangeResolvesOldSet(t *testing.T) {
	rc := newReceiver(t, nil)
	snd, err := alertmanager.New(alertmanager.Config{URLs: []string{rc.URL}})
	require.NoError(t, err)
	a := firingAlerts(1)[0]
	a.Labels = map[string]string{"address": "10.0.0.1:20160"}
	snd.Update(t0, []invariant.Alert{a})
	require.NoError(t, snd.Flush(context.Background()))
	a.Labels = map[string]string{"address": "10.0.0.2:20160"}
	later := t0.Add(2 * time.Minute)
	snd.Update(later, []invariant.Alert{a})
	require.NoError(t, snd.Flush(context.Background()))
	got := rc.all()
	require.Len(t, got, 3)
	require.Equal(t, "10.0.0.1:20160", got[1].Labels["address"])
	require.True(t, got[1].EndsAt.Equal(later), "old set resolved now: %v", got[1].EndsAt)
	require.Equal(t, "10.0.0.2:20160", got[2].Labels["address"])
	require.True(t, got[2].EndsAt.After(later))
}

// TestClockBack: a clock set back does not hold alerts until it catches up
// with the old time.
func TestClockBack(t *testing.T) {
	rc := newReceiver(t, nil)
	snd, err := alertmanager.New(alertmanager.Config{URLs: []string{rc.URL}})
	require.NoError(t, err)
	a := firingAlerts(1)
	a[0].FiredAt = t0.Add(-time.Hour)
	require.Equal(t, 1, snd.Update(t0.Add(time.Hour), a))
	require.Equal(t, 0, snd.Update(t0, a), "an hour back: last sent moves to now")
	require.Equal(t, 1, snd.Update(t0.Add(61*time.Second), a), "due one resend delay later, not an hour")
}

// TestRun: Run sends what Update queues, with no call of Flush, and stops
// with its context.
func TestRun(t *testing.T) {
	rc := newReceiver(t, nil)
	snd, err := alertmanager.New(alertmanager.Config{URLs: []string{rc.URL}})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- snd.Run(ctx) }()
	snd.Update(t0, firingAlerts(2))
	select {
	case <-rc.got:
	case <-time.After(30 * time.Second):
		t.Fatal("Run sent nothing")
	}
	require.Len(t, rc.all(), 2)
	cancel()
	require.ErrorIs(t, <-done, context.Canceled)
}

// TestRunRetriesAtNextUpdate: with Run, alerts whose send failed go out at
// the next Update, though nothing new is due.
func TestRunRetriesAtNextUpdate(t *testing.T) {
	rc := newReceiver(t, func(n int) int {
		if n == 0 {
			return http.StatusBadGateway
		}
		return http.StatusOK
	})
	logs := newLogSignal()
	snd, err := alertmanager.New(alertmanager.Config{URLs: []string{rc.URL}, Logger: logs.logger()})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- snd.Run(ctx) }()
	defer func() { cancel(); <-done }()
	alerts := firingAlerts(1)
	snd.Update(t0, alerts)
	// The sender logs the outcome of a send while it records it, under
	// the lock Update takes: once the record is logged, Update sees the
	// alert back in the queue.
	logs.wait(t, slog.LevelWarn)
	require.Equal(t, uint64(1), snd.Stats()[0].Failed)
	require.Equal(t, 0, snd.Update(t0.Add(15*time.Second), alerts), "nothing new is due")
	logs.wait(t, slog.LevelDebug)
	require.Equal(t, uint64(1), snd.Stats()[0].Sent)
	require.Len(t, rc.Posts(), 2)
}

func TestSendErrorMatches(t *testing.T) {
	for _, tt := range []struct {
		err         *alertmanager.SendError
		invalid, un bool
	}{
		{&alertmanager.SendError{StatusCode: 400}, true, false},
		{&alertmanager.SendError{StatusCode: 422}, true, false},
		{&alertmanager.SendError{StatusCode: 401}, false, true},
		{&alertmanager.SendError{StatusCode: 429}, false, true},
		{&alertmanager.SendError{StatusCode: 503}, false, true},
		{&alertmanager.SendError{Err: context.DeadlineExceeded}, false, true},
	} {
		require.Equal(t, tt.invalid, errors.Is(tt.err, alertmanager.ErrInvalid), "%v", tt.err)
		require.Equal(t, tt.un, errors.Is(tt.err, alertmanager.ErrUnavailable), "%v", tt.err)
	}
}

var tlsConfig tls.Config

// TestCallerCancelKeepsAlerts: a Flush whose context ends mid-send keeps
// the alerts and counts nothing against the Alertmanager.
func TestCallerCancelKeepsAlerts(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	rc := newReceiver(t, func(int) int { close(entered); <-release; return http.StatusOK })
	defer close(release)
	snd, err := alertmanager.New(alertmanager.Config{URLs: []string{rc.URL}})
	require.NoError(t, err)
	snd.Update(t0, firingAlerts(2))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- snd.Flush(ctx) }()
	<-entered
	cancel()
	require.ErrorIs(t, <-done, context.Canceled)
	st := snd.Stats()[0]
	require.Equal(t, alertmanager.Stats{URL: rc.URL, Queued: 2}, st)
}
