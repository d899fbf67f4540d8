package tikv

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kvops/operator/invariant"
)

// TestShared: the checks of one evaluation time share one read, whether
// they ask at once or one after the other; the next evaluation time reads
// anew; an error is shared like a reading.
func TestShared(t *testing.T) {
	var reads atomic.Int32
	var fail error
	sh := newShared(newBackground(), func(_ context.Context, now time.Time) (time.Time, error) {
		reads.Add(1)
		return now, fail
	})
	get := func(now time.Time) time.Time {
		t.Helper()
		v, err := sh.get(t.Context(), now)
		require.Equal(t, fail, err)
		return v
	}
	require.Equal(t, []time.Time{t0, t0, t0}, []time.Time{get(t0), get(t0), get(t0)})
	require.Equal(t, int32(1), reads.Load(), "reads in one evaluation, one check after the other")
	t1 := t0.Add(time.Second)
	require.Equal(t, t1, get(t1))
	require.Equal(t, int32(2), reads.Load(), "the next evaluation reads anew")
	fail = errors.New("down")
	t2 := t1.Add(time.Second)
	require.Equal(t, t2, get(t2))
	require.Equal(t, t2, get(t2))
	require.Equal(t, int32(3), reads.Load(), "an error is shared like a reading")
}

// TestSharedCallersKeepTheirOwnContexts: a check whose context ends while it
// waits for a read returns its own context's error at once; the read goes
// on, detached from the context of the check that started it, and its
// siblings get the reading, not the first one's cancellation.
func TestSharedCallersKeepTheirOwnContexts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		var reads atomic.Int32
		sh := newShared(newBackground(), func(ctx context.Context, now time.Time) (int, error) {
			reads.Add(1)
			select {
			case <-release:
				return 7, nil
			case <-ctx.Done():
				return 0, ctx.Err()
			}
		})
		type result struct {
			v   int
			err error
		}
		call := func(ctx context.Context) chan result {
			ch := make(chan result, 1)
			go func() {
				v, err := sh.get(ctx, t0)
				ch <- result{v, err}
			}()
			return ch
		}
		firstCtx, cancelFirst := context.WithCancel(t.Context())
		first := call(firstCtx)
		synctest.Wait()
		shortCtx, cancelShort := context.WithTimeout(t.Context(), time.Second)
		defer cancelShort()
		short := call(shortCtx)
		sibling := call(t.Context())
		synctest.Wait()

		cancelFirst()
		require.Equal(t, result{0, context.Canceled}, <-first, "the check that started the read, cancelled")
		start := time.Now()
		require.Equal(t, result{0, context.DeadlineExceeded}, <-short, "a waiting check with a one-second deadline")
		require.Equal(t, time.Second, time.Since(start), "the waiting check gave up at its own deadline")
		close(release)
		require.Equal(t, result{7, nil}, <-sibling, "a sibling of a cancelled check")
		require.Equal(t, int32(1), reads.Load())
	})
}

// TestSharedReadIsBounded: the detached read still ends, at shareTimeout.
func TestSharedReadIsBounded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sh := newShared(newBackground(), func(ctx context.Context, now time.Time) (int, error) {
			<-ctx.Done()
			return 0, ctx.Err()
		})
		start := time.Now()
		_, err := sh.get(context.Background(), t0)
		require.ErrorIs(t, err, context.DeadlineExceeded)
		require.Equal(t, shareTimeout, time.Since(start))
	})
}

// TestSharedReadPanics: a read that panics on singleflight's goroutine is
// an error matching invariant.ErrPanic, not a crash.
func TestSharedReadPanics(t *testing.T) {
	sh := newShared(newBackground(), func(context.Context, time.Time) (int, error) { panic("boom") })
	_, err := sh.get(t.Context(), t0)
	require.ErrorIs(t, err, invariant.ErrPanic)
}

// TestSharedAbandonedReadIsCancelled: once every check waiting for a read
// has given up (an evaluation cancelled), the read is cancelled rather than
// left running, and its cancellation is not kept: the next check to ask
// reads again.
func TestSharedAbandonedReadIsCancelled(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var reads atomic.Int32
		cancelled := make(chan error, 1)
		sh := newShared(newBackground(), func(ctx context.Context, now time.Time) (int, error) {
			if reads.Add(1) > 1 {
				return 7, nil
			}
			<-ctx.Done()
			cancelled <- ctx.Err()
			return 0, ctx.Err()
		})
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() {
			_, err := sh.get(ctx, t0)
			done <- err
		}()
		synctest.Wait()
		cancel()
		require.ErrorIs(t, <-done, context.Canceled)
		require.ErrorIs(t, <-cancelled, context.Canceled, "the abandoned read was not cancelled")
		synctest.Wait()
		v, err := sh.get(t.Context(), t0)
		require.NoError(t, err)
		require.Equal(t, 7, v)
		require.Equal(t, int32(2), reads.Load())
	})
}

// TestSharedAfterTimeWentBack: once the evaluation time has gone back, the
// checks of the new, earlier evaluation still share one read, and none of
// them is handed a read made on a context already cancelled (a check that
// found the flight of a read just ending used to start a new call on that
// flight's cancelled context).
func TestSharedAfterTimeWentBack(t *testing.T) {
	var reads atomic.Int32
	sh := newShared(newBackground(), func(ctx context.Context, _ time.Time) (int, error) {
		reads.Add(1)
		return int(reads.Load()), ctx.Err()
	})
	t1 := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	back := t1.Add(-time.Hour)
	for i, at := range []time.Time{t1, back, back, back} {
		_, err := sh.get(t.Context(), at)
		require.NoError(t, err, "get %d", i)
	}
	require.Equal(t, int32(2), reads.Load(), "one read per evaluation time, the earlier one included")

	// Many checks of one evaluation, started at once, after the jump.
	back2 := back.Add(-time.Hour)
	errs := make(chan error, 50)
	for range 50 {
		go func() {
			_, err := sh.get(t.Context(), back2)
			errs <- err
		}()
	}
	for range 50 {
		require.NoError(t, <-errs)
	}
	require.Equal(t, int32(3), reads.Load())
}
