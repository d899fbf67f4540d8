package subject

import (
	"fmt"
	"time"
)

// LockHolder says who holds a record that one writer at a time may keep (a
// guard's journal, an eviction ledger), as the holder wrote itself into
// the record's lock file.
type LockHolder struct {
	// PID and Host are the holding process's id and its host's name.
	PID  int    `json:"pid"`
	Host string `json:"host"`
	// Identity is what the holder says it is (the program's name unless
	// it was configured).
	Identity string `json:"identity,omitempty"`
	// Since is when it took the lock.
	Since time.Time `json:"since"`
}

// String returns e.g. `pid 4242 on host-a ("mcp"), since 2026-12-01T12:00:00Z`.
func (h LockHolder) String() string {
	if h.PID == 0 && h.Host == "" {
		return "a holder that has not written its name yet"
	}
	s := fmt.Sprintf("pid %d on %s", h.PID, h.Host)
	if h.Identity != "" {
		s += fmt.Sprintf(" (%q)", h.Identity)
	}
	if !h.Since.IsZero() {
		s += ", since " + h.Since.UTC().Format(time.RFC3339)
	}
	return s
}

// LockedError is the error of opening a record that another writer holds:
// another process, or another open in the same one. Two writers of one
// journal or ledger would each decide alone (two guards passing the same
// blast radius), so the second is refused at once rather than made to
// wait. It matches [ErrPrecondition].
type LockedError struct {
	// Path is the record (the journal's or the ledger's file); Lock is
	// the lock file beside it.
	Path, Lock string
	// Holder is who holds it; its zero value when the holder had not
	// written its name yet.
	Holder LockHolder
}

// Error returns e.g. "/var/lib/op/journal.jsonl is held by pid 4242 on
// host-a ("mcp"), since ...: one writer at a time".
func (e *LockedError) Error() string {
	return fmt.Sprintf("%s is held by %s (lock file %s): one writer at a time", e.Path, e.Holder, e.Lock)
}

// Is makes a LockedError match [ErrPrecondition].
func (e *LockedError) Is(target error) bool { return target == ErrPrecondition }
