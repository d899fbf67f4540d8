package tikv

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"iter"
	"log/slog"
	"time"

	"github.com/kvops/operator/logparse"
	"github.com/kvops/operator/subject"
	"github.com/kvops/operator/tikv/internal/logstream"
)

// LogSource is where the log of one TiKV or PD process is read from: a
// log file ([FileLogSource]), a Docker container (package tikv/dockerlog,
// which this package does not import, so that importing tikv does not pull
// in the Docker client), or any source of the caller's.
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
	// ErrLogUnreachable: the server a source reads through (the Docker
	// Engine, for tikv/dockerlog) cannot be reached. It also
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
			if logstream.IsLineErr(err) {
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

// TruncatedError is the error a log source ends a read with when entries
// of the window asked for that an earlier read saw are gone: it matches
// [ErrLogTruncated] and names source and the newest entry lost.
func TruncatedError(source string, lost time.Time) error {
	return &LogSourceError{Source: source, Op: "read", Kind: ErrLogTruncated,
		Err: fmt.Errorf("the entries up to %s that an earlier read saw are gone", lost.Format(time.RFC3339Nano))}
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }
