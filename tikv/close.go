package tikv

import (
	"context"
	"fmt"
	"sync"
)

// errClosed fails a shared read that was to start as the subject was being
// closed.
var errClosed = fmt.Errorf("tikv: the subject was closed: %w", context.Canceled)

// background tracks the reads a Subject runs detached from the context of
// the check that started them (the invariants' shared reads, see shared),
// so that Close can end them and wait for them to return.
type background struct {
	ctx    context.Context // ends at close
	cancel context.CancelFunc

	mu     sync.Mutex
	closed bool
	wg     sync.WaitGroup // the detached reads running
}

func newBackground() *background {
	ctx, cancel := context.WithCancel(context.Background())
	return &background{ctx: ctx, cancel: cancel}
}

// isClosed reports whether close has been called.
func (b *background) isClosed() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.closed
}

// enter registers a detached read about to run; it reports false, and the
// read must not run, once close has been called.
func (b *background) enter() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return false
	}
	b.wg.Add(1)
	return true
}

// exit records that a read enter let run has returned.
func (b *background) exit() { b.wg.Done() }

// close ends every detached read, through b.ctx, and waits until each has
// returned. Later calls return at once.
func (b *background) close() {
	b.mu.Lock()
	b.closed = true
	b.mu.Unlock()
	b.cancel()
	b.wg.Wait()
}

// Close ends the reads the subject runs in the background, detached from
// the check that started them (the invariants' shared reads: see
// [Subject.Invariants]), waits until they have returned, and closes the
// idle connections of its PD and Prometheus clients (those New built, or
// those given to NewFromClients). A check waiting for a read it ended fails
// with an error matching context.Canceled.
//
// It may be called more than once, and at any time; it returns nil. The
// subject still works after it: its checks then read each on its own
// context, sharing nothing, so that nothing outlives its caller, and a
// later request may open connections again (which another Close closes).
func (s *Subject) Close() error {
	s.bg.close()
	s.pd.CloseIdleConnections()
	if s.prom != nil {
		s.prom.CloseIdleConnections()
	}
	return nil
}
