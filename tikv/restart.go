package tikv

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/kvops/operator/pdclient"
	"github.com/kvops/operator/subject"
)

var _ subject.StabilityChecker = (*Subject)(nil)

// CheckStable is the stability gate TiDB Operator passes before each
// disruptive step: it returns nil when every store but except is Up, PD
// has a leader, PD's scheduling is not halted (halt-scheduling, PD's own
// kill switch), and no region has a down or missing peer. Otherwise it
// returns an error matching subject.ErrPrecondition that says why (every
// reason found, not only the first). A PD that cannot be read is not
// stable either: the error then also wraps the read's error.
func (s *Subject) CheckStable(ctx context.Context, except subject.StoreID) error {
	var why []string
	var errs []error
	if m, err := s.pd.Leader(ctx); err != nil || m == nil || m.Name == "" {
		why = append(why, "PD has no leader")
		errs = append(errs, err)
	}
	stores, err := s.Stores(ctx)
	if err != nil {
		why = append(why, "PD's stores cannot be read")
		errs = append(errs, err)
	}
	for _, st := range stores {
		if st.ID != except && st.State != subject.StateUp && st.State != subject.StateTombstone {
			why = append(why, fmt.Sprintf("store %d is %s", st.ID, st.State))
		}
	}
	switch halted, err := s.halted(ctx); {
	case err != nil:
		why = append(why, "PD's halt-scheduling cannot be read")
		errs = append(errs, err)
	case halted:
		why = append(why, "PD's scheduling is halted (halt-scheduling is on: no scheduler or checker runs)")
	}
	for _, c := range []struct {
		check pdclient.RegionCheck
		what  string
	}{{pdclient.CheckDownPeer, "a down peer"}, {pdclient.CheckMissPeer, "a missing peer"}} {
		rs, err := s.pd.CheckRegions(ctx, c.check)
		switch {
		case err != nil:
			why = append(why, fmt.Sprintf("PD's regions with %s cannot be read", c.what))
			errs = append(errs, err)
		case len(rs) > 0:
			ids := make([]string, 0, min(len(rs), 5))
			for _, r := range rs[:min(len(rs), 5)] {
				ids = append(ids, fmt.Sprint(r.ID))
			}
			why = append(why, fmt.Sprintf("%d regions have %s (%s)", len(rs), c.what, strings.Join(ids, ", ")))
		}
	}
	if len(why) == 0 {
		return nil
	}
	return fmt.Errorf("tikv: cluster not stable: %s: %w", strings.Join(why, "; "), errors.Join(append([]error{subject.ErrPrecondition}, errs...)...))
}

// RestartOptions tune PrepareRestart and FinishRestart. Zero fields take
// the defaults documented on each.
type RestartOptions struct {
	// MaxLeadersLeft is how many leaders PrepareRestart accepts the store
	// still holds when it returns (default 0). Regions with pending or
	// down peers cannot move their leader; a restart with a few left costs
	// those regions an election.
	MaxLeadersLeft int
	// EvictTimeout bounds PrepareRestart's wait for the leaders to leave
	// (default Config.Actions.Timeouts.EvictLeaders).
	EvictTimeout time.Duration
	// UpTimeout bounds FinishRestart's wait for the store to be Up and
	// heartbeating (default 5m).
	UpTimeout time.Duration
	// StartedAfter, when set, makes FinishRestart also wait until the
	// store reports a process started after this time: the new process,
	// not the old one still running.
	StartedAfter time.Time
	// LeaderShare is the share of the mean leader count of the Up stores
	// that FinishRestart waits for the store to lead again (default 0.5).
	// tiup waits, bounded, for the store to recover the leader count it
	// had before the restart (RecoverStoreLeader, pkg/cluster/spec/tikv.go);
	// a share of the mean needs no memory of that count, so a
	// FinishRestart after a crash can judge it. PD's balance-leader leaves
	// stores within about ten leaders of each other, so on a cluster with
	// very few leaders per store use a smaller share.
	LeaderShare float64
	// LeaderTimeout bounds FinishRestart's wait for the leaders to come
	// back (default 10m).
	LeaderTimeout time.Duration
}

func (o RestartOptions) withDefaults(s *Subject) RestartOptions {
	o.EvictTimeout = cmp.Or(o.EvictTimeout, s.acts.Timeouts.EvictLeaders)
	o.UpTimeout = cmp.Or(o.UpTimeout, 5*time.Minute)
	o.LeaderShare = cmp.Or(o.LeaderShare, 0.5)
	o.LeaderTimeout = cmp.Or(o.LeaderTimeout, 10*time.Minute)
	return o
}

// PrepareRestart makes a store ready to be restarted: it passes the
// stability gate (CheckStable, not holding the store's own state against
// it), evicts the store's leaders and waits until the store leads at most
// opts.MaxLeadersLeft regions. It is resumable: called again after a crash
// or an error, it goes on from wherever the cluster is (an eviction
// already in place is kept and waited on; one that has left at most
// opts.MaxLeadersLeft leaders gives a result with NoChange set).
//
// Refused (nothing changed; PhaseRefused): store 0 (subject.ErrInvalid),
// a store that does not exist (subject.ErrNotFound), a cluster that is not
// stable (PD's halt-scheduling on included) or an eviction EvictLeaders
// would refuse (subject.ErrPrecondition, saying why); a failed ledger write, before anything was sent. A dry
// run checks the same. subject.ErrUnconfirmed: the bound or ctx ended with
// more leaders left (the result lists their regions), or the request
// failed in a way that may have applied it: call it again. When the store
// was evicted already, this call sends nothing, and the bound ending is a
// refusal (subject.ErrPrecondition): call it again too.
//
// With Config.Actions.Ledger, the store is recorded before the eviction is
// sent, and forgotten again when the eviction is refused (nothing reached
// PD), so that the ledger never claims an eviction PD did not get; it is
// kept when the outcome is unconfirmed.
func (s *Subject) PrepareRestart(ctx context.Context, store subject.StoreID, opts RestartOptions) (subject.Result, error) {
	opts = opts.withDefaults(s)
	return s.action(ctx, "prepare_restart", "store "+store.String(), func(a *act) error {
		if err := checkStoreID("store", store); err != nil {
			return err
		}
		if err := s.CheckStable(ctx, store); err != nil {
			return err
		}
		var record func() error
		added := false
		if s.acts.Ledger != nil {
			record = func() error {
				added = true
				return s.acts.Ledger.Add(ctx, store)
			}
		}
		if err := a.evictLeaders(store, opts.MaxLeadersLeft, opts.EvictTimeout, record); err != nil {
			if added && refused(err) {
				return s.undoLedger(ctx, store, err)
			}
			return err
		}
		if !a.dry || a.r.NoChange {
			a.r.Summary = fmt.Sprintf("store %d is ready to restart: %s", store, a.r.Summary)
		}
		return nil
	})
}

// refused reports whether an action's error, as s.action will read it,
// says that nothing reached PD: an error that is not a
// *subject.ActionError, or one in PhaseRefused.
func refused(err error) bool {
	var ae *subject.ActionError
	return !errors.As(err, &ae) || ae.Phase == subject.PhaseRefused
}

// undoLedger forgets store, whose eviction the ledger recorded before it
// was refused (err): left there, it would let FinishRestart or
// ReconcileEvictions remove an eviction someone else makes later. It runs
// even when ctx has ended. An undo that fails is added to err.
func (s *Subject) undoLedger(ctx context.Context, store subject.StoreID, err error) error {
	uerr := s.acts.Ledger.Remove(context.WithoutCancel(ctx), store)
	if uerr == nil {
		return err
	}
	uerr = fmt.Errorf("the ledger still lists store %d, whose eviction was refused; remove it by hand: %w", store, uerr)
	var ae *subject.ActionError
	if errors.As(err, &ae) {
		ae.Err = errors.Join(ae.Err, uerr)
		return err
	}
	return errors.Join(err, uerr)
}

// FinishRestart brings a restarted store back: it waits, at most
// opts.UpTimeout, until the store is Up (heartbeating; and, with
// opts.StartedAfter, running a process started after it), removes the
// eviction PrepareRestart made, and waits, at most opts.LeaderTimeout,
// until the store leads at least opts.LeaderShare of the mean leader count
// of the Up stores. It is resumable: called again after a crash or an
// error, it goes on from wherever the cluster is (an eviction already
// removed is not removed again). A store that is Up, not evicted and
// leading its share already, or Up with an eviction this library did not
// make, gives a result with NoChange set, in a dry run too.
//
// With Config.Actions.Ledger, an eviction the ledger does not list was made by
// someone else: FinishRestart leaves it and says so, and does not wait for
// leaders. PD's own evictions are never removed: PD lets a stopping store
// (evict-stopping-store) go at its next round once the store runs again,
// which FinishRestart waits for (within opts.LeaderTimeout); one that
// outlasts the restart (evict-slow-store: PD judges the store slow) is
// left, the summary names it, and the leaders it keeps off are not waited
// for. While PD's scheduling is halted (halt-scheduling), a FinishRestart
// that has something to do is refused (subject.ErrPrecondition): no
// scheduler would bring the leaders back.
//
// Refused (nothing changed; PhaseRefused): store 0 (subject.ErrInvalid),
// a store that does not exist (subject.ErrNotFound), a tombstone
// (subject.ErrPrecondition), and a bound or ctx that ended before this
// call sent anything (waiting for the store to be Up, or, when it was not
// evicted, for its leaders; subject.ErrPrecondition for a bound): call it
// again. A dry run says what it would do. subject.ErrUnconfirmed: a bound
// or ctx ended after the eviction's removal was sent (the error says which
// wait), or the request failed in a way that may have applied it: call it
// again.
func (s *Subject) FinishRestart(ctx context.Context, store subject.StoreID, opts RestartOptions) (subject.Result, error) {
	opts = opts.withDefaults(s)
	return s.action(ctx, "finish_restart", "store "+store.String(), func(a *act) error {
		st, ev, err := a.storeAndEvicted(store)
		if err != nil {
			return err
		}
		if st.State == subject.StateTombstone {
			return fmt.Errorf("store %d is a tombstone: %w", store, subject.ErrPrecondition)
		}
		// PD's own eviction of the store is PD's to lift: it is never
		// removed here. PD lets a stopping store go at its next round once
		// the store runs again (no longer stopping), so that one is waited
		// for; one that outlasts a restart (a store PD judges slow keeps
		// it for its recovery-duration, 30 minutes by default) is not, nor
		// the leaders it keeps off.
		evicted := ev.byLeaderScheduler(store)
		note := pdEvictionNote(store, outlasting(ev.byPD(store)))
		ours := true
		var recorded []subject.StoreID
		if s.acts.Ledger != nil {
			if recorded, err = s.acts.Ledger.Stores(ctx); err != nil {
				return err
			}
			ours = slices.Contains(recorded, store)
		}
		up := st.State == subject.StateUp && (opts.StartedAfter.IsZero() || st.StartedAt.After(opts.StartedAfter))
		if up && evicted && !ours {
			a.r.Summary = fmt.Sprintf("store %d is Up; its eviction was not made by this library and is left in place; nothing to do", store)
			a.r.NoChange = true
			return nil
		}
		if up && !evicted && note != "" {
			a.r.Summary = fmt.Sprintf("store %d is Up and not in the evict-leader scheduler; %s, and that is left to PD; nothing to do", store, note)
			a.r.NoChange = true
			return nil
		}
		if up && !evicted {
			leads, want, err := s.leaderShare(ctx, store, opts.LeaderShare)
			if err != nil {
				return err
			}
			if float64(leads) >= want {
				a.r.Summary = fmt.Sprintf("store %d is back already: Up, not evicted, leading %d regions (%.0f wanted); nothing to do", store, leads, want)
				a.r.NoChange = true
				return nil
			}
		}
		if err := a.needScheduling("no scheduler would bring its leaders back"); err != nil {
			return err
		}
		if a.dry {
			switch {
			case note != "":
				a.r.Summary = fmt.Sprintf("would wait until store %d is Up and remove the evictions this library made; %s, and that would be left to PD", store, note)
			case evicted && !ours:
				a.r.Summary = fmt.Sprintf("would wait until store %d is Up; its eviction was not made by this library and would be left", store)
			case evicted:
				a.r.Summary = fmt.Sprintf("would wait until store %d is Up, remove its eviction and wait until it leads %.0f%% of the mean", store, opts.LeaderShare*100)
			default:
				a.r.Summary = fmt.Sprintf("would wait until store %d is Up and leads %.0f%% of the mean; its leaders are not evicted", store, opts.LeaderShare*100)
			}
			return nil
		}
		// Nothing was sent yet: a failed wait here changed nothing, and
		// the act reports it as a refusal.
		err = a.wait(opts.UpTimeout, fmt.Sprintf("store %d Up and heartbeating", store), func(p *subject.Progress) (bool, error) {
			now, err := s.store(ctx, store)
			if err != nil {
				return false, err
			}
			fresh := opts.StartedAfter.IsZero() || now.StartedAt.After(opts.StartedAfter)
			p.Seen = fmt.Sprintf("store %d is %s", store, now.State)
			if !fresh {
				p.Seen += fmt.Sprintf(", its process started at %s, not after %s", now.StartedAt.Format(time.RFC3339), opts.StartedAfter.Format(time.RFC3339))
			}
			return now.State == subject.StateUp && fresh, nil
		})
		if err != nil {
			return err
		}
		if evicted && !ours {
			a.r.Summary = fmt.Sprintf("store %d is Up; its eviction was not made by this library and is left in place", store)
			return nil
		}
		if evicted {
			err := a.submit(func() error { return s.pd.RemoveEvictLeader(ctx, uint64(store)) })
			if err != nil && !errors.Is(err, pdclient.ErrNotFound) {
				return err
			}
		}
		if s.acts.Ledger != nil && ours {
			if err := s.acts.Ledger.Remove(ctx, store); err != nil {
				return &subject.ActionError{Phase: subject.PhaseUnconfirmed, Reason: "the eviction is removed but the ledger could not forget it", Err: err}
			}
		}
		var lasting []string
		if ev, err := s.leaderEvictions(ctx); err == nil && len(ev.byPD(store)) > 0 {
			// Only evict-stopping-store: PD lets the store go at its next
			// round.
			err := a.wait(opts.LeaderTimeout, fmt.Sprintf("PD's own evictions of store %d lifted", store), func(p *subject.Progress) (bool, error) {
				ev, err := s.leaderEvictions(ctx)
				if err != nil {
					return false, err
				}
				by := ev.byPD(store)
				lasting = outlasting(by)
				p.Seen = pdEvictionNote(store, by)
				return len(by) == 0 || len(lasting) > 0, nil
			})
			if err != nil {
				return err
			}
		}
		if note := pdEvictionNote(store, lasting); note != "" {
			a.r.Summary = fmt.Sprintf("store %d is back: Up, the eviction this library made removed; %s, so its leaders were not waited for", store, note)
			return nil
		}
		leads, want := 0, 0.0
		err = a.wait(opts.LeaderTimeout, fmt.Sprintf("store %d leading %.0f%% of the mean leader count", store, opts.LeaderShare*100), func(p *subject.Progress) (bool, error) {
			l, w, err := s.leaderShare(ctx, store, opts.LeaderShare)
			if err != nil {
				return false, err
			}
			leads, want = l, w
			// The share moves with the other stores' counts: Total is
			// what is wanted now, not when the wait began.
			wanted := int(math.Ceil(want))
			p.Seen = fmt.Sprintf("store %d leads %d regions, %d wanted", store, leads, wanted)
			p.Left, p.Total, p.Unit = max(wanted-leads, 0), wanted, "leaders"
			return float64(leads) >= want, nil
		})
		if err != nil {
			var ae *subject.ActionError
			if errors.As(err, &ae) {
				ae.Reason += "; the eviction is removed"
			}
			return err
		}
		a.r.Summary = fmt.Sprintf("store %d is back: Up, its eviction removed, leading %d regions (%.0f wanted)", store, leads, want)
		return nil
	})
}

// outlasting returns PD's own evicting schedulers of by that keep a store
// evicted after it restarted: all but evict-stopping-store, which lets it
// go once it no longer reports stopping.
func outlasting(by []string) []string {
	return slices.DeleteFunc(slices.Clone(by), func(name string) bool { return name == schedEvictStopping })
}

// leaderShare returns how many regions store leads, and share of the mean
// leader count of the Up stores.
func (s *Subject) leaderShare(ctx context.Context, store subject.StoreID, share float64) (leads int, want float64, err error) {
	all, err := s.Stores(ctx)
	if err != nil {
		return 0, 0, err
	}
	sum, up := 0, 0
	for _, o := range all {
		if o.State == subject.StateUp {
			sum += o.LeaderCount
			up++
		}
		if o.ID == store {
			leads = o.LeaderCount
		}
	}
	return leads, share * float64(sum) / float64(max(up, 1)), nil
}

// ReconcileEvictions removes the evictions this library left behind: every
// store Config.Actions.Ledger lists whose leaders PD still evicts (a
// PrepareRestart whose FinishRestart never came). It never touches an
// eviction the ledger does not list, nor PD's own (evict-slow-store,
// evict-stopping-store: the summary names them), and forgets listed stores
// PD no longer evicts. Call it when nothing is being restarted. The result's summary
// says exactly what it did: the evictions it removed, the ledger entries
// it forgot (whose eviction was gone already), the evictions it left; it
// has NoChange set when there was nothing to remove or forget.
//
// Refused (PhaseRefused): no ledger (subject.ErrInvalid); the ledger or PD
// could not be read, or the first removal was refused, before anything
// changed. A dry run says what it would do. subject.ErrUnconfirmed: an
// answer was lost, or a step failed after an eviction was removed (the
// error says which were): call it again.
func (s *Subject) ReconcileEvictions(ctx context.Context) (subject.Result, error) {
	ledger := s.acts.Ledger
	return s.action(ctx, "reconcile_evictions", "evict-leader-scheduler", func(a *act) error {
		if ledger == nil {
			return fmt.Errorf("no eviction ledger: without one, which evictions this library made cannot be told: %w", subject.ErrInvalid)
		}
		recorded, err := ledger.Stores(ctx)
		if err != nil {
			return err
		}
		all, err := s.leaderEvictions(ctx)
		if err != nil {
			return err
		}
		ev := all.leaderSchedulerStores()
		pd := pdEvictions(all)
		var ours, stale, left []subject.StoreID
		for _, id := range recorded {
			if slices.Contains(ev, id) {
				ours = append(ours, id)
			} else {
				stale = append(stale, id)
			}
		}
		for _, id := range ev {
			if !slices.Contains(recorded, id) {
				left = append(left, id)
			}
		}
		if len(ours) == 0 && len(stale) == 0 {
			a.r.Summary = reconcileSummary("", nil, nil, left, pd)
			a.r.NoChange = true
			return nil
		}
		if a.dry {
			a.r.Summary = reconcileSummary("would ", ours, stale, left, pd)
			return nil
		}
		var removed []subject.StoreID
		// after turns an error once an eviction was removed into an
		// unconfirmed end that says what was done.
		after := func(err error, what string) error {
			if len(removed) == 0 {
				return err
			}
			return &subject.ActionError{Phase: subject.PhaseUnconfirmed, Err: err,
				Reason: fmt.Sprintf("removed the evictions of stores %v, then %s", removed, what)}
		}
		for _, id := range ours {
			err := a.submit(func() error { return s.pd.RemoveEvictLeader(ctx, uint64(id)) })
			switch {
			case errors.Is(err, pdclient.ErrNotFound):
				// Gone since PD was read: someone removed it.
				stale = append(stale, id)
			case err != nil:
				return after(err, fmt.Sprintf("removing store %d's failed", id))
			default:
				removed = append(removed, id)
			}
			if err := ledger.Remove(ctx, id); err != nil {
				if !slices.Contains(removed, id) {
					return after(err, fmt.Sprintf("the ledger could not forget store %d", id))
				}
				return &subject.ActionError{Phase: subject.PhaseUnconfirmed, Err: err,
					Reason: fmt.Sprintf("removed the evictions of stores %v, but the ledger could not forget store %d", removed, id)}
			}
		}
		for _, id := range stale {
			if slices.Contains(ours, id) {
				continue // forgotten above
			}
			if err := ledger.Remove(ctx, id); err != nil {
				return after(err, fmt.Sprintf("the ledger could not forget store %d", id))
			}
		}
		slices.Sort(stale)
		a.r.Summary = reconcileSummary("", removed, stale, left, pd)
		return nil
	})
}

// reconcileSummary says what ReconcileEvictions did (or, with would set to
// "would ", would do): the evictions removed, the ledger entries whose
// eviction was gone already, the evictions left as not this library's,
// and PD's own (pd, from pdEvictions), which are PD's. It names no empty
// list.
func reconcileSummary(would string, removed, forgot, left []subject.StoreID, pd string) string {
	var parts []string
	if len(removed) > 0 {
		verb := "removed"
		if would != "" {
			verb = "remove"
		}
		parts = append(parts, fmt.Sprintf("%s%s the evictions of stores %v", would, verb, removed))
	}
	if len(forgot) > 0 {
		verb := "forgot"
		if would != "" {
			verb = "forget"
		}
		parts = append(parts, fmt.Sprintf("%s%s stores %v in the ledger, whose leaders PD no longer evicts", would, verb, forgot))
	}
	if len(parts) == 0 {
		parts = append(parts, "no eviction of this library is left")
		if len(left) > 0 {
			parts = append(parts, fmt.Sprintf("the evictions of stores %v, not made by this library, are left alone", left))
		}
	} else if len(left) > 0 {
		verb := "left"
		if would != "" {
			verb = "leave"
		}
		parts = append(parts, fmt.Sprintf("%s%s the evictions of stores %v, not made by this library", would, verb, left))
	}
	if pd != "" {
		parts = append(parts, pd+" are PD's own, which it lifts by itself, and are left alone")
	}
	return strings.Join(parts, "; ")
}

// pdEvictions names PD's own evictions ("store 3 by
// evict-slow-store-scheduler, store 4 by ..."), "" when there is none.
func pdEvictions(ev evictions) string {
	var parts []string
	for _, id := range ev.stores() {
		if by := ev.byPD(id); len(by) > 0 {
			parts = append(parts, fmt.Sprintf("store %d by %s", id, strings.Join(by, " and ")))
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return "the evictions of " + strings.Join(parts, ", ")
}
