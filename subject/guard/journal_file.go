package guard

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"

	"github.com/kvops/operator/internal/filelock"
	"github.com/kvops/operator/subject"
)

// JournalConfig configures [OpenFileJournal]. Every zero field takes the
// default its comment names.
type JournalConfig struct {
	// Identity is written into the journal's lock file, for the error a
	// second opener gets to name this one (default: the program's name).
	Identity string
	// Logger receives, at Warn, the repair of a torn last line on open
	// (default: discard).
	Logger *slog.Logger
}

// FileJournal is a guard's journal kept in a file, for [Config].Journal
// and [Guard.Replay]. It is what a journal that is to survive a crash
// needs:
//
//   - One writer: OpenFileJournal takes an exclusive lock (a lock file
//     beside the journal, named path+".lock", holding the holder's pid,
//     host and identity). A second process opening the same journal, or a
//     second open in the same process, fails at once with a
//     *subject.LockedError naming the holder: two guards on one journal
//     would each pass the blast radius alone. The lock is flock(2), on
//     Linux, macOS and the BSDs, released by the kernel when the process
//     dies; on other platforms OpenFileJournal fails with an error
//     matching subject.ErrNotSupported.
//   - No record appended to a torn one: a last line cut short (a crash
//     while writing it, or a short write on a full disk) is cut off on
//     open, and [FileJournal.Repaired] says what was cut. Since the guard
//     writes a record before it acts on it, a record that did not reach
//     its newline was never acted on.
//   - Durable before acting: each Write is appended (O_APPEND) and synced
//     (fsync) before it returns, so the guard's submitted record is on
//     disk before the request goes out. A write that fails, or whose sync
//     fails, is cut off again, so that no half record stays for the next
//     one to be appended to; if even that fails, every later Write fails.
//
// A FileJournal is safe for concurrent use.
type FileJournal struct {
	path   string
	lock   *filelock.Lock
	opened int64 // the journal's size once repaired, for Records
	torn   *TornTailError

	mu     sync.Mutex
	f      *os.File
	size   int64 // the bytes of whole records
	broken error // a failed write that could not be cut off
}

// OpenFileJournal opens (creating it if missing) the journal at path for
// appending, takes its lock and repairs a torn last line. Give it to
// [Config].Journal and its [FileJournal.Records] to [Guard.Replay], and
// Close it when the guard is done.
func OpenFileJournal(path string, cfg JournalConfig) (*FileJournal, error) {
	if path == "" {
		return nil, fmt.Errorf("guard: journal: no path: %w", subject.ErrInvalid)
	}
	lock, err := filelock.Acquire(path+".lock", path, cfg.Identity)
	if err != nil {
		return nil, fmt.Errorf("guard: journal: %w", err)
	}
	j := &FileJournal{path: path, lock: lock}
	if err := j.open(); err != nil {
		_ = lock.Release()
		if j.f != nil {
			_ = j.f.Close()
		}
		return nil, fmt.Errorf("guard: journal %s: %w", path, err)
	}
	if j.torn != nil && cfg.Logger != nil {
		cfg.Logger.Warn("guard: journal: cut off a torn last line", slog.String("path", path),
			slog.Int("line", j.torn.Line), slog.Int64("offset", j.torn.Offset), slog.Int64("bytes", j.torn.Len),
			slog.String("tail", string(j.torn.Tail)))
	}
	return j, nil
}

func (j *FileJournal) open() error {
	f, err := os.OpenFile(j.path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	j.f = f
	// The file may have just been created: its directory entry must
	// survive a crash too.
	if err := filelock.SyncDir(filepath.Dir(j.path)); err != nil {
		return err
	}
	st, err := f.Stat()
	if err != nil {
		return err
	}
	end, lines, err := lastNewline(f, st.Size())
	if err != nil {
		return err
	}
	if end < st.Size() {
		tail := make([]byte, min(st.Size()-end, maxTail))
		if _, err := f.ReadAt(tail, end); err != nil && !errors.Is(err, io.EOF) {
			return err
		}
		if err := f.Truncate(end); err != nil {
			return fmt.Errorf("cutting off a torn last line: %w", err)
		}
		if err := f.Sync(); err != nil {
			return err
		}
		j.torn = &TornTailError{Path: j.path, Line: lines + 1, Offset: end, Len: st.Size() - end, Tail: tail, Repaired: true}
	}
	j.size, j.opened = end, end
	return nil
}

// lastNewline returns the offset just past the last newline of the first
// size bytes of f (0 when there is none) and the number of newlines.
func lastNewline(f *os.File, size int64) (end int64, lines int, err error) {
	r := bufio.NewReaderSize(io.NewSectionReader(f, 0, size), 64<<10)
	var off int64
	for {
		chunk, err := r.ReadSlice('\n')
		off += int64(len(chunk))
		if len(chunk) > 0 && chunk[len(chunk)-1] == '\n' {
			end = off
			lines++
		}
		switch {
		case err == nil, errors.Is(err, bufio.ErrBufferFull):
		case errors.Is(err, io.EOF):
			return end, lines, nil
		default:
			return 0, 0, err
		}
	}
}

// Path returns the journal's file.
func (j *FileJournal) Path() string { return j.path }

// Records returns the journal as it was when opened (after its repair),
// for [Guard.Replay]; records written since are not in it. Each call
// returns a new reader.
func (j *FileJournal) Records() io.Reader {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.f == nil {
		return errReader{fmt.Errorf("guard: journal %s: %w", j.path, os.ErrClosed)}
	}
	return io.NewSectionReader(j.f, 0, j.opened)
}

// Repaired returns what was cut off on open, or nil when the journal
// ended with a whole line.
func (j *FileJournal) Repaired() *TornTailError { return j.torn }

// Write appends p, which must be whole lines (each record one line, ending
// in a newline, as the guard writes them), and syncs the file before it
// returns. A failure is returned with nothing of p left in the file (see
// the type's comment); p not ending in a newline is refused with
// subject.ErrInvalid, since a crash between two writes of one line would
// tear it.
func (j *FileJournal) Write(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if p[len(p)-1] != '\n' {
		return 0, fmt.Errorf("guard: journal %s: a write must end with a newline: %w", j.path, subject.ErrInvalid)
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	switch {
	case j.f == nil:
		return 0, fmt.Errorf("guard: journal %s: %w", j.path, os.ErrClosed)
	case j.broken != nil:
		return 0, fmt.Errorf("guard: journal %s: an earlier write could not be undone, nothing more is written: %w", j.path, j.broken)
	}
	n, err := j.f.Write(p)
	if err == nil {
		err = j.f.Sync()
	}
	if err != nil {
		// Cut off whatever reached the file, so that the next record is
		// not appended to a torn one.
		if terr := errors.Join(j.f.Truncate(j.size), j.f.Sync()); terr != nil {
			j.broken = terr
			err = errors.Join(err, fmt.Errorf("cutting the failed write off: %w", terr))
		}
		return 0, fmt.Errorf("guard: journal %s: %w", j.path, err)
	}
	j.size += int64(n)
	return n, nil
}

// Close closes the journal and releases its lock. Calling it again does
// nothing.
func (j *FileJournal) Close() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.f == nil {
		return nil
	}
	err := j.f.Close()
	j.f = nil
	return errors.Join(err, j.lock.Release())
}

// errReader fails every read with err.
type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

// maxTail bounds the torn bytes kept in a TornTailError.
const maxTail = 256

// TornTailError reports a journal whose last line does not end in a
// newline: a record cut short by a crash, or by a short write on a full
// disk, while it was written. The guard writes each record, newline
// included, before acting on it, so such a record was never acted on:
// [Guard.Replay] skips it and reports it in its error, and
// [OpenFileJournal] cuts it off ([FileJournal.Repaired]). It matches
// subject.ErrInvalid.
type TornTailError struct {
	// Path is the journal's file; empty for a reader given to Replay.
	Path string
	// Line is the torn line's number, counting from 1; Offset is the
	// offset of its first byte and Len its length.
	Line   int
	Offset int64
	Len    int64
	// Tail is the start of the torn bytes (at most 256).
	Tail []byte
	// Repaired is set when OpenFileJournal cut the bytes off the file.
	Repaired bool
}

// Error says where the torn line is and what was done with it.
func (e *TornTailError) Error() string {
	where := "journal"
	if e.Path != "" {
		where += " " + e.Path
	}
	done := "not replayed"
	if e.Repaired {
		done = "cut off"
	}
	return fmt.Sprintf("guard: %s: line %d (offset %d, %d bytes) does not end in a newline: a record cut short while it was written, never acted on; %s",
		where, e.Line, e.Offset, e.Len, done)
}

// Is makes a TornTailError match subject.ErrInvalid.
func (e *TornTailError) Is(target error) bool { return target == subject.ErrInvalid }

// tornTail returns the TornTailError of a line that lacks its newline.
func tornTail(line int, offset int64, b []byte) *TornTailError {
	return &TornTailError{Line: line, Offset: offset, Len: int64(len(b)), Tail: bytes.Clone(b[:min(len(b), maxTail)])}
}
