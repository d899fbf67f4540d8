// Package logstream holds what the log sources of package tikv (the file
// source) and of tikv/dockerlog share: the window filter over a stream of
// entries, and the check that tells when entries an earlier read saw are
// gone. It knows nothing of where a log comes from.
package logstream

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/kvops/operator/logparse"
)

// Window filters a stream of entries to since <= time < until, and lets
// errors of lines through when the entry before them was in the window (or
// none was read yet).
type Window struct {
	since, until time.Time
	inside       bool
}

// NewWindow returns the window since <= time < until; a zero until means
// no upper bound.
func NewWindow(since, until time.Time) Window {
	return Window{since: since, until: until, inside: true}
}

// Pass reports whether an entry written at t is in the window.
func (w *Window) Pass(t time.Time) bool {
	w.inside = !t.Before(w.since) && (w.until.IsZero() || t.Before(w.until))
	return w.inside
}

// IsLineErr reports whether err is about one line (the stream goes on).
func IsLineErr(err error) bool {
	return errors.Is(err, logparse.ErrSyntax) || errors.Is(err, logparse.ErrTooLong)
}

// ReadFrom yields the entries of r in the window until r returns an error
// that is not about a line, which it returns (io.EOF at the end); stopped
// is set when the consumer or ctx ended the iteration.
func ReadFrom(ctx context.Context, r *logparse.Reader, w *Window, yield func(logparse.Entry, error) bool) (stopped bool, err error) {
	for {
		if ctx.Err() != nil {
			return true, nil
		}
		// Borrowed, so that entries outside the window cost no copy;
		// those yielded are copied out.
		e, err := r.NextRaw()
		switch {
		case err == nil:
			if w.Pass(e.Time) && !yield(e.Entry(), nil) {
				return true, nil
			}
		case IsLineErr(err):
			if w.inside && !yield(logparse.Entry{}, err) {
				return true, nil
			}
		default:
			return false, err
		}
	}
}

// GapCheck tells when entries of a log that an earlier read saw are gone.
// It remembers the newest entry the reads of the log up to now have seen;
// a later such read, of a window that holds that entry, that no longer
// finds it has not read the whole window. The zero GapCheck is ready; it
// is safe for concurrent use.
type GapCheck struct {
	mu sync.Mutex
	// newest is the time of the newest entry read; lost, of the newest
	// entry found gone.
	newest, lost time.Time
}

// GapRead is one read of the log up to now, from since on.
type GapRead struct {
	g           *GapCheck
	since, prev time.Time // prev: the newest entry of the reads before
	seen        time.Time // the newest entry of this read
	found       bool      // whether this read saw prev again
}

// Start begins a read of the log up to now, from since on.
func (g *GapCheck) Start(since time.Time) *GapRead {
	g.mu.Lock()
	defer g.mu.Unlock()
	return &GapRead{g: g, since: since, prev: g.newest}
}

// Wrap returns yield, taking note of the entries that pass.
func (r *GapRead) Wrap(yield func(logparse.Entry, error) bool) func(logparse.Entry, error) bool {
	return func(e logparse.Entry, err error) bool {
		if err == nil {
			if e.Time.After(r.seen) {
				r.seen = e.Time
			}
			r.found = r.found || e.Time.Equal(r.prev)
		}
		return yield(e, err)
	}
}

// End is called when the read went through to the end of the log. When
// entries of the window that an earlier read saw are gone, it returns the
// time of the newest of them and true: the read is not the whole window.
func (r *GapRead) End(source string, logger *slog.Logger) (lost time.Time, gone bool) {
	g := r.g
	g.mu.Lock()
	defer g.mu.Unlock()
	if !r.prev.IsZero() && !r.prev.Before(r.since) && !r.found && r.prev.After(g.lost) {
		logger.Debug("log entries gone", "source", source, "newest_seen_before", r.prev)
		g.lost = r.prev
	}
	if r.seen.After(g.newest) {
		g.newest = r.seen
	}
	if g.lost.IsZero() || r.since.After(g.lost) {
		return time.Time{}, false
	}
	return g.lost, true
}
