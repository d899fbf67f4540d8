// Package filelock keeps one writer per record file: an exclusive,
// non-blocking lock on a lock file beside the record, held for as long as
// the record is open, with the holder's pid, host and identity written
// into the lock file so that a second opener's error can name it.
//
// The lock is flock(2) on Linux, macOS and the BSDs: it belongs to the open
// file, so a second open in the same process is refused like another
// process, and the kernel releases it when the process dies, however it
// dies. The lock file is never removed (removing it would let two openers
// lock two different files). Elsewhere Acquire fails with an error
// matching subject.ErrNotSupported. Locks are only as good as the file
// system's flock: local file systems keep them; some network file systems
// do not.
package filelock

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/kvops/operator/subject"
)

// holderWaits and holderPause bound how long a second opener waits for the
// holder's name: 100 × 10ms.
const (
	holderWaits = 100
	holderPause = 10 * time.Millisecond
)

// Lock is a held lock. Release it when the record is closed.
type Lock struct {
	f *os.File
}

// Acquire takes the lock of record at lockPath (created if missing)
// without waiting, and writes the holder into it: this process, on this
// host, under identity (the program's name when empty). A lock held by
// another process, or by another Acquire in this one, gives a
// *subject.LockedError naming its holder.
func Acquire(lockPath, record, identity string) (*Lock, error) {
	f, err := os.OpenFile(lockPath, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening the lock file: %w", err)
	}
	// A holder writes its name just after it takes the lock: a second
	// opener that comes in between reads an empty file. It looks again
	// for a moment (or takes the lock, if the holder let it go), so that
	// its error names the holder; a holder that never writes its name is
	// reported as such.
	for wait := 0; ; wait++ {
		held, err := tryLock(f)
		if err != nil {
			_ = f.Close()
			return nil, fmt.Errorf("locking %s: %w", lockPath, err)
		}
		if !held {
			break
		}
		h := readHolder(f)
		if h == (subject.LockHolder{}) && wait < holderWaits {
			time.Sleep(holderPause)
			continue
		}
		_ = f.Close()
		return nil, &subject.LockedError{Path: record, Lock: lockPath, Holder: h}
	}
	if identity == "" {
		identity = filepath.Base(os.Args[0])
	}
	host, _ := os.Hostname()
	b, _ := json.Marshal(subject.LockHolder{PID: os.Getpid(), Host: host, Identity: identity, Since: time.Now().UTC().Round(time.Second)})
	if err := writeAll(f, b); err != nil {
		_ = unlock(f)
		_ = f.Close()
		return nil, fmt.Errorf("writing the holder into %s: %w", lockPath, err)
	}
	return &Lock{f: f}, nil
}

// Release clears the holder from the lock file and releases the lock.
// Calling it again does nothing.
func (l *Lock) Release() error {
	if l == nil || l.f == nil {
		return nil
	}
	f := l.f
	l.f = nil
	return errors.Join(f.Truncate(0), unlock(f), f.Close())
}

func writeAll(f *os.File, b []byte) error {
	if err := f.Truncate(0); err != nil {
		return err
	}
	if _, err := f.WriteAt(b, 0); err != nil {
		return err
	}
	return f.Sync()
}

// readHolder reads the holder a lock file names; the zero value when it
// cannot (the holder is writing it).
func readHolder(f *os.File) subject.LockHolder {
	var h subject.LockHolder
	b, err := io.ReadAll(io.NewSectionReader(f, 0, 4096))
	if err == nil {
		_ = json.Unmarshal(b, &h)
	}
	return h
}

// SyncDir makes the entries of dir (a file created, renamed or removed in
// it) durable.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	return errors.Join(syncDir(d), d.Close())
}
