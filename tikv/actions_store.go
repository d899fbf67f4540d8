package tikv

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/kvops/operator/pdclient"
	"github.com/kvops/operator/subject"
)

// storeAndEvicted checks a store id, reads the store and the stores whose
// leaders a scheduler keeps off them.
func (a *act) storeAndEvicted(store subject.StoreID) (subject.Store, evictions, error) {
	if err := checkStoreID("store", store); err != nil {
		return subject.Store{}, nil, err
	}
	st, err := a.s.store(a.ctx, store)
	if err != nil {
		return st, nil, err
	}
	ev, err := a.s.leaderEvictions(a.ctx)
	return st, ev, err
}

// evictLeaderStores returns the stores of PD's evict-leader scheduler;
// none when it does not run. One request: the waits poll it.
//
// PD API: GET /pd/api/v1/scheduler-config/evict-leader-scheduler/list
func (s *Subject) evictLeaderStores(ctx context.Context) ([]subject.StoreID, error) {
	cfg, err := s.pd.EvictLeaderConfig(ctx)
	if errors.Is(err, pdclient.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []subject.StoreID
	for _, id := range cfg.Stores() {
		out = append(out, subject.StoreID(id))
	}
	return out, nil
}

// DrainStore sets a store Offline: PD moves its regions to other stores,
// after which the store becomes a tombstone. UndrainStore cancels it.
//
// Refused (nothing changed; PhaseRefused): store 0 (subject.ErrInvalid);
// a store that does not exist (subject.ErrNotFound); a tombstone, or a
// store whose replicas the other Up stores could not hold, and while PD's
// scheduling is halted (halt-scheduling: no checker would move the
// regions; the error says so) (subject.ErrPrecondition). Draining a
// draining (Offline) store does nothing: the result has NoChange set,
// halted or not.
//
// Otherwise it waits, at most Config.Actions.Timeouts.DrainStore, until PD
// shows the store Offline, and returns then, with the regions still on the
// store in the result: moving them away can take hours, and the action
// does not wait for it. subject.ErrUnconfirmed: the bound or ctx ended
// before PD showed it Offline, or the answer to the request was lost.
func (s *Subject) DrainStore(ctx context.Context, store subject.StoreID) (subject.Result, error) {
	return s.action(ctx, "drain_store", "store "+store.String(), func(a *act) error {
		if err := checkStoreID("store", store); err != nil {
			return err
		}
		st, err := s.store(ctx, store)
		if err != nil {
			return err
		}
		switch st.State {
		case subject.StateOffline:
			a.r.Summary = fmt.Sprintf("store %d is already draining (%d regions left); nothing to do", store, st.RegionCount)
			a.r.NoChange = true
			return nil
		case subject.StateTombstone:
			return fmt.Errorf("store %d is a tombstone: %w", store, subject.ErrPrecondition)
		}
		all, err := s.Stores(ctx)
		if err != nil {
			return err
		}
		repl, err := s.pd.ReplicationConfig(ctx)
		if err != nil {
			return err
		}
		others := 0
		for _, o := range all {
			if o.ID != store && o.State == subject.StateUp {
				others++
			}
		}
		if others < int(repl.MaxReplicas) {
			return fmt.Errorf("draining store %d would leave %d Up stores for %d replicas: %w", store, others, repl.MaxReplicas, subject.ErrPrecondition)
		}
		if err := a.needScheduling("no checker would move its regions away"); err != nil {
			return err
		}
		if a.dry {
			a.r.Summary = fmt.Sprintf("would set store %d Offline; PD would move its %d regions to the other %d Up stores", store, st.RegionCount, others)
			return nil
		}
		if err := a.submit(func() error { return s.pd.DeleteStore(ctx, uint64(store)) }); err != nil {
			return err
		}
		if err := a.waitState(s.acts.Timeouts.DrainStore, st, true, subject.StateOffline, subject.StateTombstone); err != nil {
			return err
		}
		left, err := s.regionsOn(ctx, store, false)
		if err == nil {
			a.r.Regions = left
		}
		a.r.Summary = fmt.Sprintf("set store %d Offline; PD is moving its %d regions away", store, len(left))
		return nil
	})
}

// UndrainStore cancels a drain that has not finished: the store goes back
// to Up and keeps the regions it still has.
//
// Refused (nothing changed; PhaseRefused): store 0 (subject.ErrInvalid);
// a store that does not exist (subject.ErrNotFound); a store already
// drained and removed, and while PD's scheduling is halted (halt-scheduling:
// no checker would repair what the drain left half-moved; the error says
// so) (subject.ErrPrecondition). A store that is not draining is left
// alone ("nothing to do"; the result has NoChange set), halted or not.
//
// Otherwise it waits, at most Config.Actions.Timeouts.UndrainStore, until
// PD no longer shows the store Offline: Up, or Disconnected or Down when
// its process is not running (the summary says which).
// subject.ErrUnconfirmed: the bound or ctx ended first, or the answer to
// the request was lost.
func (s *Subject) UndrainStore(ctx context.Context, store subject.StoreID) (subject.Result, error) {
	return s.action(ctx, "undrain_store", "store "+store.String(), func(a *act) error {
		if err := checkStoreID("store", store); err != nil {
			return err
		}
		st, err := s.store(ctx, store)
		if err != nil {
			return err
		}
		switch st.State {
		case subject.StateOffline:
		case subject.StateTombstone:
			return fmt.Errorf("store %d has already been drained and removed: %w", store, subject.ErrPrecondition)
		default:
			a.r.Summary = fmt.Sprintf("store %d is %s, not draining; nothing to do", store, st.State)
			a.r.NoChange = true
			return nil
		}
		if err := a.needScheduling("no checker would repair what the cancelled drain left half-moved"); err != nil {
			return err
		}
		if a.dry {
			a.r.Summary = fmt.Sprintf("would return store %d to Up with its %d regions", store, st.RegionCount)
			return nil
		}
		if err := a.submit(func() error { return s.pd.CancelOffline(ctx, uint64(store)) }); err != nil {
			return err
		}
		if err := a.waitState(s.acts.Timeouts.UndrainStore, st, false, subject.StateUp, subject.StateDisconnected, subject.StateDown); err != nil {
			return err
		}
		now, err := s.store(ctx, store)
		if err == nil && now.State != subject.StateUp {
			a.r.Summary = fmt.Sprintf("returned store %d to service with %d regions; it is %s: its process is not heartbeating", store, now.RegionCount, now.State)
			return nil
		}
		a.r.Summary = fmt.Sprintf("returned store %d to service with %d regions", store, st.RegionCount)
		return nil
	})
}

// waitState waits until the store (as read before, st) is in one of the
// states wanted; regions counts the regions left on it in the progress
// (a drain's).
func (a *act) waitState(bound time.Duration, st subject.Store, regions bool, want ...subject.StoreState) error {
	total := st.RegionCount
	return a.wait(bound, fmt.Sprintf("store %d %s", st.ID, want[0]), func(p *subject.Progress) (bool, error) {
		now, err := a.s.store(a.ctx, st.ID)
		if err != nil {
			return false, err
		}
		p.Seen = fmt.Sprintf("store %d is %s with %d regions", st.ID, now.State, now.RegionCount)
		if regions {
			p.Left, p.Total, p.Unit = now.RegionCount, total, "regions"
		}
		return slices.Contains(want, now.State), nil
	})
}

// EvictLeaders adds the store to PD's evict-leader scheduler, which moves
// every leader off it and keeps them off, until RestoreLeaders.
//
// Refused (nothing changed; PhaseRefused): store 0 (subject.ErrInvalid);
// a store that does not exist (subject.ErrNotFound); a store that is not
// Up and not evicted already, or whose eviction would leave fewer than
// Config.Actions.MinLeaderStores other Up stores able to lead, counting
// stores already evicted by any scheduler, and while PD's scheduling is
// halted (halt-scheduling: no scheduler would move the leaders; the error
// says so) (subject.ErrPrecondition, saying which). A dry run checks the
// same.
//
// Evicting an evicted store submits nothing and waits like the first call;
// when it leads no region already, the result has NoChange set, halted or
// not. That includes a store PD's own scheduler evicts (evict-slow-store
// for a store PD judges slow, evict-stopping-store for a TiKV that is
// stopping): no second eviction is added, and the summary names PD's
// scheduler. PD lifts its own by itself, and the store may then lead
// again: call EvictLeaders again then to keep it empty.
// It waits, at most Config.Actions.Timeouts.EvictLeaders, until PD shows
// the store leading no region. subject.ErrUnconfirmed: the bound or ctx
// ended with leaders left (the error says how many, and the result lists
// their regions; the scheduler stays in place), or the request failed in a
// way that may have applied it (pdclient.NotApplied). When this call sent
// nothing (the store was evicted already), the bound ending is a refusal
// matching subject.ErrPrecondition, and ctx ending one wrapping ctx's
// error: nothing changed. A refusal by PD (or a request that never reached
// it) is a refusal too.
func (s *Subject) EvictLeaders(ctx context.Context, store subject.StoreID) (subject.Result, error) {
	return s.action(ctx, "evict_leaders", "store "+store.String(), func(a *act) error {
		return a.evictLeaders(store, 0, s.acts.Timeouts.EvictLeaders, nil)
	})
}

// evictLeaders is EvictLeaders, accepting up to remain leaders left;
// record, if not nil, is called just before the request is sent.
func (a *act) evictLeaders(store subject.StoreID, remain int, bound time.Duration, record func() error) error {
	s, ctx := a.s, a.ctx
	st, ev, err := a.storeAndEvicted(store)
	if err != nil {
		return err
	}
	// Evicted already: by the evict-leader scheduler, or by PD's own
	// (slow or stopping store), which keeps the leaders off as well. Either
	// way this call sends nothing, and never adds a second eviction.
	already, byPD := ev.byLeaderScheduler(store), ev.byPD(store)
	evicted := already || len(byPD) > 0
	if !evicted {
		if st.State != subject.StateUp {
			return fmt.Errorf("store %d is %s, not Up: %w", store, st.State, subject.ErrPrecondition)
		}
		all, err := s.Stores(ctx)
		if err != nil {
			return err
		}
		var able []string
		for _, o := range all {
			if o.ID != store && o.State == subject.StateUp && len(ev[o.ID]) == 0 {
				able = append(able, o.ID.String())
			}
		}
		if len(able) < s.acts.MinLeaderStores {
			return fmt.Errorf("evicting store %d's leaders would leave %d other Up stores able to lead ([%s]; evicted already: %v), fewer than %d: %w",
				store, len(able), strings.Join(able, " "), ev.stores(), s.acts.MinLeaderStores, subject.ErrPrecondition)
		}
	}
	who := "already evicted"
	if !already && len(byPD) > 0 {
		who = "already evicted by " + pdEvictionNote(store, byPD)
	}
	if evicted && st.LeaderCount <= remain {
		a.r.Summary = fmt.Sprintf("store %d's leaders are %s (%d left); nothing to do", store, who, st.LeaderCount)
		a.r.NoChange = true
		return nil
	}
	if err := a.needScheduling("no scheduler would move the leaders"); err != nil {
		return err
	}
	if a.dry {
		if evicted {
			a.r.Summary = fmt.Sprintf("store %d's leaders are %s (%d left); would wait until it leads at most %d", store, who, st.LeaderCount, remain)
		} else {
			a.r.Summary = fmt.Sprintf("would evict the %d leaders of store %d and keep new ones off it", st.LeaderCount, store)
		}
		return nil
	}
	if !evicted {
		if record != nil {
			if err := record(); err != nil {
				return err
			}
		}
		if err := a.submit(func() error { return s.pd.EvictLeader(ctx, uint64(store)) }); err != nil {
			return err
		}
	}
	left := st.LeaderCount
	err = a.wait(bound, fmt.Sprintf("store %d leading at most %d regions", store, remain), func(p *subject.Progress) (bool, error) {
		now, err := s.store(ctx, store)
		if err != nil {
			return false, err
		}
		left = now.LeaderCount
		p.Seen = fmt.Sprintf("store %d still leads %d regions", store, left)
		p.Left, p.Total, p.Unit = left, st.LeaderCount, "leaders"
		return left <= remain, nil
	})
	if err != nil {
		var ae *subject.ActionError
		if errors.As(err, &ae) && ctx.Err() == nil {
			// The wait's last read said how many; which ones is one
			// more read, skipped when the caller has gone.
			if ids, lerr := s.regionsOn(ctx, store, true); lerr == nil {
				a.r.Regions = ids
				ae.Reason += fmt.Sprintf("; the regions it leads: %v", ids)
			}
			ae.Reason += "; PD's evict-leader scheduler gives no reason: regions with pending or down peers cannot move their leader"
		}
		return err
	}
	if !already && len(byPD) > 0 {
		a.r.Summary = fmt.Sprintf("store %d's leaders are evicted (%d left): %s; this call sent nothing", store, left, pdEvictionNote(store, byPD))
		return nil
	}
	a.r.Summary = fmt.Sprintf("evicted the leaders of store %d (%d left)", store, left)
	return nil
}

// RestoreLeaders removes the store from PD's evict-leader scheduler, so
// that it may lead regions again.
//
// Refused (nothing changed; PhaseRefused): store 0 (subject.ErrInvalid);
// a store that does not exist (subject.ErrNotFound); while PD's scheduling
// is halted (halt-scheduling: no scheduler would bring leaders back; the
// error says so), subject.ErrPrecondition. A store the evict-leader
// scheduler does not list is left alone ("nothing to do"; NoChange), in a
// dry run too, halted or not. PD's own evictions (evict-slow-store,
// evict-stopping-store) are never removed: the summary names them.
//
// Otherwise it waits, at most Config.Actions.Timeouts.RestoreLeaders,
// until PD no longer lists the store in the scheduler and, when the store
// is Up and holds regions and PD's own schedulers do not evict it, until
// it leads one again (balance-leader brings them back gradually). subject.ErrUnconfirmed: the bound or ctx ended
// first, or the answer to the request was lost.
func (s *Subject) RestoreLeaders(ctx context.Context, store subject.StoreID) (subject.Result, error) {
	return s.action(ctx, "restore_leaders", "store "+store.String(), func(a *act) error {
		return a.restoreLeaders(store, s.acts.Timeouts.RestoreLeaders)
	})
}

func (a *act) restoreLeaders(store subject.StoreID, bound time.Duration) error {
	s, ctx := a.s, a.ctx
	st, ev, err := a.storeAndEvicted(store)
	if err != nil {
		return err
	}
	note := pdEvictionNote(store, ev.byPD(store))
	if !ev.byLeaderScheduler(store) {
		a.r.Summary = fmt.Sprintf("store %d's leaders were not evicted; nothing to do", store)
		if note != "" {
			a.r.Summary = fmt.Sprintf("store %d is not in the evict-leader scheduler; %s, and that is left to PD; nothing to do", store, note)
		}
		a.r.NoChange = true
		return nil
	}
	if err := a.needScheduling("no scheduler would bring leaders back"); err != nil {
		return err
	}
	if a.dry {
		a.r.Summary = fmt.Sprintf("would let store %d lead regions again (it leads %d now)", store, st.LeaderCount)
		if note != "" {
			a.r.Summary = fmt.Sprintf("would remove store %d from the evict-leader scheduler (it leads %d now); %s, and that would be left to PD", store, st.LeaderCount, note)
		}
		return nil
	}
	err = a.submit(func() error { return s.pd.RemoveEvictLeader(ctx, uint64(store)) })
	if err != nil && !errors.Is(err, pdclient.ErrNotFound) {
		return err
	}
	leads := 0
	err = a.wait(bound, fmt.Sprintf("store %d leading regions again", store), func(p *subject.Progress) (bool, error) {
		ev, err := s.evictLeaderStores(ctx)
		if err != nil {
			return false, err
		}
		if slices.Contains(ev, store) {
			p.Seen = fmt.Sprintf("PD still lists store %d in its evict-leader scheduler", store)
			return false, nil
		}
		if note != "" {
			// PD's own eviction keeps the leaders off: waiting for them
			// would wait for PD to lift it.
			p.Seen = note
			return true, nil
		}
		now, err := s.store(ctx, store)
		if err != nil {
			return false, err
		}
		leads = now.LeaderCount
		p.Seen = fmt.Sprintf("store %d is %s and leads %d regions", store, now.State, leads)
		return leads > 0 || now.State != subject.StateUp || now.RegionCount == 0, nil
	})
	if err != nil {
		return err
	}
	if note != "" {
		a.r.Summary = fmt.Sprintf("removed store %d from the evict-leader scheduler; %s, and that is left to PD", store, note)
		return nil
	}
	a.r.Summary = fmt.Sprintf("store %d may lead regions again (it leads %d)", store, leads)
	return nil
}
