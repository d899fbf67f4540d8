package tikv

import (
	"context"
	"errors"
	"fmt"

	"github.com/kvops/operator/pdclient"
	"github.com/kvops/operator/subject"
)

// The Subject offers PD's maintenance lock (RFC-0118,
// /pd/api/v2/maintenance) to a guard: subject/guard's MaintenanceLock.
// The guard takes it for the actions it exists for and releases it when
// they end; tiup, TiDB Operator and pd-ctl take the same lock, so that one
// maintenance task runs at a time in the whole cluster. PD's lock has no
// expiry, and releases a task only by its type and id (another id of the
// same type is refused, another type is "no such task"), so releasing
// never removes another tool's task.

// AcquireMaintenance takes PD's maintenance lock for task (its Type, ID
// and Description; Started is PD's to set). When another task holds it,
// whatever its type, the error is a *subject.MaintenanceHeldError naming
// it (and matches subject.ErrPrecondition); PD's lock is not re-entrant,
// so that includes task itself. A PD without the lock answers with an
// error matching subject.ErrNotSupported. An answer that was lost matches
// subject.ErrUnconfirmed: the lock may be held by task, and
// ReleaseMaintenance releases it either way. Any other error took
// nothing. A subject in dry-run mode (Config.DryRun, or a ctx made by
// subject.WithDryRun) sends nothing and returns nil.
//
// PD API: PUT /pd/api/v2/maintenance/{type}/{id}
func (s *Subject) AcquireMaintenance(ctx context.Context, task subject.MaintenanceTask) error {
	if s.dryRun || subject.IsDryRun(ctx) {
		return nil
	}
	return maintenanceError("taking", s.pd.StartMaintenance(ctx, task.Type, task.ID, task.Description))
}

// ReleaseMaintenance releases PD's maintenance lock if task holds it: nil
// when it did, and when no task of its type holds it (nothing of task's
// to release). When a task of the same type with another id holds it,
// PD leaves it and the error is a *subject.MaintenanceHeldError naming
// it: another tool's lock is never released. Errors otherwise as
// AcquireMaintenance's; in dry-run mode it sends nothing.
//
// PD API: DELETE /pd/api/v2/maintenance/{type}/{id}
func (s *Subject) ReleaseMaintenance(ctx context.Context, task subject.MaintenanceTask) error {
	if s.dryRun || subject.IsDryRun(ctx) {
		return nil
	}
	err := s.pd.FinishMaintenance(ctx, task.Type, task.ID)
	if errors.Is(err, pdclient.ErrNotFound) {
		return nil
	}
	return maintenanceError("releasing", err)
}

// MaintenanceTasks returns the tasks holding PD's maintenance lock: at
// most one; none (never nil) when it is free. A PD without the lock
// answers with an error matching subject.ErrNotSupported.
//
// PD API: GET /pd/api/v2/maintenance
func (s *Subject) MaintenanceTasks(ctx context.Context) ([]subject.MaintenanceTask, error) {
	ts, err := s.pd.MaintenanceTasks(ctx)
	if err != nil {
		return nil, maintenanceError("reading", err)
	}
	out := make([]subject.MaintenanceTask, 0, len(ts))
	for _, t := range ts {
		out = append(out, taskFromPD(t))
	}
	return out, nil
}

func taskFromPD(t pdclient.MaintenanceTask) subject.MaintenanceTask {
	return subject.MaintenanceTask{Type: t.Type, ID: t.ID, Description: t.Description, Started: t.Started()}
}

// maintenanceError names the lock in err and turns PD's conflict into a
// *subject.MaintenanceHeldError, keeping pdclient's error for its status.
func maintenanceError(what string, err error) error {
	if err == nil {
		return nil
	}
	var ce *pdclient.MaintenanceConflictError
	if errors.As(err, &ce) {
		return fmt.Errorf("tikv: %s PD's maintenance lock: %w (%w)", what, &subject.MaintenanceHeldError{Holder: taskFromPD(ce.Holder)}, err)
	}
	return fmt.Errorf("tikv: %s PD's maintenance lock: %w", what, err)
}
