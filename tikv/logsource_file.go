package tikv

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/kvops/operator/logparse"
	"github.com/kvops/operator/subject"
	"github.com/kvops/operator/tikv/internal/logstream"
)

// DefaultFollowInterval is how often Follow checks a log file for new
// lines, rotation and truncation.
const DefaultFollowInterval = 250 * time.Millisecond

// FileLogConfig configures a FileLogSource. Its zero fields take the
// defaults documented on each.
type FileLogConfig struct {
	// Path is the log file, such as tiup's tikv.log; it must not be empty.
	// The file need not exist yet: the error comes when it is read.
	Path string
	// FollowInterval is how often Follow checks the file for new lines,
	// rotation and truncation (default DefaultFollowInterval).
	FollowInterval time.Duration
	// MaxEntrySize is the largest entry read; see
	// [logparse.WithMaxEntrySize] (default logparse.DefaultMaxEntrySize).
	MaxEntrySize int
	// Logger receives the source's own debug messages (default: none).
	Logger *slog.Logger
}

// FileLogSource reads a log file such as the tikv.log that tiup writes, and
// the files it was rotated into.
//
// TiKV and PD (and tiup's deployments of them) rotate by renaming tikv.log
// to tikv-<time>.log (older TiKV: tikv.log.<time>) and creating a new
// tikv.log. Entries reads the rotated files that may hold entries in the
// window, then the current one; Follow goes on with the new file after a
// rotation, and from the start after a truncation. Following polls the file
// (no file-system notification), at [FileLogConfig].FollowInterval.
//
// A source remembers the newest entry its reads of the log up to now
// (Entries with a zero until) have seen. When a later such read, of a
// window that holds that entry, no longer finds it (the file was
// truncated, or rotated into a file the source does not read, such as a
// compressed one), what is left is not the whole window: the read ends
// with an error matching [ErrLogTruncated], and so do the reads of windows
// that reach back to the lost entries. A FileLogSource is safe for
// concurrent use.
type FileLogSource struct {
	path   string
	poll   time.Duration
	logger *slog.Logger
	opts   []logparse.ReaderOption

	gaps logstream.GapCheck
}

// NewFileLog returns a source reading the log file cfg names. An empty
// Path, or a negative FollowInterval or MaxEntrySize, is refused with an
// error matching subject.ErrInvalid.
func NewFileLog(cfg FileLogConfig) (*FileLogSource, error) {
	switch {
	case cfg.Path == "":
		return nil, fmt.Errorf("tikv: FileLogConfig.Path is empty: %w", subject.ErrInvalid)
	case cfg.FollowInterval < 0:
		return nil, fmt.Errorf("tikv: FileLogConfig.FollowInterval %v is negative: %w", cfg.FollowInterval, subject.ErrInvalid)
	case cfg.MaxEntrySize < 0:
		return nil, fmt.Errorf("tikv: FileLogConfig.MaxEntrySize %d is negative: %w", cfg.MaxEntrySize, subject.ErrInvalid)
	}
	s := &FileLogSource{path: cfg.Path, poll: cmp.Or(cfg.FollowInterval, DefaultFollowInterval), logger: cfg.Logger}
	if s.logger == nil {
		s.logger = discardLogger()
	}
	if cfg.MaxEntrySize > 0 {
		s.opts = append(s.opts, logparse.WithMaxEntrySize(cfg.MaxEntrySize))
	}
	return s, nil
}

// NewFileLogSource returns a source reading the log file at path with the
// defaults of [FileLogConfig]: NewFileLog(FileLogConfig{Path: path}), for
// the common case. The file need not exist yet: the error comes when it is
// read (an empty path too).
func NewFileLogSource(path string) *FileLogSource {
	s, err := NewFileLog(FileLogConfig{Path: path})
	if err != nil {
		// Only an empty path can fail here; reading it fails as a
		// missing file does.
		s = &FileLogSource{path: path, poll: DefaultFollowInterval, logger: discardLogger()}
	}
	return s
}

// Name returns the file's path.
func (s *FileLogSource) Name() string { return s.path }

func (s *FileLogSource) err(op string, err error) error {
	return &LogSourceError{Source: s.path, Op: op, Kind: fileErrKind(err), Err: err}
}

// rotated returns the files the log was rotated into that were last
// written at or after since, oldest first.
func (s *FileLogSource) rotated(since time.Time) []string {
	dir, base := filepath.Split(s.path)
	if dir == "" {
		dir = "."
	}
	ext := filepath.Ext(base)
	stem := strings.TrimSuffix(base, ext)
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	type file struct {
		name string
		mod  time.Time
	}
	var files []file
	for _, de := range ents {
		n := de.Name()
		if n == base || de.IsDir() {
			continue
		}
		// tikv-2024-07-24T12-47-12.123.log, or tikv.log.2024-07-24-12:47:12.123
		if !(strings.HasPrefix(n, stem+"-") && strings.HasSuffix(n, ext)) && !strings.HasPrefix(n, base+".") {
			continue
		}
		if strings.HasSuffix(n, ".gz") {
			continue
		}
		info, err := de.Info()
		if err != nil || info.ModTime().Before(since) {
			continue
		}
		files = append(files, file{filepath.Join(dir, n), info.ModTime()})
	}
	sort.Slice(files, func(i, j int) bool {
		if !files[i].mod.Equal(files[j].mod) {
			return files[i].mod.Before(files[j].mod)
		}
		return files[i].name < files[j].name
	})
	out := make([]string, len(files))
	for i, f := range files {
		out[i] = f.name
	}
	return out
}

// Entries streams the entries of the rotated files and of the file itself
// written at since <= time < until.
func (s *FileLogSource) Entries(ctx context.Context, since, until time.Time) iter.Seq2[logparse.Entry, error] {
	return func(yield func(logparse.Entry, error) bool) {
		w := logstream.NewWindow(since, until)
		r := logparse.NewReader(nil, s.opts...)
		track := yield
		var read *logstream.GapRead
		if until.IsZero() {
			read = s.gaps.Start(since)
			track = read.Wrap(yield)
		}
		for _, name := range s.rotated(since) {
			if !s.readWhole(ctx, name, r, &w, track, true) {
				return
			}
		}
		if s.readWhole(ctx, s.path, r, &w, track, false) && read != nil {
			if lost, gone := read.End(s.path, s.logger); gone {
				yield(logparse.Entry{}, TruncatedError(s.path, lost))
			}
		}
	}
}

// readWhole reads one file to its end; it reports whether to go on.
func (s *FileLogSource) readWhole(ctx context.Context, name string, r *logparse.Reader, w *logstream.Window, yield func(logparse.Entry, error) bool, optional bool) bool {
	f, err := os.Open(name)
	if err != nil {
		if optional && errors.Is(err, os.ErrNotExist) {
			return true // rotated away meanwhile
		}
		yield(logparse.Entry{}, s.err("open", err))
		return false
	}
	defer f.Close()
	r.Reset(f)
	stopped, err := logstream.ReadFrom(ctx, r, w, yield)
	if stopped {
		return false
	}
	if err != io.EOF {
		yield(logparse.Entry{}, s.err("read", err))
		return false
	}
	return true
}

// Follow streams the entries written at or after since, then follows the
// file across rotations and truncations until ctx ends.
func (s *FileLogSource) Follow(ctx context.Context, since time.Time) iter.Seq2[logparse.Entry, error] {
	return func(yield func(logparse.Entry, error) bool) {
		w := logstream.NewWindow(since, time.Time{})
		r := logparse.NewReader(nil, s.opts...)
		for _, name := range s.rotated(since) {
			if !s.readWhole(ctx, name, r, &w, yield, true) {
				return
			}
		}
		f, err := os.Open(s.path)
		if err != nil {
			yield(logparse.Entry{}, s.err("open", err))
			return
		}
		defer func() { f.Close() }()
		cr := &countingReader{r: f}
		r.Reset(cr)
		r.SetFollow(true)
		for {
			stopped, err := logstream.ReadFrom(ctx, r, &w, yield)
			if stopped {
				return
			}
			if err != io.EOF {
				yield(logparse.Entry{}, s.err("read", err))
				return
			}
			next, truncated, err := s.check(f, cr.n)
			if err != nil {
				yield(logparse.Entry{}, err)
				return
			}
			switch {
			case next != nil:
				// Rotated: finish the old file, a last line without its
				// newline included, then go on with the new one.
				s.logger.Debug("log file rotated", "path", s.path)
				r.SetFollow(false)
				stopped, err := logstream.ReadFrom(ctx, r, &w, yield)
				if stopped {
					next.Close()
					return
				}
				if err != io.EOF {
					next.Close()
					yield(logparse.Entry{}, s.err("read", err))
					return
				}
				f.Close()
				f = next
				cr = &countingReader{r: f}
				r.Reset(cr)
				r.SetFollow(true)
				continue
			case truncated:
				s.logger.Debug("log file truncated", "path", s.path)
				if _, err := f.Seek(0, io.SeekStart); err != nil {
					yield(logparse.Entry{}, s.err("seek", err))
					return
				}
				cr.n = 0
				r.Reset(cr)
				continue
			}
			t := time.NewTimer(s.poll)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
		}
	}
}

// check looks at the path once the open file is read to its end: it
// returns the new file when the path now names another file (rotation), or
// truncated when the open file shrank below what was read.
func (s *FileLogSource) check(f *os.File, read int64) (next *os.File, truncated bool, err error) {
	cur, err := f.Stat()
	if err != nil {
		return nil, false, s.err("stat", err)
	}
	at, err := os.Stat(s.path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return nil, false, nil // renamed, the new file not created yet
	case err != nil:
		return nil, false, s.err("stat", err)
	}
	if !os.SameFile(cur, at) {
		n, err := os.Open(s.path)
		if errors.Is(err, os.ErrNotExist) {
			return nil, false, nil
		}
		if err != nil {
			return nil, false, s.err("open", err)
		}
		return n, false, nil
	}
	return nil, cur.Size() < read, nil
}

type countingReader struct {
	r io.Reader
	n int64
}

// Read reads from the file and counts the bytes.
func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}
