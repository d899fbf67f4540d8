package guard_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kvops/operator/subject"
	"github.com/kvops/operator/subject/guard"
)

// lockFake is a maintenance lock with PD's rules (one task for the whole
// cluster, not re-entrant, released only by its own type and id, another
// type's release finding nothing), recording every call. The guard with
// PD's own lock, through tikv, is tested on the simulated cluster
// (lock_sim_test.go) and on a real PD (tikv's realpd tests).
type lockFake struct {
	mu    sync.Mutex
	task  *subject.MaintenanceTask
	errs  map[string]error // by method: "acquire", "release", "list"
	calls []string
	// takeThenFail: acquire takes the lock, then answers errs["acquire"]
	// (an answer lost after PD applied it).
	takeThenFail bool
}

func newLockFake() *lockFake { return &lockFake{errs: map[string]error{}} }

func (l *lockFake) setErr(method string, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.errs[method] = err
}

func (l *lockFake) AcquireMaintenance(_ context.Context, t subject.MaintenanceTask) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.calls = append(l.calls, "acquire "+t.Type+"/"+t.ID)
	if err := l.errs["acquire"]; err != nil && !l.takeThenFail {
		return err
	}
	if l.task != nil {
		return &subject.MaintenanceHeldError{Holder: *l.task}
	}
	t.Started = epoch
	l.task = &t
	return l.errs["acquire"]
}

func (l *lockFake) ReleaseMaintenance(_ context.Context, t subject.MaintenanceTask) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.calls = append(l.calls, "release "+t.Type+"/"+t.ID)
	if err := l.errs["release"]; err != nil {
		return err
	}
	switch {
	case l.task == nil || l.task.Type != t.Type:
		return nil
	case l.task.ID != t.ID:
		return &subject.MaintenanceHeldError{Holder: *l.task}
	}
	l.task = nil
	return nil
}

func (l *lockFake) MaintenanceTasks(context.Context) ([]subject.MaintenanceTask, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.calls = append(l.calls, "list")
	if err := l.errs["list"]; err != nil {
		return nil, err
	}
	if l.task == nil {
		return []subject.MaintenanceTask{}, nil
	}
	return []subject.MaintenanceTask{*l.task}, nil
}

// holder returns the task holding the lock, "" when it is free.
func (l *lockFake) holder() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.task == nil {
		return ""
	}
	return l.task.Type + "/" + l.task.ID
}

func (l *lockFake) take(typ, id string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.task = &subject.MaintenanceTask{Type: typ, ID: id, Description: "rolling restart by tiup", Started: epoch}
}

// lockEvents returns the lock's records as "action event ActionID".
func lockEvents(t *testing.T, j *journal) []string {
	t.Helper()
	var out []string
	for _, r := range j.Records(t) {
		if r.Lock != nil {
			require.Equal(t, "lock:"+r.ActionID, r.ID)
			require.Equal(t, r.ActionID, r.Lock.ID, "the task's id is the action's")
			require.Equal(t, r.Action, r.Lock.Type, "the task's type is the action's name")
			out = append(out, fmt.Sprintf("%s %s %s", r.Action, r.Event, r.ActionID))
		}
	}
	return out
}

// TestLockHeldFromEvictionToRestore: evict_leaders takes the cluster's
// maintenance lock right before it is sent and holds it until
// restore_leaders of the same store is confirmed; drain_store holds it for
// the call; transfer_leader, split_region, the schedule limits and the
// undoing actions never take it. Each step is journalled.
func TestLockHeldFromEvictionToRestore(t *testing.T) {
	f, lk := newFake(5), newLockFake()
	g, j, _ := newGuard(t, f, guard.Config{Mode: guard.ModeAutomatic, MaintenanceLock: lk, Identity: "op-east"})
	ctx := t.Context()

	_, err := g.EvictLeaders(ctx, 2)
	require.NoError(t, err)
	require.Equal(t, "evict_leaders/a1", lk.holder())
	held, ok := g.HeldMaintenanceLock()
	require.True(t, ok)
	require.Equal(t, "a1", held.ID)
	require.Contains(t, held.Description, "op-east", "the description names the operator")
	require.Contains(t, held.Description, "store 2")

	_, err = g.SetScheduleLimit(ctx, subject.LeaderLimit, 4)
	require.NoError(t, err)
	_, err = g.RestoreLeaders(ctx, 3)
	require.NoError(t, err)
	require.Equal(t, "evict_leaders/a1", lk.holder(), "restoring another store ends nothing")
	_, err = g.RestoreLeaders(ctx, 2)
	require.NoError(t, err)
	require.Empty(t, lk.holder(), "released once the eviction is undone")
	_, ok = g.HeldMaintenanceLock()
	require.False(t, ok)

	_, err = g.TransferLeader(ctx, 9, 3)
	require.NoError(t, err, "a transfer takes no lock")
	_, err = g.DrainStore(ctx, 4)
	require.NoError(t, err)
	require.Empty(t, lk.holder(), "a drain holds it for its call only")

	require.Equal(t, []string{
		"evict_leaders lock_requested a1", "evict_leaders lock_taken a1", "evict_leaders lock_released a1",
		"drain_store lock_requested a6", "drain_store lock_taken a6", "drain_store lock_released a6",
	}, lockEvents(t, j))
	// Taken after everything else and right before the call.
	require.Equal(t, []string{"list", "list", "acquire evict_leaders/a1", "release evict_leaders/a1",
		"list", "list", "acquire drain_store/a6", "release drain_store/a6"}, lk.calls)
	recs := j.Records(t)
	order := []guard.Event{}
	for _, r := range recs {
		if r.ID == "a1" || r.ID == "lock:a1" {
			order = append(order, r.Event)
		}
	}
	require.Equal(t, []guard.Event{guard.EventRequested, guard.EventApproved, guard.EventLockRequested, guard.EventLockTaken,
		guard.EventSubmitted, guard.EventConfirmed, guard.EventLockReleased}, order)
}

// TestLockHeldByAnotherToolRefuses: while another tool (tiup restarting a
// store) holds the lock, an action that takes it is refused before
// approval is asked, naming the holder, and nothing is sent; the actions
// that take no lock go on. An action whose lock another task took while
// it awaited approval is refused at the lock itself.
func TestLockHeldByAnotherToolRefuses(t *testing.T) {
	f, lk := newFake(5), newLockFake()
	lk.take("tikv_restart", "store-3")
	asked := 0
	var infos []guard.ActionInfo
	g, _, _ := newGuard(t, f, guard.Config{Mode: guard.ModeApproveEach, MaintenanceLock: lk,
		OnAction: func(ai guard.ActionInfo) { infos = append(infos, ai) },
		Approver: func(context.Context, guard.Request) (guard.Approval, error) {
			asked++
			return guard.Approval{Approved: true, By: "alice"}, nil
		}})
	ctx := t.Context()
	for _, call := range []func() (subject.Result, error){
		func() (subject.Result, error) { return g.EvictLeaders(ctx, 2) },
		func() (subject.Result, error) { return g.DrainStore(ctx, 2) },
	} {
		_, err := call()
		requireRefusal(t, err, guard.ErrMaintenanceLock)
		require.ErrorIs(t, err, subject.ErrPrecondition, "the holder's error says why")
		var he *subject.MaintenanceHeldError
		require.ErrorAs(t, err, &he)
		require.Equal(t, "store-3", he.Holder.ID)
		require.Contains(t, err.Error(), "tikv_restart/store-3")
	}
	require.Zero(t, asked, "refused before anyone was asked")
	require.Equal(t, "maintenance_lock", infos[len(infos)-1].Refusal)
	for _, c := range f.Calls() {
		require.True(t, strings.HasPrefix(c, "dry "), "sent %q", c)
	}
	_, err := g.TransferLeader(ctx, 9, 3)
	require.NoError(t, err)
	require.Equal(t, "tikv_restart/store-3", lk.holder())

	// Taken by someone else while this action awaited approval.
	lk.mu.Lock()
	lk.task = nil
	lk.mu.Unlock()
	g2, _, _ := newGuard(t, f, guard.Config{Mode: guard.ModeApproveEach, MaintenanceLock: lk,
		Approver: func(context.Context, guard.Request) (guard.Approval, error) {
			lk.take("tikv_restart", "store-4")
			return guard.Approval{Approved: true, By: "alice"}, nil
		}})
	_, err = g2.EvictLeaders(ctx, 2)
	requireRefusal(t, err, guard.ErrMaintenanceLock)
	require.Contains(t, err.Error(), "store-4")
	require.Equal(t, "tikv_restart/store-4", lk.holder(), "another tool's lock is left alone")
	require.NotContains(t, f.Calls(), "evict_leaders store 2")
}

func requireRefusal(t *testing.T, err error, rule error) {
	t.Helper()
	var ae *subject.ActionError
	require.ErrorAs(t, err, &ae)
	require.Equal(t, subject.PhaseRefused, ae.Phase, "%v", err)
	require.ErrorIs(t, err, rule)
	require.ErrorIs(t, err, subject.ErrNotApproved)
}

// TestLockReleasedWhenTheActionEnds: a lock taken for an action that was
// then refused, failed or found not applied is released at once; one whose
// outcome is unknown is kept until it is settled; an action refused after
// the lock was taken (the kill switch) releases it.
func TestLockReleasedWhenTheActionEnds(t *testing.T) {
	ctx := t.Context()
	for _, tt := range []struct {
		name string
		err  error
		held bool
	}{
		{"refused by the subject", &subject.ActionError{Phase: subject.PhaseRefused, Err: subject.ErrPrecondition}, false},
		{"failed", &subject.ActionError{Phase: subject.PhaseFailed, Err: subject.ErrActionFailed}, false},
		{"unconfirmed", &subject.ActionError{Phase: subject.PhaseUnconfirmed, Err: subject.ErrUnconfirmed}, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f, lk := newFake(5), newLockFake()
			f.setErr("evict_leaders", tt.err)
			g, _, _ := newGuard(t, f, guard.Config{Mode: guard.ModeAutomatic, MaintenanceLock: lk})
			_, err := g.EvictLeaders(ctx, 2)
			require.Error(t, err)
			require.Contains(t, lk.calls, "acquire evict_leaders/a1")
			require.Equal(t, tt.held, lk.holder() != "")
			if !tt.held {
				return
			}
			require.NoError(t, g.Resolve(ctx, "a1", guard.Resolution{Outcome: guard.OutcomeNotApplied, By: "carol"}))
			require.Empty(t, lk.holder(), "released once found not applied")
		})
	}
	t.Run("killed after the lock", func(t *testing.T) {
		f, lk := newFake(5), newLockFake()
		// The kill comes between the lock and the submission: from the
		// lock's own acquire.
		wrapped := &killingLock{lockFake: lk}
		g, _, _ := newGuard(t, f, guard.Config{Mode: guard.ModeAutomatic, MaintenanceLock: wrapped})
		wrapped.kill = g.Kill
		_, err := g.EvictLeaders(ctx, 2)
		requireRefusal(t, err, guard.ErrKilled)
		require.Equal(t, []string{"list", "list", "acquire evict_leaders/a1", "release evict_leaders/a1"}, lk.calls)
		require.Empty(t, lk.holder())
		require.NotContains(t, f.Calls(), "evict_leaders store 2")
	})
}

// killingLock engages the kill switch when the lock is taken.
type killingLock struct {
	*lockFake
	kill func()
}

func (k *killingLock) AcquireMaintenance(ctx context.Context, t subject.MaintenanceTask) error {
	err := k.lockFake.AcquireMaintenance(ctx, t)
	k.kill()
	return err
}

// TestLockReusedForTheSameStore: an action on the store whose maintenance
// holds the lock goes on under it (a retry, a prepare_restart after an
// evict_leaders), and the lock stays until the eviction is undone; one on
// another store is refused by the blast radius first.
func TestLockReusedForTheSameStore(t *testing.T) {
	f, lk := newFake(5), newLockFake()
	g, _, _ := newGuard(t, f, guard.Config{Mode: guard.ModeAutomatic, MaintenanceLock: lk})
	ctx := t.Context()
	_, err := g.EvictLeaders(ctx, 2)
	require.NoError(t, err)
	_, err = g.EvictLeaders(ctx, 2)
	require.NoError(t, err, "the same store, under the same lock")
	_, err = g.DrainStore(ctx, 2)
	require.NoError(t, err)
	require.Equal(t, "evict_leaders/a1", lk.holder(), "the drain's end is not the eviction's")
	_, err = g.EvictLeaders(ctx, 3)
	requireRefusal(t, err, guard.ErrBusy)
	n := 0
	for _, c := range lk.calls {
		if strings.HasPrefix(c, "acquire") {
			n++
		}
	}
	require.Equal(t, 1, n, "taken once")
	_, err = g.RestoreLeaders(ctx, 2)
	require.NoError(t, err)
	require.Empty(t, lk.holder())
}

// TestLockMissingReportedOnce: a cluster without the maintenance lock is
// said once, at Warn; the guard then acts as it did without one, asking no
// more.
func TestLockMissingReportedOnce(t *testing.T) {
	f, lk := newFake(5), newLockFake()
	missing := fmt.Errorf("PD answered 404 page not found: %w", subject.ErrNotSupported)
	for _, m := range []string{"acquire", "release", "list"} {
		lk.setErr(m, missing)
	}
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
	g, _, _ := newGuard(t, f, guard.Config{Mode: guard.ModeAutomatic, MaintenanceLock: lk, Logger: log})
	ctx := t.Context()
	for _, call := range []func() (subject.Result, error){
		func() (subject.Result, error) { return g.EvictLeaders(ctx, 2) },
		func() (subject.Result, error) { return g.RestoreLeaders(ctx, 2) },
		func() (subject.Result, error) { return g.DrainStore(ctx, 4) },
		func() (subject.Result, error) { return g.EvictLeaders(ctx, 3) },
	} {
		_, err := call()
		require.NoError(t, err, "acts as before")
	}
	require.Equal(t, 1, strings.Count(logs.String(), "no maintenance lock"), "said once:\n%s", logs.String())
	require.Equal(t, []string{"list"}, lk.calls, "asked once")
	require.Contains(t, f.Calls(), "evict_leaders store 3")
}

// TestLockAcquireUnconfirmed: a lock whose taking ended unconfirmed may be
// held: the guard releases it (by its own type and id) and refuses the
// action; when that release fails, it releases it before its next lock.
func TestLockAcquireUnconfirmed(t *testing.T) {
	f, lk := newFake(5), newLockFake()
	lk.takeThenFail = true
	lk.setErr("acquire", fmt.Errorf("answer lost: %w", subject.ErrUnconfirmed))
	lk.setErr("release", fmt.Errorf("no PD: %w", subject.ErrUnavailable))
	g, j, _ := newGuard(t, f, guard.Config{Mode: guard.ModeAutomatic, MaintenanceLock: lk})
	ctx := t.Context()
	_, err := g.EvictLeaders(ctx, 2)
	requireRefusal(t, err, guard.ErrMaintenanceLock)
	require.NotErrorIs(t, err, subject.ErrUnconfirmed, "the action was not sent")
	require.NotContains(t, f.Calls(), "evict_leaders store 2")
	require.Equal(t, "evict_leaders/a1", lk.holder(), "taken, and its release failed")
	require.Equal(t, []string{"evict_leaders lock_requested a1"}, lockEvents(t, j), "the journal shows it possibly held")

	lk.setErr("acquire", nil)
	lk.setErr("release", nil)
	lk.takeThenFail = false
	_, err = g.EvictLeaders(ctx, 2)
	require.NoError(t, err)
	require.Equal(t, "evict_leaders/a2", lk.holder(), "the stale lock was released first")
	require.Equal(t, []string{"evict_leaders lock_requested a1", "evict_leaders lock_released a1",
		"evict_leaders lock_requested a2", "evict_leaders lock_taken a2"}, lockEvents(t, j))
}

// TestLockReplayed: after a crash, Replay releases the lock the journal
// shows this guard took when what took it is over, holds it again when it
// is not (an eviction never restored), and never touches another tool's.
func TestLockReplayed(t *testing.T) {
	ctx := t.Context()
	// crashAfter runs an evict_leaders of store 2 whose journal ends at
	// the record that cut says, and returns that journal.
	crashAfter := func(t *testing.T, lk *lockFake, cut guard.Event) []byte {
		t.Helper()
		f := newFake(5)
		g, j, _ := newGuard(t, f, guard.Config{Mode: guard.ModeAutomatic, MaintenanceLock: lk})
		_, err := g.EvictLeaders(ctx, 2)
		require.NoError(t, err)
		var out bytes.Buffer
		for line := range bytes.Lines(j.Bytes()) {
			out.Write(line)
			if bytes.Contains(line, []byte(`"event":"`+string(cut)+`"`)) {
				break
			}
		}
		return out.Bytes()
	}
	replay := func(t *testing.T, lk guard.MaintenanceLock, journal []byte) (*guard.Guard, *journal) {
		t.Helper()
		g, j, _ := newGuard(t, newFake(5), guard.Config{Mode: guard.ModeAutomatic, MaintenanceLock: lk,
			NewID: func() string { return fmt.Sprintf("b%d", time.Now().UnixNano()) }})
		require.NoError(t, g.Replay(ctx, bytes.NewReader(journal)))
		return g, j
	}

	t.Run("taken, never sent", func(t *testing.T) {
		lk := newLockFake()
		journal := crashAfter(t, lk, guard.EventLockTaken)
		lk.take("evict_leaders", "a1") // as the crash left it
		g, j := replay(t, lk, journal)
		require.Empty(t, lk.holder(), "nothing was sent: released")
		_, held := g.HeldMaintenanceLock()
		require.False(t, held)
		require.Equal(t, []string{"evict_leaders lock_released a1"}, lockEvents(t, j))
	})
	t.Run("eviction confirmed, never restored", func(t *testing.T) {
		lk := newLockFake()
		journal := crashAfter(t, lk, guard.EventConfirmed)
		require.Equal(t, "evict_leaders/a1", lk.holder())
		g, _ := replay(t, lk, journal)
		held, ok := g.HeldMaintenanceLock()
		require.True(t, ok, "the eviction is in effect: the lock is held again")
		require.Equal(t, "a1", held.ID)
		require.Equal(t, "evict_leaders/a1", lk.holder())
		_, err := g.RestoreLeaders(ctx, 2)
		require.NoError(t, err)
		require.Empty(t, lk.holder(), "the restore releases it")
	})
	t.Run("someone released it meanwhile", func(t *testing.T) {
		lk := newLockFake()
		journal := crashAfter(t, lk, guard.EventConfirmed)
		lk.take("tikv_restart", "tiup-7") // the holder's lock overridden, then taken by tiup
		g, j := replay(t, lk, journal)
		_, held := g.HeldMaintenanceLock()
		require.False(t, held)
		require.Equal(t, "tikv_restart/tiup-7", lk.holder(), "another tool's lock is never touched")
		require.NotContains(t, lk.calls, "release tikv_restart/tiup-7")
		recs := lockEvents(t, j)
		require.Equal(t, []string{"evict_leaders lock_released a1"}, recs)
	})
	for _, other := range [][2]string{{"evict_leaders", "op-2"}, {"tikv_restart", "tiup-1"}} {
		t.Run("requested, another tool holds "+other[0], func(t *testing.T) {
			lk := newLockFake()
			journal := crashAfter(t, lk, guard.EventLockRequested)
			lk.take(other[0], other[1]) // ours never taken: another tool's
			_, j := replay(t, lk, journal)
			require.Equal(t, other[0]+"/"+other[1], lk.holder(), "another tool's lock is never released")
			require.Contains(t, lk.calls, "release evict_leaders/a1", "released by its own type and id only")
			require.Equal(t, []string{"evict_leaders lock_released a1"}, lockEvents(t, j))
		})
	}
	t.Run("no lock to release it with", func(t *testing.T) {
		lk := newLockFake()
		journal := crashAfter(t, lk, guard.EventLockTaken)
		g, _, _ := newGuard(t, newFake(5), guard.Config{Mode: guard.ModeAutomatic, NoMaintenanceLock: true})
		err := g.Replay(ctx, bytes.NewReader(journal))
		require.ErrorIs(t, err, subject.ErrPrecondition)
		require.Contains(t, err.Error(), "a1")
	})
	t.Run("release fails", func(t *testing.T) {
		lk := newLockFake()
		journal := crashAfter(t, lk, guard.EventLockTaken)
		lk.take("evict_leaders", "a1")
		lk.setErr("release", fmt.Errorf("no PD: %w", subject.ErrUnavailable))
		g, _, _ := newGuard(t, newFake(5), guard.Config{Mode: guard.ModeAutomatic, MaintenanceLock: lk})
		err := g.Replay(ctx, bytes.NewReader(journal))
		require.ErrorIs(t, err, subject.ErrUnavailable)
		lk.setErr("release", nil)
		_, err = g.DrainStore(ctx, 4)
		require.NoError(t, err)
		require.Empty(t, lk.holder(), "released before the next lock; the drain's released after it")
	})
}

// While another tool (here tiup, restarting a store) holds the cluster's
// maintenance lock, the guard evicts nothing and names the holder; once it
// is free, the eviction goes under a task of the guard's own, held until
// the leaders are restored. tikv.Subject offers PD's lock by itself; this
// example hands one in through Config.MaintenanceLock.
func ExampleMaintenanceLock() {
	ctx := context.Background()
	lk := newLockFake()
	lk.take("tikv_restart", "tiup-store-3")
	g, err := guard.New(newFake(5), guard.Config{Mode: guard.ModeAutomatic, MaintenanceLock: lk, NewID: ids()})
	if err != nil {
		panic(err)
	}
	_, err = g.EvictLeaders(ctx, 2)
	var he *subject.MaintenanceHeldError
	if errors.Is(err, guard.ErrMaintenanceLock) && errors.As(err, &he) {
		fmt.Println("refused: held by", he.Holder.Type+"/"+he.Holder.ID)
	}

	lk.mu.Lock()
	lk.task = nil // tiup is done
	lk.mu.Unlock()
	if _, err := g.EvictLeaders(ctx, 2); err != nil {
		panic(err)
	}
	held, _ := g.HeldMaintenanceLock()
	fmt.Println("held:", held.Type+"/"+held.ID)
	if _, err := g.RestoreLeaders(ctx, 2); err != nil {
		panic(err)
	}
	_, still := g.HeldMaintenanceLock()
	fmt.Println("held after the restore:", still)
	// Output:
	// refused: held by tikv_restart/tiup-store-3
	// held: evict_leaders/a2
	// held after the restore: false
}
