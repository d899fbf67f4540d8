package subject

import (
	"fmt"
	"time"
)

// MaintenanceTask is a task that holds, or asks for, a cluster's
// maintenance lock: one task at a time for the whole cluster, shared by
// every tool that maintains it (PD's maintenance lock, RFC-0118: tiup,
// TiDB Operator, pd-ctl and this library's guard). The lock has no
// expiry: a holder that dies keeps it until someone releases it.
type MaintenanceTask struct {
	// Type is the kind of task ("tikv_restart", "prepare_restart") and
	// ID the holder's name for it; a task is released by its type and id.
	Type string `json:"type"`
	ID   string `json:"id"`
	// Description is the holder's text, for people.
	Description string `json:"description,omitempty"`
	// Started is when the lock was taken; zero when not known.
	Started time.Time `json:"started,omitzero"`
}

// String returns e.g. `tikv_restart/store-1 ("rolling restart of store
// 1"), since 2026-12-07T03:02:51Z`.
func (t MaintenanceTask) String() string {
	s := t.Type + "/" + t.ID
	if t.Description != "" {
		s += fmt.Sprintf(" (%q)", t.Description)
	}
	if !t.Started.IsZero() {
		s += ", since " + t.Started.UTC().Format(time.RFC3339)
	}
	return s
}

// MaintenanceHeldError is the refusal of a cluster's maintenance lock:
// another task holds it, so the task asking must not start (or, releasing,
// the lock is another task's and was left alone). Nothing was changed. It
// matches [ErrPrecondition].
type MaintenanceHeldError struct {
	// Holder is the task that holds the lock.
	Holder MaintenanceTask
}

// Error names the holder.
func (e *MaintenanceHeldError) Error() string {
	return fmt.Sprintf("the cluster's maintenance lock is held by %s", e.Holder)
}

// Is makes a MaintenanceHeldError match [ErrPrecondition].
func (e *MaintenanceHeldError) Is(target error) bool { return target == ErrPrecondition }
