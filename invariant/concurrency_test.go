package invariant

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"
)

// TestChecksRunConcurrently: two checks that can finish only once both
// have started. Run one after the other, the first would wait for its
// deadline.
func TestChecksRunConcurrently(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var started sync.WaitGroup
		started.Add(2)
		both := make(chan struct{})
		go func() { started.Wait(); close(both) }()
		wait := func(ctx context.Context, _ time.Time) ([]Finding, error) {
			started.Done()
			select {
			case <-both:
				return keys("k"), nil
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		e, err := New([]Invariant{
			{Name: "a", Severity: SeverityInfo, Check: wait},
			{Name: "b", Severity: SeverityInfo, Check: wait},
		}, Config{CheckTimeout: time.Minute})
		require.NoError(t, err)
		r, err := e.Evaluate(t.Context(), t0)
		require.NoError(t, err)
		require.Empty(t, r.Errors, "checks that wait for each other must run at once")
		if diff := cmp.Diff([]string{"a k: inactive -> firing", "b k: inactive -> firing"}, transitionStrings(r.Transitions)); diff != "" {
			t.Errorf("transitions (-want +got):\n%s", diff)
		}
	})
}

// TestConcurrencyBound: five checks of one (simulated) second each, two at
// a time, take three seconds and never run more than two at once.
func TestConcurrencyBound(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var running, most atomic.Int32
		slow := func(ctx context.Context, _ time.Time) ([]Finding, error) {
			n := running.Add(1)
			for {
				m := most.Load()
				if n <= m || most.CompareAndSwap(m, n) {
					break
				}
			}
			time.Sleep(time.Second)
			running.Add(-1)
			return nil, nil
		}
		var invs []Invariant
		for _, name := range []string{"a", "b", "c", "d", "e"} {
			invs = append(invs, Invariant{Name: name, Severity: SeverityInfo, Check: slow})
		}
		e, err := New(invs, Config{Concurrency: 2})
		require.NoError(t, err)
		start := time.Now()
		r, err := e.Evaluate(t.Context(), t0)
		require.NoError(t, err)
		require.Empty(t, r.Errors)
		require.Equal(t, int32(2), most.Load(), "checks running at once")
		require.Equal(t, 3*time.Second, time.Since(start), "five one-second checks, two at a time")
	})
}

// TestDefaultCheckTimeout: without Config.CheckTimeout, a check that never
// returns on its own fails after DefaultCheckTimeout, and the others'
// results are applied.
func TestDefaultCheckTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e, err := New([]Invariant{
			{Name: "stuck", Severity: SeverityInfo, Check: func(ctx context.Context, _ time.Time) ([]Finding, error) {
				<-ctx.Done()
				return nil, ctx.Err()
			}},
			{Name: "quick", Severity: SeverityInfo, Check: func(context.Context, time.Time) ([]Finding, error) { return keys("k"), nil }},
		}, Config{})
		require.NoError(t, err)
		start := time.Now()
		r, err := e.Evaluate(t.Context(), t0)
		require.NoError(t, err)
		require.Equal(t, DefaultCheckTimeout, time.Since(start))
		require.Len(t, r.Errors, 1)
		if r.Errors[0].Invariant != "stuck" || !errors.Is(r.Errors[0], context.DeadlineExceeded) {
			t.Errorf("errors = %v, want stuck failing with DeadlineExceeded", r.Errors)
		}
		if diff := cmp.Diff([]string{"k:firing"}, violationStrings(r.Violations)); diff != "" {
			t.Errorf("violations (-want +got):\n%s", diff)
		}
	})
}

// TestCheckTimeoutQueued: with more checks than the concurrency, each check
// gets its own deadline from when it starts, not from when the call began.
func TestCheckTimeoutQueued(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var deadlines []time.Duration
		var mu sync.Mutex
		start := time.Now()
		check := func(ctx context.Context, _ time.Time) ([]Finding, error) {
			d, ok := ctx.Deadline()
			require.True(t, ok, "a check without a deadline")
			mu.Lock()
			deadlines = append(deadlines, d.Sub(start))
			mu.Unlock()
			time.Sleep(time.Second)
			return nil, nil
		}
		e, err := New([]Invariant{
			{Name: "a", Severity: SeverityInfo, Check: check},
			{Name: "b", Severity: SeverityInfo, Check: check},
		}, Config{Concurrency: 1, CheckTimeout: 10 * time.Second})
		require.NoError(t, err)
		r, err := e.Evaluate(t.Context(), t0)
		require.NoError(t, err)
		require.Empty(t, r.Errors)
		require.Equal(t, []time.Duration{10 * time.Second, 11 * time.Second}, deadlines)
	})
}

// TestStateLockNotHeldOverChecks: while a check is blocked (a slow PD),
// Alerts and Export answer at once with the previous evaluation's state,
// and the state lock is free.
func TestStateLockNotHeldOverChecks(t *testing.T) {
	block := false
	started, release := make(chan struct{}), make(chan struct{})
	e, err := New([]Invariant{{Name: "inv", Severity: SeverityInfo, Check: func(ctx context.Context, _ time.Time) ([]Finding, error) {
		if block {
			close(started)
			<-release
		}
		return keys("k"), nil
	}}}, Config{})
	require.NoError(t, err)
	_, err = e.Evaluate(t.Context(), t0)
	require.NoError(t, err)

	block = true
	done := make(chan error, 1)
	go func() {
		_, err := e.Evaluate(t.Context(), t0.Add(time.Second))
		done <- err
	}()
	defer func() { require.NoError(t, <-done) }()
	defer close(release)
	<-started
	require.True(t, e.mu.TryLock(), "the state lock is held while a check runs")
	e.mu.Unlock()
	got := e.Alerts()
	require.Len(t, got, 1)
	require.Equal(t, t0, got[0].LastSeen, "Alerts during an evaluation shows the previous one")
	_, err = e.Export()
	require.NoError(t, err)
}
