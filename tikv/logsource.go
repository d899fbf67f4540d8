package tikv

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"iter"
	"log/slog"
	"sync"
	"time"

	"github.com/kvops/operator/logparse"
	"github.com/kvops/operator/subject"
)

// LogSource is where the log of one TiKV or PD process is read from: a
// Docker container ([DockerLogSource]) or a log file ([FileLogSource]).
//
// The entries it yields are the source's own to give away: they share no
// memory with its buffers and may be kept. An entry that does not parse is
// yielded as an error matching [logparse.ErrSyntax] and the stream goes on;
// an error of the source itself (a [*LogSourceError]) ends the stream.
type LogSource interface {
	// Entries streams the entries written at since <= time < until,
	// oldest first; a zero until means no upper bound (the log as it is
	// now).
	Entries(ctx context.Context, since, until time.Time) iter.Seq2[logparse.Entry, error]
	// Follow streams the entries written at or after since, then the new
	// ones as they are written, until ctx ends.
	Follow(ctx context.Context, since time.Time) iter.Seq2[logparse.Entry, error]
	// Name names the source (a container name, a file path).
	Name() string
}

// Errors of log sources; a [*LogSourceError] matches one of them.
var (
	// ErrLogNotFound: the container or file does not exist, or went away
	// while being followed. It also matches subject.ErrNotFound.
	ErrLogNotFound = fmt.Errorf("tikv: log source not found: %w", subject.ErrNotFound)
	// ErrLogUnreachable: the Docker Engine cannot be reached. It also
	// matches subject.ErrUnavailable.
	ErrLogUnreachable = fmt.Errorf("tikv: log source unreachable: %w", subject.ErrUnavailable)
	// ErrLogPermission: permission to read the log was denied.
	ErrLogPermission = errors.New("tikv: permission denied reading log")
	// ErrLogStopped: the followed container stopped, so its log ended.
	ErrLogStopped = errors.New("tikv: log source stopped")
	// ErrLogTruncated: entries of the window asked for that an earlier
	// read saw are gone (a file was truncated, or rotated into a file the
	// source cannot read; a container was replaced by another of the same
	// name), so what is left is not the whole window.
	ErrLogTruncated = errors.New("tikv: log truncated, entries missing")
	// ErrLogRead: reading the log failed otherwise.
	ErrLogRead = errors.New("tikv: reading log failed")
)

// LogSourceError is the error of a log source: which source, what it was
// doing, which kind of failure (one of the ErrLog* sentinels) and the
// underlying error. errors.Is matches both the kind and the cause.
type LogSourceError struct {
	Source string
	Op     string
	Kind   error
	Err    error
}

// Error implements error.
func (e *LogSourceError) Error() string {
	s := e.Kind.Error() + ": " + e.Op + " " + e.Source
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the kind and the cause.
func (e *LogSourceError) Unwrap() []error {
	if e.Err == nil {
		return []error{e.Kind}
	}
	return []error{e.Kind, e.Err}
}

// fileErrKind classifies an error of the file system.
func fileErrKind(err error) error {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return ErrLogNotFound
	case errors.Is(err, fs.ErrPermission):
		return ErrLogPermission
	}
	return ErrLogRead
}

// window filters a stream of entries to since <= time < until, and lets
// errors of lines through when the entry before them was in the window (or
// none was read yet).
type window struct {
	since, until time.Time
	inside       bool
}

func newWindow(since, until time.Time) window {
	return window{since: since, until: until, inside: true}
}

// pass reports whether an entry written at t is in the window.
func (w *window) pass(t time.Time) bool {
	w.inside = !t.Before(w.since) && (w.until.IsZero() || t.Before(w.until))
	return w.inside
}

// isLineErr reports whether err is about one line (the stream goes on).
func isLineErr(err error) bool {
	return errors.Is(err, logparse.ErrSyntax) || errors.Is(err, logparse.ErrTooLong)
}

// readFrom yields the entries of r in the window until r returns an error
// that is not about a line, which it returns (io.EOF at the end); stopped
// is set when the consumer or ctx ended the iteration.
func readFrom(ctx context.Context, r *logparse.Reader, w *window, yield func(logparse.Entry, error) bool) (stopped bool, err error) {
	for {
		if ctx.Err() != nil {
			return true, nil
		}
		// Borrowed, so that entries outside the window cost no copy;
		// those yielded are copied out.
		e, err := r.NextRaw()
		switch {
		case err == nil:
			if w.pass(e.Time) && !yield(e.Entry(), nil) {
				return true, nil
			}
		case isLineErr(err):
			if w.inside && !yield(logparse.Entry{}, err) {
				return true, nil
			}
		default:
			return false, err
		}
	}
}

// LogLeadershipChanges returns the leadership changes in a source's log
// written at or after since, oldest first, each with the source's name as
// its Source: TiKV's raft role changes and PD's "leader changed" lines.
// Lines that do not parse are skipped; an error of the source is returned
// with the changes read before it.
//
// For logs merged by [MergeLogs], each change has the name of the log it
// came from, and when some of the logs fail the changes of the others are
// returned with a [*PartialLogError] naming the failed ones.
func LogLeadershipChanges(ctx context.Context, src LogSource, since time.Time) ([]subject.LeadershipChange, error) {
	if m, ok := src.(*mergedLogs); ok {
		return m.leadershipChanges(ctx, since)
	}
	var out []subject.LeadershipChange
	for e, err := range src.Entries(ctx, since, time.Time{}) {
		if err != nil {
			if isLineErr(err) {
				continue
			}
			return out, err
		}
		ev, ok := logparse.EventOf(&e)
		if !ok {
			continue
		}
		if c, ok := ev.Change(); ok {
			c.Source = src.Name()
			out = append(out, c)
		}
	}
	return out, ctx.Err()
}

// gapCheck tells when entries of a log that an earlier read saw are gone.
// It remembers the newest entry the reads of the log up to now have seen;
// a later such read, of a window that holds that entry, that no longer
// finds it has not read the whole window.
type gapCheck struct {
	mu sync.Mutex
	// newest is the time of the newest entry read; lost, of the newest
	// entry found gone.
	newest, lost time.Time
}

// gapRead is one read of the log up to now, from since on.
type gapRead struct {
	g           *gapCheck
	since, prev time.Time // prev: the newest entry of the reads before
	seen        time.Time // the newest entry of this read
	found       bool      // whether this read saw prev again
}

func (g *gapCheck) start(since time.Time) *gapRead {
	g.mu.Lock()
	defer g.mu.Unlock()
	return &gapRead{g: g, since: since, prev: g.newest}
}

// wrap returns yield, taking note of the entries that pass.
func (r *gapRead) wrap(yield func(logparse.Entry, error) bool) func(logparse.Entry, error) bool {
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

// end is called when the read went through to the end of the log; it
// returns an error matching ErrLogTruncated, naming source, when entries
// of the window that an earlier read saw are gone.
func (r *gapRead) end(source string, logger *slog.Logger) error {
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
		return nil
	}
	return &LogSourceError{Source: source, Op: "read", Kind: ErrLogTruncated,
		Err: fmt.Errorf("the entries up to %s that an earlier read saw are gone", g.lost.Format(time.RFC3339Nano))}
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }
