package guard

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/kvops/operator/subject"
)

// MaintenanceLock is a lock on the whole cluster that every tool
// maintaining it shares, one task at a time: PD's maintenance lock
// (RFC-0118, /pd/api/v2/maintenance), which tiup, TiDB Operator and pd-ctl
// take too. A subject offers it by implementing this interface
// (tikv.Subject does); the guard consults it as it consults
// [Leadership], and knows no PD. The lock has no expiry: a holder that
// dies keeps it until someone releases it.
//
// # What takes it, and until when
//
// The guard takes it for the actions it exists for, immediately before
// submission (after [Leadership]), and releases it when their maintenance
// ends:
//
//   - prepare_restart takes it, and holds it until a finish_restart (or a
//     restore_leaders) of the same store is confirmed: the store is
//     restarted between the two calls, by someone else, and that restart
//     is what no other tool may overlap (tiup holds the same lock across
//     its own restart of a store).
//   - evict_leaders takes it, and holds it until a restore_leaders (or a
//     finish_restart) of the same store is confirmed: a store without
//     leaders is maintenance under way, and another tool evicting or
//     restarting a second store meanwhile is what "never two stores
//     evicted" forbids.
//   - drain_store takes it for the call only: the drain goes on for hours
//     after the call and ends by itself (the store becomes a tombstone),
//     an end no action of the guard sees; a lock without expiry held for
//     an end nobody reports would stop every tool until someone released
//     it by hand. While the store drains, the stability gate (a store not
//     Up) keeps this guard's own disruptive actions off, and other tools
//     see the Offline store in PD.
//   - No other action takes it: transfer_leader and split_region move one
//     region for seconds, as PD's own schedulers do all the time; the
//     undoing actions (restore_leaders, finish_restart, undrain_store) end
//     maintenance and never wait for another tool's.
//
// An action that takes it while this guard holds it already for the same
// store (a prepare_restart after an evict_leaders, a retry) goes on under
// the same lock. The lock is also read with the blast radius (before
// approval, and again after it), so that nobody approves an action the
// lock would refuse. An action whose lock another task holds is refused
// with [ErrMaintenanceLock], its error carrying a
// *[subject.MaintenanceHeldError] that names the holder: a tiup restart
// in progress stops the guard from starting one.
//
// # The journal, and crashes
//
// Taking and releasing are journalled: [EventLockRequested] (before the
// request is sent), [EventLockTaken], [EventLockNotTaken] and
// [EventLockReleased], each with [Record.Lock] naming the task. The
// task's type is the action's name and its id the action's record id:
// unique to the journal, so that [Guard.Replay] knows the locks it holds.
// It releases a lock whose action is over, takes up one whose action is
// still in effect (an eviction never restored, an outcome still unknown),
// and never touches another tool's: a lock is released only by its own
// type and id, which PD refuses for any other task.
//
// A cluster without the lock (its methods answer
// subject.ErrNotSupported) is reported once, at Warn, and the guard goes
// on as without one.
type MaintenanceLock interface {
	// AcquireMaintenance takes the lock for task. Errors: another task
	// holds it (task itself included: it is not re-entrant), a
	// *subject.MaintenanceHeldError naming it; no lock in this cluster,
	// subject.ErrNotSupported; an outcome not known (the answer was
	// lost), subject.ErrUnconfirmed; anything else took nothing.
	AcquireMaintenance(ctx context.Context, task subject.MaintenanceTask) error
	// ReleaseMaintenance releases the lock if task holds it: nil when it
	// did, or when task does not hold it and no task of its type does.
	// Another task of the same type holding it is a
	// *subject.MaintenanceHeldError, and is left alone.
	ReleaseMaintenance(ctx context.Context, task subject.MaintenanceTask) error
	// MaintenanceTasks lists the tasks holding the lock; none when free.
	MaintenanceTasks(ctx context.Context) ([]subject.MaintenanceTask, error)
}

// lockSpan says how long an action that takes the maintenance lock holds
// it (see MaintenanceLock).
type lockSpan struct {
	// undoneBy are the actions whose confirmation on the same store
	// releases it.
	undoneBy []string
	// callOnly: released when the call ends, whatever its outcome once it
	// is known.
	callOnly bool
}

var lockSpans = map[string]lockSpan{
	ActionPrepareRestart: {undoneBy: []string{ActionFinishRestart, ActionRestoreLeaders}},
	ActionEvictLeaders:   {undoneBy: []string{ActionRestoreLeaders, ActionFinishRestart}},
	ActionDrainStore:     {callOnly: true},
}

// releaseTimeout bounds a release made after the caller's context ended
// (an action cut short still releases the lock it took).
const releaseTimeout = 30 * time.Second

// heldLock is a maintenance lock this guard holds, or may hold.
type heldLock struct {
	task     subject.MaintenanceTask
	action   string // the action that took it
	actionID string // its record id
	target   string
	args     Args
}

func (h heldLock) store() subject.StoreID { return h.args.Store }

// HeldMaintenanceLock returns the maintenance lock this guard holds, if it
// holds one.
func (g *Guard) HeldMaintenanceLock() (subject.MaintenanceTask, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.held == nil {
		return subject.MaintenanceTask{}, false
	}
	return g.held.task, true
}

// lockFor returns the lock the guard consults for action, nil for none.
func (g *Guard) lockFor(action string) MaintenanceLock {
	if _, ok := lockSpans[action]; !ok || g.lock == nil {
		return nil
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.noLock {
		return nil
	}
	return g.lock
}

// lockMissing records that the cluster offers no maintenance lock: the
// guard says so once, at Warn, and asks no more.
func (g *Guard) lockMissing(ctx context.Context, err error) {
	g.mu.Lock()
	first := !g.noLock
	g.noLock = true
	g.mu.Unlock()
	if first {
		g.log.LogAttrs(ctx, slog.LevelWarn, "guard: the cluster offers no maintenance lock; acting without it, as if none were configured",
			slog.String("error", err.Error()))
	}
}

func (g *Guard) lockRecord(h heldLock, ev Event, reason string) Record {
	task := h.task
	return Record{
		Schema: SchemaVersion, Time: g.clock(), ID: "lock:" + h.actionID, Event: ev,
		Action: h.action, Target: h.target, Args: h.args, Mode: g.mode, Reason: reason, Lock: &task, ActionID: h.actionID,
	}
}

// lockRefusal refuses req under ErrMaintenanceLock.
func lockRefusal(req Request, reason string, err error) error {
	if err == nil {
		err = ErrMaintenanceLock
	} else {
		err = fmt.Errorf("%w: %w", ErrMaintenanceLock, err)
	}
	return &subject.ActionError{Action: req.Action, Target: req.Target, Phase: subject.PhaseRefused, Reason: reason, Err: err}
}

// checkLock refuses req, an action that takes the maintenance lock, when
// another task holds it: the blast radius's look at the lock, made before
// approval and again after it.
func (g *Guard) checkLock(ctx context.Context, req Request) error {
	lk := g.lockFor(req.Action)
	if lk == nil {
		return nil
	}
	g.retryStale(ctx)
	tasks, err := lk.MaintenanceTasks(ctx)
	switch {
	case errors.Is(err, subject.ErrNotSupported):
		g.lockMissing(ctx, err)
		return nil
	case err != nil:
		return fmt.Errorf("guard: reading the maintenance lock: %w", err)
	}
	g.mu.Lock()
	h := g.held
	g.mu.Unlock()
	for _, t := range tasks {
		if h != nil && t.Type == h.task.Type && t.ID == h.task.ID {
			if h.store() == req.Args.Store {
				continue
			}
			return lockRefusal(req, fmt.Sprintf("this guard holds the maintenance lock for %s %s (%s) until it is undone", h.action, h.target, h.actionID), nil)
		}
		return lockRefusal(req, "the cluster's maintenance lock is held by "+t.String(), &subject.MaintenanceHeldError{Holder: t})
	}
	return nil
}

// takeLock takes the maintenance lock for req, when req is an action that
// takes it, right before req is submitted. An error refuses req: nothing
// was sent, and no lock is left held.
func (g *Guard) takeLock(ctx context.Context, req Request) error {
	lk := g.lockFor(req.Action)
	if lk == nil {
		return nil
	}
	g.mu.Lock()
	h := g.held
	g.mu.Unlock()
	if h != nil {
		if h.store() == req.Args.Store {
			return nil // the same store's maintenance goes on under it
		}
		return lockRefusal(req, fmt.Sprintf("this guard holds the maintenance lock for %s %s (%s) until it is undone", h.action, h.target, h.actionID), nil)
	}
	g.retryStale(ctx)
	nh := heldLock{
		task:   subject.MaintenanceTask{Type: req.Action, ID: req.ID, Description: fmt.Sprintf("%s %s by %s (guard action %s)", req.Action, req.Target, g.identity, req.ID)},
		action: req.Action, actionID: req.ID, target: req.Target, args: req.Args,
	}
	// Recorded before it is sent: a crash after PD took it leaves a
	// record Replay releases it by.
	if err := g.write(ctx, g.lockRecord(nh, EventLockRequested, "")); err != nil {
		return &subject.ActionError{Action: req.Action, Target: req.Target, Phase: subject.PhaseRefused,
			Reason: "the journal could not record the maintenance lock's request, so neither was sent", Err: fmt.Errorf("%w: %w", ErrJournal, err)}
	}
	err := lk.AcquireMaintenance(ctx, nh.task)
	var he *subject.MaintenanceHeldError
	switch {
	case err == nil:
		g.mu.Lock()
		g.held = &nh
		g.mu.Unlock()
		// A record not written leaves "requested", which Replay reads
		// as possibly held: the same.
		_ = g.write(ctx, g.lockRecord(nh, EventLockTaken, ""))
		return nil
	case errors.As(err, &he):
		_ = g.write(ctx, g.lockRecord(nh, EventLockNotTaken, "held by "+he.Holder.String()))
		return lockRefusal(req, "the cluster's maintenance lock is held by "+he.Holder.String(), err)
	case errors.Is(err, subject.ErrNotSupported):
		g.lockMissing(ctx, err)
		_ = g.write(ctx, g.lockRecord(nh, EventLockNotTaken, "the cluster offers no maintenance lock"))
		return nil
	case errors.Is(err, subject.ErrUnconfirmed):
		// It may be held: release it (by its own type and id only).
		reason := "taking the maintenance lock ended unconfirmed; released it"
		if rerr := g.releaseLock(ctx, nh, "taking it ended unconfirmed"); rerr != nil {
			reason = fmt.Sprintf("taking the maintenance lock ended unconfirmed, and releasing it failed (%v): the guard releases it before its next lock, and Replay does", rerr)
		}
		return lockRefusal(req, reason, err)
	}
	_ = g.write(ctx, g.lockRecord(nh, EventLockNotTaken, err.Error()))
	return lockRefusal(req, "the maintenance lock could not be taken", err)
}

// releaseLock releases h's lock and records it. A release that failed
// (the cluster could not be reached) leaves h to retry: before the next
// lock is taken, and by Replay, whose journal still shows it held.
func (g *Guard) releaseLock(ctx context.Context, h heldLock, reason string) error {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), releaseTimeout)
	defer cancel()
	err := g.lock.ReleaseMaintenance(rctx, h.task)
	var he *subject.MaintenanceHeldError
	switch {
	case err == nil:
	case errors.As(err, &he):
		reason = joinReason(reason, "another task holds it now ("+he.Holder.String()+"), left alone")
	case errors.Is(err, subject.ErrNotSupported):
		reason = joinReason(reason, "the cluster no longer offers the lock")
	default:
		g.mu.Lock()
		if !slices.ContainsFunc(g.stale, func(s heldLock) bool { return s.actionID == h.actionID }) {
			g.stale = append(g.stale, h)
		}
		g.mu.Unlock()
		g.log.LogAttrs(ctx, slog.LevelWarn, "guard: the maintenance lock could not be released", slog.String("lock", h.task.String()),
			slog.String("error", err.Error()))
		return err
	}
	g.mu.Lock()
	g.stale = slices.DeleteFunc(g.stale, func(s heldLock) bool { return s.actionID == h.actionID })
	g.mu.Unlock()
	return g.write(ctx, g.lockRecord(h, EventLockReleased, reason))
}

// retryStale releases the locks whose release failed.
func (g *Guard) retryStale(ctx context.Context) {
	g.mu.Lock()
	stale := slices.Clone(g.stale)
	g.mu.Unlock()
	for _, h := range stale {
		_ = g.releaseLock(ctx, h, "released again after a failed release")
	}
}

// lockAfter releases the lock this guard holds when rec ends what it was
// taken for: the action that took it refused, failed or not applied, a
// drain ended, or the undoing action confirmed on the same store. It
// returns a warning for the caller's result when the release failed.
func (g *Guard) lockAfter(ctx context.Context, rec Record) string {
	g.mu.Lock()
	h := g.held
	release := false
	if h != nil {
		span := lockSpans[h.action]
		switch {
		case rec.ID == h.actionID:
			switch rec.Event {
			case EventRefused, EventFailed, EventNotApplied:
				release = true
			case EventConfirmed:
				release = span.callOnly
			}
		case rec.Event == EventConfirmed && rec.Args.Store == h.store() && slices.Contains(span.undoneBy, rec.Action):
			release = true
		}
	}
	if release {
		g.held = nil
	}
	g.mu.Unlock()
	if !release {
		return ""
	}
	if err := g.releaseLock(ctx, *h, fmt.Sprintf("%s %s (%s) %s", rec.Action, rec.Target, rec.ID, rec.Event)); err != nil {
		return fmt.Sprintf("guard: the maintenance lock %s was not released (%v): the guard releases it before its next lock, and Replay does", h.task, err)
	}
	return ""
}

// replayLocks takes up where the journal left the maintenance locks it
// shows possibly held (last record requested or taken), once the actions
// were replayed and rechecked: a lock whose action is still in effect (an
// eviction not undone, an outcome not known) is held again if the cluster
// still lists it; any other is released.
func (g *Guard) replayLocks(ctx context.Context, locks []Record) error {
	if len(locks) == 0 {
		return nil
	}
	if g.lock == nil {
		return fmt.Errorf("guard: the journal shows the maintenance lock %s possibly held, and this guard has no MaintenanceLock to release it with: release it by hand: %w",
			locks[0].Lock, subject.ErrPrecondition)
	}
	var errs []error
	for _, rec := range locks {
		h := heldLock{task: *rec.Lock, action: rec.Action, actionID: rec.ActionID, target: rec.Target, args: rec.Args}
		g.mu.Lock()
		_, pending := g.pending[h.actionID]
		inEffect := g.held == nil && (pending || !lockSpans[h.action].callOnly && g.evicted[h.store()])
		g.mu.Unlock()
		if !inEffect {
			if err := g.releaseLock(ctx, h, "replayed: what took it is over"); err != nil {
				errs = append(errs, fmt.Errorf("guard: releasing the maintenance lock %s on replay: %w", h.task, err))
			}
			continue
		}
		tasks, err := g.lock.MaintenanceTasks(ctx)
		switch {
		case errors.Is(err, subject.ErrNotSupported):
			g.lockMissing(ctx, err)
			_ = g.write(ctx, g.lockRecord(h, EventLockReleased, "replayed: the cluster no longer offers the lock"))
		case err != nil:
			// Held as far as anyone knows: kept, to be released by
			// what undoes its action.
			g.mu.Lock()
			g.held = &h
			g.mu.Unlock()
			errs = append(errs, fmt.Errorf("guard: reading the maintenance lock on replay (%s is kept as held): %w", h.task, err))
		case slices.ContainsFunc(tasks, func(t subject.MaintenanceTask) bool { return t.Type == h.task.Type && t.ID == h.task.ID }):
			g.mu.Lock()
			g.held = &h
			g.mu.Unlock()
			g.log.LogAttrs(ctx, slog.LevelInfo, "guard: replayed: holding the maintenance lock again", slog.String("lock", h.task.String()))
		default:
			_ = g.write(ctx, g.lockRecord(h, EventLockReleased, "replayed: the cluster no longer lists it (someone released it)"))
		}
	}
	return errors.Join(errs...)
}
