package tikv

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sync"

	"github.com/kvops/operator/internal/filelock"
	"github.com/kvops/operator/subject"
)

// EvictionLedger remembers which stores' leaders this library evicted, so
// that FinishRestart and ReconcileEvictions remove those evictions and
// never one that someone else made. PD cannot tell: its evict-leader
// scheduler keeps store ids and key ranges, and no owner. Implementations
// must be safe for concurrent use and should survive the process
// (FileLedger keeps it in a file).
type EvictionLedger interface {
	// Add records that the library evicts the store's leaders. It is
	// called before the request is sent, so that a crash in between leaves
	// a record rather than an eviction nobody owns; when the eviction is
	// then refused (nothing reached PD), PrepareRestart calls Remove to
	// undo it, and keeps it when the outcome is unconfirmed.
	Add(ctx context.Context, store subject.StoreID) error
	// Remove forgets the store, once its eviction is removed.
	Remove(ctx context.Context, store subject.StoreID) error
	// Stores lists the stores recorded, in ascending order.
	Stores(ctx context.Context) ([]subject.StoreID, error)
}

// FileLedger is an EvictionLedger kept in a JSON file (an array of store
// ids), for one process at a time:
//
//   - Each change rewrites the file whole through a temporary file in the
//     same directory (synced), a rename and a sync of the directory, so
//     that a crash leaves either the old list or the new one, and a
//     change that returned is on disk. Temporary files a crash left are
//     removed on open.
//   - OpenFileLedger takes an exclusive lock (path+".lock", which names the
//     holder's pid, host and identity) until Close: a second process
//     opening the same ledger, or a second open in the same one, fails at
//     once with a *subject.LockedError naming the holder. Two operators
//     sharing a ledger would each remove the other's evictions as not
//     their own. The lock is flock(2), on Linux, macOS and the BSDs,
//     released by the kernel when the process dies; elsewhere
//     OpenFileLedger fails with an error matching subject.ErrNotSupported.
//   - A file that is not a JSON array of store ids is refused
//     (subject.ErrInvalid), on open and on every read, never read as
//     empty.
type FileLedger struct {
	path string
	lock *filelock.Lock
	mu   sync.Mutex // serialises changes; guards lock
}

// FileLedgerConfig configures OpenFileLedger. Every zero field takes the
// default its comment names.
type FileLedgerConfig struct {
	// Identity is written into the lock file, for the error a second
	// opener gets to name this one (default: the program's name).
	Identity string
}

// OpenFileLedger opens the ledger kept in path (a missing file is an empty
// ledger) and locks it against every other writer until Close.
func OpenFileLedger(path string, cfg FileLedgerConfig) (*FileLedger, error) {
	if path == "" {
		return nil, fmt.Errorf("tikv: eviction ledger: no path: %w", subject.ErrInvalid)
	}
	lock, err := filelock.Acquire(path+".lock", path, cfg.Identity)
	if err != nil {
		return nil, fmt.Errorf("tikv: eviction ledger: %w", err)
	}
	l := &FileLedger{path: path, lock: lock}
	// Left by a crash in the middle of a change: nobody else writes here.
	leftovers, _ := filepath.Glob(path + ledgerTemp)
	for _, f := range leftovers {
		_ = os.Remove(f)
	}
	if _, err := l.read(); err != nil {
		_ = lock.Release()
		return nil, err
	}
	return l, nil
}

// ledgerTemp is the pattern of the ledger's temporary files, after its
// path.
const ledgerTemp = ".tmp-*"

// Close releases the ledger's lock. Calling it again does nothing; the
// ledger is not used after it.
func (l *FileLedger) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	err := l.lock.Release()
	l.lock = nil
	return err
}

// Stores reads the ledger.
func (l *FileLedger) Stores(context.Context) ([]subject.StoreID, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.lock == nil {
		return nil, fmt.Errorf("tikv: eviction ledger %s: %w", l.path, os.ErrClosed)
	}
	return l.read()
}

func (l *FileLedger) read() ([]subject.StoreID, error) {
	b, err := os.ReadFile(l.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("tikv: eviction ledger: %w", err)
	}
	var ids []subject.StoreID
	if err := json.Unmarshal(b, &ids); err != nil {
		return nil, fmt.Errorf("tikv: eviction ledger %s: %w: %w", l.path, err, subject.ErrInvalid)
	}
	slices.Sort(ids)
	return slices.Compact(ids), nil
}

// Add records a store.
func (l *FileLedger) Add(_ context.Context, store subject.StoreID) error {
	return l.update(func(ids []subject.StoreID) []subject.StoreID { return append(ids, store) })
}

// Remove forgets a store.
func (l *FileLedger) Remove(_ context.Context, store subject.StoreID) error {
	return l.update(func(ids []subject.StoreID) []subject.StoreID {
		return slices.DeleteFunc(ids, func(id subject.StoreID) bool { return id == store })
	})
}

func (l *FileLedger) update(f func([]subject.StoreID) []subject.StoreID) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.lock == nil {
		return fmt.Errorf("tikv: eviction ledger %s: %w", l.path, os.ErrClosed)
	}
	old, err := l.read()
	if err != nil {
		return err
	}
	ids := f(slices.Clone(old))
	slices.Sort(ids)
	ids = slices.Compact(ids)
	if slices.Equal(ids, old) {
		return nil
	}
	if ids == nil {
		ids = []subject.StoreID{}
	}
	b, err := json.Marshal(ids)
	if err != nil {
		return fmt.Errorf("tikv: eviction ledger: %w", err)
	}
	dir := filepath.Dir(l.path)
	tmp, err := os.CreateTemp(dir, filepath.Base(l.path)+ledgerTemp)
	if err != nil {
		return fmt.Errorf("tikv: eviction ledger: %w", err)
	}
	_, werr := tmp.Write(b)
	serr := tmp.Sync()
	cerr := tmp.Close()
	if err := errors.Join(werr, serr, cerr); err != nil {
		_ = os.Remove(tmp.Name())
		return fmt.Errorf("tikv: eviction ledger: %w", err)
	}
	if err := os.Rename(tmp.Name(), l.path); err != nil {
		_ = os.Remove(tmp.Name())
		return fmt.Errorf("tikv: eviction ledger: %w", err)
	}
	// The rename is durable only once the directory is.
	if err := filelock.SyncDir(dir); err != nil {
		return fmt.Errorf("tikv: eviction ledger: syncing %s after the rename: %w", dir, err)
	}
	return nil
}
