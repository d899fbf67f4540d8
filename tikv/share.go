package tikv

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/kvops/operator/invariant"
)

// shareTimeout bounds one shared read. The read runs detached from the
// cancellation of the check that happened to start it, so that one check's
// deadline or cancellation is not handed to its siblings; this bounds it
// instead, as long as the evaluator bounds a check by default.
const shareTimeout = invariant.DefaultCheckTimeout

// shared lets the checks of one evaluation share one reading: the checks
// that ask with the same evaluation time share one read (an error too: a
// source that is down costs one timeout, not one per check), whether they
// ask at once or one after the other, and the next evaluation time reads
// anew. A check waiting for a read gives up when its own context ends, and
// only it does: the read goes on for the others, and is cancelled only
// once every check waiting for it has given up (then nothing is kept, and
// the next check to ask reads again). It is safe for concurrent use.
type shared[T any] struct {
	read  func(ctx context.Context, now time.Time) (T, error)
	bg    *background // the subject's: Close ends the reads
	group singleflight.Group

	mu sync.Mutex
	// The latest reading and the evaluation time it was read for (zero
	// before the first).
	at      time.Time
	val     T
	err     error
	flights map[string]*flight // by key, while a read is under way
}

// flight is one read under way and the checks waiting for it.
type flight struct {
	ctx     context.Context
	cancel  context.CancelFunc
	waiters int
}

// reading is one read's outcome, as a flight hands it to its callers.
type reading[T any] struct {
	val T
	err error
}

func newShared[T any](bg *background, read func(ctx context.Context, now time.Time) (T, error)) *shared[T] {
	return &shared[T]{read: read, bg: bg, flights: map[string]*flight{}}
}

// get returns the reading for the evaluation at now, reading it if no check
// of that evaluation has. It returns ctx.Err() if ctx ends first. Once the
// subject is closed, it reads on ctx, for this check alone.
func (sh *shared[T]) get(ctx context.Context, now time.Time) (T, error) {
	if sh.bg.isClosed() {
		return sh.readSafely(ctx, now)
	}
	key := strconv.FormatInt(now.UnixNano(), 10)
	sh.mu.Lock()
	if r, ok := sh.cachedLocked(now); ok {
		sh.mu.Unlock()
		return r.val, r.err
	}
	f := sh.flights[key]
	if f == nil {
		// Detached from ctx: the check that happens to start the read
		// must not hand its cancellation or deadline to the others.
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shareTimeout)
		stop := context.AfterFunc(sh.bg.ctx, cancel) // Close ends it too
		f = &flight{ctx: fctx, cancel: func() { stop(); cancel() }}
		sh.flights[key] = f
	}
	f.waiters++
	// Join the flight's call under sh.mu: DoChan does not wait for the
	// read, and the read ends (drops the flight, cancels its context)
	// under sh.mu too, so a check that found the flight joins that very
	// call, never a new one started on a context already cancelled.
	ch := sh.group.DoChan(key, func() (any, error) {
		if !sh.bg.enter() {
			var zero T
			return reading[T]{zero, errClosed}, nil
		}
		defer sh.bg.exit()
		sh.mu.Lock()
		r, ok := sh.cachedLocked(now)
		sh.mu.Unlock()
		if ok {
			return r, nil
		}
		v, err := sh.readSafely(f.ctx, now)
		sh.mu.Lock()
		defer sh.mu.Unlock()
		if sh.flights[key] == f {
			delete(sh.flights, key)
		}
		// A read cancelled because everyone gave up is not kept. The
		// latest read is kept whatever its time: after the evaluation
		// time went back, the checks of the new evaluation share it too.
		if f.waiters > 0 {
			sh.at, sh.val, sh.err = now, v, err
		}
		f.cancel()
		return reading[T]{v, err}, nil
	})
	sh.mu.Unlock()
	select {
	case res := <-ch:
		sh.leave(key, f)
		r := res.Val.(reading[T])
		return r.val, r.err
	case <-ctx.Done():
		sh.leave(key, f)
		var zero T
		return zero, ctx.Err()
	}
}

// leave records that a check no longer waits for f, and cancels the read
// when nobody does.
func (sh *shared[T]) leave(key string, f *flight) {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	f.waiters--
	if f.waiters == 0 && sh.flights[key] == f {
		delete(sh.flights, key)
		sh.group.Forget(key)
		f.cancel()
	}
}

// readSafely reads, turning a panic into an error: the read runs on
// singleflight's goroutine, out of reach of the evaluator's recover.
func (sh *shared[T]) readSafely(ctx context.Context, now time.Time) (v T, err error) {
	defer func() {
		if p := recover(); p != nil {
			var zero T
			v, err = zero, fmt.Errorf("%w: %v", invariant.ErrPanic, p)
		}
	}()
	return sh.read(ctx, now)
}

// cachedLocked returns the reading kept for now, if there is one. sh.mu is
// held.
func (sh *shared[T]) cachedLocked(now time.Time) (reading[T], bool) {
	if sh.at.IsZero() || !sh.at.Equal(now) {
		return reading[T]{}, false
	}
	return reading[T]{sh.val, sh.err}, true
}
