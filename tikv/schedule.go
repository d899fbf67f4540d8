package tikv

import (
	"context"
	"errors"
	"fmt"

	"github.com/kvops/operator/subject"
)

// PD's halt-scheduling is its own kill switch (pd-ctl config set
// halt-scheduling true; POST /pd/api/v1/config {"halt-scheduling":"true"}):
// while it is on, PD runs no scheduler and no checker (PD's
// scheduler_controller.go and checker_controller.go skip their rounds),
// but still creates and runs admin operators (recorded in
// pd-maintenance: a transfer-leader made while halted ends SUCCESS). So
// the actions that rely on a scheduler or a checker to take effect are
// refused while it is on, and the ones that are admin operators are not:
//
//   - evict_leaders and prepare_restart: the evict-leader scheduler moves
//     the leaders;
//   - restore_leaders and finish_restart: balance-leader brings them back;
//   - drain_store: the replica checker moves the regions away;
//   - undrain_store: the checkers repair what the cancelled drain left
//     half-moved;
//   - transfer_leader and split_region are admin operators: they run.
//
// An action that has nothing to do (NoChange) answers so, halted or not.

// halted reads PD's halt-scheduling.
//
// PD API: GET /pd/api/v1/config/schedule
func (s *Subject) halted(ctx context.Context) (bool, error) {
	sc, err := s.pd.ScheduleConfig(ctx)
	if err != nil {
		return false, err
	}
	return sc.HaltScheduling, nil
}

// errHalted says why an action is refused while PD's scheduling is
// halted; why is what would not happen.
func errHalted(why string) error {
	return fmt.Errorf("PD's scheduling is halted (halt-scheduling is on: PD runs no scheduler and no checker, only admin operators), so %s; lift it first (pd-ctl config set halt-scheduling false): %w",
		why, subject.ErrPrecondition)
}

// needScheduling refuses the action while PD's scheduling is halted: the
// action relies on a scheduler or a checker, which would not run; why says
// what would not happen.
func (a *act) needScheduling(why string) error {
	halted, err := a.s.halted(a.ctx)
	if err != nil {
		return err
	}
	if halted {
		return errHalted(why)
	}
	return nil
}

// ScheduleState is what PD's own automation is doing, as the
// schedule_state observation reports it: whether it is halted, what runs,
// whose leaders it keeps off, and who holds the maintenance lock.
type ScheduleState struct {
	// Halted is PD's halt-scheduling: while true, PD runs no scheduler
	// and no checker (no eviction, no balancing, no replica repair), but
	// runs admin operators; evict_leaders, restore_leaders, drain_store,
	// undrain_store, prepare_restart and finish_restart are refused.
	Halted bool `json:"halted"`
	// Schedulers are the schedulers PD runs.
	Schedulers []string `json:"schedulers"`
	// Evictions are the stores whose leaders a scheduler keeps off, with
	// who made each (see Subject.Evictions).
	Evictions []subject.Eviction `json:"evictions"`
	// MaintenanceLock says whether PD serves the maintenance lock (PD
	// older than it does not); Maintenance is the task holding it, if
	// any.
	MaintenanceLock bool                      `json:"maintenance_lock"`
	Maintenance     []subject.MaintenanceTask `json:"maintenance"`
}

// ScheduleState reads what PD's own automation is doing: halt-scheduling,
// the schedulers that run, the evictions and the maintenance lock. A PD
// without the maintenance lock is not an error: MaintenanceLock is then
// false.
//
// PD API: GET /pd/api/v1/config/schedule, GET /pd/api/v1/schedulers,
// GET /pd/api/v1/scheduler-config/{name}/list of each evicting scheduler
// that runs, GET /pd/api/v2/maintenance
func (s *Subject) ScheduleState(ctx context.Context) (ScheduleState, error) {
	var out ScheduleState
	halted, err := s.halted(ctx)
	if err != nil {
		return out, fmt.Errorf("tikv: schedule state: %w", err)
	}
	running, err := s.pd.Schedulers(ctx)
	if err != nil {
		return out, fmt.Errorf("tikv: schedule state: %w", err)
	}
	ev, err := s.evictionsOf(ctx, running)
	if err != nil {
		return out, fmt.Errorf("tikv: schedule state: %w", err)
	}
	evs, err := s.describeEvictions(ctx, ev)
	if err != nil {
		return out, fmt.Errorf("tikv: schedule state: %w", err)
	}
	tasks, err := s.MaintenanceTasks(ctx)
	switch {
	case errors.Is(err, subject.ErrNotSupported):
		tasks = []subject.MaintenanceTask{}
	case err != nil:
		return out, fmt.Errorf("tikv: schedule state: %w", err)
	default:
		out.MaintenanceLock = true
	}
	out.Halted, out.Schedulers, out.Evictions, out.Maintenance = halted, running, evs, tasks
	if out.Schedulers == nil {
		out.Schedulers = []string{}
	}
	return out, nil
}
