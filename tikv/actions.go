package tikv

import (
	"bytes"
	"cmp"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/kvops/operator/pdclient"
	"github.com/kvops/operator/subject"
)

// MaxScheduleLimit bounds what SetScheduleLimit accepts. PD takes larger
// numbers, but a limit this high already lets scheduling swamp a cluster,
// so a larger one is far more likely a mistake than a wish.
const MaxScheduleLimit = 1024

// ActionConfig bounds and guards the actions. Its zero fields take the
// defaults documented on each field.
type ActionConfig struct {
	// Timeouts bound how long each action waits for its effect.
	Timeouts ActionTimeouts
	// PollInterval is how often an action re-reads PD while it waits for
	// its effect: the status of its operator and the state it changes
	// (default 500ms). An action returns within one interval of PD ending
	// its operator; the wait is bounded by Timeouts and by the context.
	PollInterval time.Duration
	// MinLeaderStores is how many Up stores, besides the one evicted and
	// not evicted themselves, EvictLeaders insists on leaving able to lead
	// regions (default 2).
	MinLeaderStores int
	// KeepPendingOperators leaves an operator PD has not ended when an
	// action's wait bound ends. By default the action cancels it
	// (DELETE /operators/{region_id}), since a pending operator makes PD
	// refuse every later operator on the region.
	KeepPendingOperators bool
	// Ledger records the evictions PrepareRestart makes, so that
	// FinishRestart and ReconcileEvictions remove those and never one that
	// someone else made (PD records no owner). nil: no record is kept,
	// FinishRestart removes the store's eviction whoever made it (as tiup
	// does), and ReconcileEvictions is refused.
	Ledger EvictionLedger
}

// ActionTimeouts bound the wait of each action for its effect, in the
// Subject's clock (Config.Clock). A context deadline that comes first ends
// the wait too. Zero fields take the defaults.
type ActionTimeouts struct {
	// TransferLeader: until PD shows the new leader (default 90s; PD
	// itself ends an admin transfer with TIMEOUT after 1m).
	TransferLeader time.Duration
	// SplitRegion: until PD shows the split (default 90s; PD itself ends
	// an admin split with TIMEOUT after 1m).
	SplitRegion time.Duration
	// DrainStore: until the store is Offline (default 1m). Moving its
	// regions away can take hours; the action does not wait for that.
	DrainStore time.Duration
	// UndrainStore: until the store is no longer Offline (default 1m).
	UndrainStore time.Duration
	// EvictLeaders: until the store leads no region (default 10m; the
	// recorded PD moved about ten leaders a second).
	EvictLeaders time.Duration
	// RestoreLeaders: until the scheduler is gone and the store leads
	// regions again (default 2m).
	RestoreLeaders time.Duration
	// Config: until PD's configuration reads back as set (default 30s),
	// for SetScheduleLimit and SetLowSpaceThreshold.
	Config time.Duration
}

// DefaultActionConfig returns the defaults ActionConfig's zero fields take.
func DefaultActionConfig() ActionConfig {
	return ActionConfig{
		Timeouts: ActionTimeouts{
			TransferLeader: 90 * time.Second,
			SplitRegion:    90 * time.Second,
			DrainStore:     time.Minute,
			UndrainStore:   time.Minute,
			EvictLeaders:   10 * time.Minute,
			RestoreLeaders: 2 * time.Minute,
			Config:         30 * time.Second,
		},
		PollInterval:    500 * time.Millisecond,
		MinLeaderStores: 2,
	}
}

// validate refuses negative bounds and counts, which would end every wait
// at once or refuse every eviction.
func (c ActionConfig) validate() error {
	t := c.Timeouts
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"TransferLeader", t.TransferLeader}, {"SplitRegion", t.SplitRegion}, {"DrainStore", t.DrainStore},
		{"UndrainStore", t.UndrainStore}, {"EvictLeaders", t.EvictLeaders}, {"RestoreLeaders", t.RestoreLeaders}, {"Config", t.Config},
	} {
		if d.v < 0 {
			return fmt.Errorf("tikv: Actions.Timeouts.%s %v is negative: %w", d.name, d.v, subject.ErrInvalid)
		}
	}
	if c.PollInterval < 0 {
		return fmt.Errorf("tikv: Actions.PollInterval %v is negative: %w", c.PollInterval, subject.ErrInvalid)
	}
	if c.MinLeaderStores < 0 {
		return fmt.Errorf("tikv: Actions.MinLeaderStores %d is negative: %w", c.MinLeaderStores, subject.ErrInvalid)
	}
	return nil
}

func (c ActionConfig) withDefaults() ActionConfig {
	d := DefaultActionConfig()
	t := &c.Timeouts
	t.TransferLeader = cmp.Or(t.TransferLeader, d.Timeouts.TransferLeader)
	t.SplitRegion = cmp.Or(t.SplitRegion, d.Timeouts.SplitRegion)
	t.DrainStore = cmp.Or(t.DrainStore, d.Timeouts.DrainStore)
	t.UndrainStore = cmp.Or(t.UndrainStore, d.Timeouts.UndrainStore)
	t.EvictLeaders = cmp.Or(t.EvictLeaders, d.Timeouts.EvictLeaders)
	t.RestoreLeaders = cmp.Or(t.RestoreLeaders, d.Timeouts.RestoreLeaders)
	t.Config = cmp.Or(t.Config, d.Timeouts.Config)
	c.PollInterval = cmp.Or(c.PollInterval, d.PollInterval)
	c.MinLeaderStores = cmp.Or(c.MinLeaderStores, d.MinLeaderStores)
	return c
}

// act is one action under way.
type act struct {
	s   *Subject
	ctx context.Context
	r   *subject.Result
	dry bool
}

// action runs one action: it logs before and after, times it, fills the
// result's common fields and turns the error into a *subject.ActionError:
// an error do returns before submit is a refusal (PhaseRefused); submit
// and the waits return their own ActionErrors.
func (s *Subject) action(ctx context.Context, name, target string, do func(a *act) error) (subject.Result, error) {
	dry := s.dryRun || subject.IsDryRun(ctx)
	r := subject.Result{Action: name, Target: target, DryRun: dry, Started: s.clock()}
	s.log.InfoContext(ctx, "action starting", "action", name, "target", target, "dry_run", dry)
	err := do(&act{s: s, ctx: ctx, r: &r, dry: dry})
	r.Finished = s.clock()
	if err != nil {
		var ae *subject.ActionError
		if !errors.As(err, &ae) {
			ae = &subject.ActionError{Phase: subject.PhaseRefused, Err: err}
		}
		ae.Action, ae.Target = name, target
		s.log.WarnContext(ctx, "action failed", "action", name, "target", target, "dry_run", dry,
			"phase", ae.Phase, "status", ae.Status, "error", err)
		return r, fmt.Errorf("tikv: %w", ae)
	}
	s.log.InfoContext(ctx, "action done", "action", name, "target", target, "dry_run", dry,
		"summary", r.Summary, "took", r.Finished.Sub(r.Started))
	return r, nil
}

// submit sends the request that changes the cluster. PD's refusals
// (not found, invalid, precondition, 503) and requests that never reached
// PD are refusals: nothing changed. Anything else (a lost answer, a 500
// PD gives no reason for, a context that ended in flight) is
// unconfirmed: the request may have been applied. submit never retries.
func (a *act) submit(send func() error) error {
	err := send()
	if err == nil {
		return nil
	}
	var ae *pdclient.APIError
	var te *pdclient.TransportError
	switch {
	case errors.As(err, &ae) && (ae.Kind() == pdclient.ErrNotFound || ae.Kind() == pdclient.ErrBadRequest ||
		ae.Kind() == pdclient.ErrPrecondition || ae.Status == http.StatusServiceUnavailable):
		return err
	case errors.As(err, &te) && !te.Sent:
		return err
	}
	return &subject.ActionError{Phase: subject.PhaseUnconfirmed,
		Reason: "the request was sent but its answer was lost; it may have been applied: read the cluster before retrying", Err: err}
}

// wait re-reads PD every poll interval until check reports done, returns
// a *subject.ActionError (which ends the wait with it), the bound ends or
// ctx ends; the last two give PhaseUnconfirmed. Other errors from check
// are failed reads: the wait goes on, and the last one is reported if the
// bound ends.
func (a *act) wait(bound time.Duration, what string, check func() (bool, error)) error {
	s := a.s
	deadline := s.clock().Add(bound)
	var last error
	for {
		done, err := check()
		var ae *subject.ActionError
		switch {
		case errors.As(err, &ae):
			return ae
		case err != nil:
			last = err
		case done:
			return nil
		}
		left := deadline.Sub(s.clock())
		if left <= 0 {
			return &subject.ActionError{Phase: subject.PhaseUnconfirmed, Reason: fmt.Sprintf("%s not seen within %v", what, bound), Err: last}
		}
		if err := s.sleep(a.ctx, min(s.acts.PollInterval, left)); err != nil {
			return &subject.ActionError{Phase: subject.PhaseUnconfirmed, Reason: fmt.Sprintf("%s not seen before the context ended", what), Err: err}
		}
	}
}

// tracker follows the operator an action made on a region through
// GET /operators/{region_id}, which shows the region's latest operator,
// whoever made it. Ours is the first admin operator with our description
// that was not the latest before we submitted; after that, it is the one
// with the creation time we saw.
type tracker struct {
	a      *act
	region uint64
	desc   string // "admin-split-region"
	before string // CreateAt of the latest operator before we submitted
	ours   string // CreateAt of ours, once seen
	last   pdclient.OperatorStatus
	other  pdclient.OperatorStatus // a later operator that took ours' place
}

// pendingCheck refuses when the region has an operator PD has not ended:
// PD would refuse ours with ErrAddOperator. It returns the tracker the
// action uses once it has submitted.
func (a *act) pendingCheck(region subject.RegionID, desc string) (*tracker, error) {
	t := &tracker{a: a, region: uint64(region), desc: desc}
	st, err := a.s.pd.OperatorStatus(a.ctx, uint64(region))
	switch {
	case errors.Is(err, pdclient.ErrNotFound):
		return t, nil
	case err != nil:
		return nil, err
	}
	if st.Pending() {
		return nil, fmt.Errorf("region %d has an operator PD has not ended (%s: %s), and PD refuses a second one: %w",
			region, st.Raw, st.Text, subject.ErrPrecondition)
	}
	t.before = st.CreateAt
	return t, nil
}

// check reads the region's latest operator. It returns a PhaseFailed
// ActionError when PD ended ours with TIMEOUT, CANCEL or REPLACE, or when
// another operator took ours' place before ours showed its effect.
func (t *tracker) check() error {
	st, err := t.a.s.pd.OperatorStatus(t.a.ctx, t.region)
	if errors.Is(err, pdclient.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	mine := st.Admin() && st.Desc == t.desc && st.CreateAt != t.before && (t.ours == "" || st.CreateAt == t.ours)
	if !mine {
		if t.ours != "" && t.last.Pending() {
			t.other = st
			return &subject.ActionError{Phase: subject.PhaseFailed, Status: pdclient.OpReplace,
				Reason: fmt.Sprintf("PD replaced the operator: region %d's latest operator is now %s (%s)", t.region, st.Text, st.Raw)}
		}
		return nil
	}
	t.ours, t.last = st.CreateAt, st
	switch st.Status {
	case pdclient.OpTimeout, pdclient.OpCancel, pdclient.OpReplace:
		return &subject.ActionError{Phase: subject.PhaseFailed, Status: st.Status, Reason: "PD ended the operator: " + st.Text}
	}
	return nil
}

// finish turns a wait's end into the action's error: when the bound ended
// with our operator still pending in PD, it says so and cancels the
// operator unless Config.Actions.KeepPendingOperators.
func (t *tracker) finish(err error) error {
	var ae *subject.ActionError
	if !errors.As(err, &ae) || ae.Phase != subject.PhaseUnconfirmed || t.ours == "" || !t.last.Pending() {
		return err
	}
	ae.Status = t.last.Status
	ae.Reason += fmt.Sprintf("; PD still shows the operator %s: %s", t.last.Raw, t.last.Text)
	if t.a.s.acts.KeepPendingOperators {
		ae.Reason += "; left it pending, as configured: PD refuses other operators on the region until it ends"
		return ae
	}
	// The caller's context may be what ended; the cancel gets a moment of
	// its own.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(t.a.ctx), 10*time.Second)
	defer cancel()
	if cerr := t.a.s.pd.CancelOperator(ctx, t.region); cerr != nil && !errors.Is(cerr, pdclient.ErrNotFound) {
		ae.Reason += fmt.Sprintf("; cancelling it (DELETE /operators/%d) failed: %v", t.region, cerr)
		return ae
	}
	ae.Reason += fmt.Sprintf("; cancelled it (DELETE /operators/%d)", t.region)
	return ae
}

func (s *Subject) region(ctx context.Context, id subject.RegionID) (subject.Region, error) {
	p, err := s.pd.RegionByID(ctx, uint64(id))
	if err != nil {
		return subject.Region{}, err
	}
	return p.Subject()
}

// upStore fetches a store and checks that it is Up.
func (s *Subject) upStore(ctx context.Context, id subject.StoreID) (subject.Store, error) {
	st, err := s.store(ctx, id)
	if err != nil {
		return st, err
	}
	if st.State != subject.StateUp {
		return st, fmt.Errorf("store %d is %s, not Up: %w", id, st.State, subject.ErrPrecondition)
	}
	return st, nil
}

func checkRegionID(id subject.RegionID) error {
	if id == 0 {
		return fmt.Errorf("region id 0: PD numbers regions from 1: %w", subject.ErrInvalid)
	}
	return nil
}

func checkStoreID(what string, id subject.StoreID) error {
	if id == 0 {
		return fmt.Errorf("%s 0: PD numbers stores from 1: %w", what, subject.ErrInvalid)
	}
	return nil
}

// storeAndEvicted checks a store id, reads the store and the stores whose
// leaders PD evicts.
func (a *act) storeAndEvicted(store subject.StoreID) (subject.Store, []subject.StoreID, error) {
	if err := checkStoreID("store", store); err != nil {
		return subject.Store{}, nil, err
	}
	st, err := a.s.store(a.ctx, store)
	if err != nil {
		return st, nil, err
	}
	ev, err := a.s.evicted(a.ctx)
	return st, ev, err
}

// EvictedStores returns the stores whose leaders PD's evict-leader
// scheduler evicts, in ascending order; none when the scheduler does not
// run. A guard counts them in its blast radius, whoever evicted them.
//
// PD API: GET /pd/api/v1/scheduler-config/evict-leader-scheduler/list
func (s *Subject) EvictedStores(ctx context.Context) ([]subject.StoreID, error) {
	ids, err := s.evicted(ctx)
	if err != nil {
		return nil, fmt.Errorf("tikv: evicted stores: %w", err)
	}
	return ids, nil
}

// evicted returns the stores PD's evict-leader scheduler empties of
// leaders; none when the scheduler does not run.
func (s *Subject) evicted(ctx context.Context) ([]subject.StoreID, error) {
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

// TransferLeader moves a region's leadership to its voter on store to.
//
// Refused (nothing changed; PhaseRefused, matching subject.ErrInvalid,
// ErrNotFound or ErrPrecondition): region or store 0; a region or store
// that does not exist; a store that is not Up, holds no voter of the
// region or has its leaders evicted; a region with an operator PD has not
// ended. A dry run checks the same and says what it would do.
//
// Otherwise it asks PD for a transfer-leader operator and waits, at most
// Config.Actions.Timeouts.TransferLeader, until PD shows the new leader.
// It ends within a poll interval of PD ending the operator: with
// subject.ErrActionFailed (PD's status TIMEOUT, CANCEL or REPLACE and its
// description in the *subject.ActionError) when PD ended it without the
// transfer; with subject.ErrUnconfirmed when the bound or ctx ended first
// (a pending operator is cancelled; see ActionConfig) or the answer to the
// request was lost.
func (s *Subject) TransferLeader(ctx context.Context, region subject.RegionID, to subject.StoreID) (subject.Result, error) {
	target := fmt.Sprintf("region %d to store %d", region, to)
	return s.action(ctx, "transfer_leader", target, func(a *act) error {
		if err := errors.Join(checkRegionID(region), checkStoreID("store", to)); err != nil {
			return err
		}
		reg, err := s.region(ctx, region)
		if err != nil {
			return err
		}
		if _, err := s.upStore(ctx, to); err != nil {
			return err
		}
		p, ok := reg.PeerOn(to)
		if !ok || !p.Role.IsVoter() {
			return fmt.Errorf("region %d has no voter on store %d: %w", region, to, subject.ErrPrecondition)
		}
		a.r.Regions = []subject.RegionID{region}
		if reg.HasLeader && reg.Leader.Store == to {
			a.r.Summary = fmt.Sprintf("region %d is already led from store %d; nothing to do", region, to)
			return nil
		}
		ev, err := s.evicted(ctx)
		if err != nil {
			return err
		}
		if slices.Contains(ev, to) {
			return fmt.Errorf("store %d's leaders are evicted, and PD refuses to move a leader there: %w", to, subject.ErrPrecondition)
		}
		t, err := a.pendingCheck(region, "admin-transfer-leader")
		if err != nil {
			return err
		}
		from := "no leader"
		if reg.HasLeader {
			from = "store " + reg.Leader.Store.String()
		}
		if a.dry {
			a.r.Summary = fmt.Sprintf("would move the leader of region %d from %s to store %d", region, from, to)
			return nil
		}
		if err := a.submit(func() error { return s.pd.TransferLeader(ctx, uint64(region), uint64(to)) }); err != nil {
			return err
		}
		err = a.wait(s.acts.Timeouts.TransferLeader, "the new leader", func() (bool, error) {
			// The effect first: once it shows, whatever PD did since to
			// the region does not undo the action.
			now, err := s.region(ctx, region)
			if err == nil && now.HasLeader && now.Leader.Store == to {
				return true, nil
			}
			return false, cmp.Or(t.check(), err)
		})
		if err != nil {
			return t.finish(err)
		}
		a.r.Summary = fmt.Sprintf("moved the leader of region %d from %s to store %d", region, from, to)
		return nil
	})
}

// SplitRegion asks PD to split a region in two at its approximate middle,
// waits until the split shows, and returns the regions that cover the
// original range. SplitRegionWith says what it waits for and what its
// errors mean.
func (s *Subject) SplitRegion(ctx context.Context, region subject.RegionID) (subject.Result, error) {
	return s.SplitRegionWith(ctx, region, pdclient.SplitApproximate)
}

// SplitRegionWith splits a region with the given policy: at its
// approximate middle (pdclient.SplitApproximate), at the exact middle found
// by a scan (pdclient.SplitScan), or at the given raw keys
// (pdclient.SplitUseKey), which must lie strictly inside the region's
// range.
//
// Refused (nothing changed; PhaseRefused): region 0 or keys outside the
// region (subject.ErrInvalid); a region that does not exist
// (subject.ErrNotFound); a region with an operator PD has not ended
// (subject.ErrPrecondition). A dry run checks the same.
//
// Otherwise it waits, at most Config.Actions.Timeouts.SplitRegion, until
// PD shows the region's new version, and returns the regions that cover
// the original range. It ends within a poll interval of PD ending the
// operator: subject.ErrActionFailed with PD's status (TIMEOUT, CANCEL,
// REPLACE) and description when PD ended it unsplit; subject.ErrUnconfirmed
// when the bound or ctx ended first (a pending split is cancelled) or the
// answer to the request was lost.
func (s *Subject) SplitRegionWith(ctx context.Context, region subject.RegionID, policy pdclient.SplitPolicy, keys ...[]byte) (subject.Result, error) {
	return s.action(ctx, "split_region", "region "+region.String(), func(a *act) error {
		if err := checkRegionID(region); err != nil {
			return err
		}
		reg, err := s.region(ctx, region)
		if err != nil {
			return err
		}
		hexKeys := make([]string, 0, len(keys))
		for _, k := range keys {
			if bytes.Compare(k, reg.StartKey) <= 0 || len(reg.EndKey) > 0 && bytes.Compare(k, reg.EndKey) >= 0 {
				return fmt.Errorf("split key %X is not inside region %d [%X, %X): %w", k, region, reg.StartKey, reg.EndKey, subject.ErrInvalid)
			}
			hexKeys = append(hexKeys, hexKey(k))
		}
		t, err := a.pendingCheck(region, "admin-split-region")
		if err != nil {
			return err
		}
		if a.dry {
			a.r.Regions = []subject.RegionID{region}
			a.r.Summary = fmt.Sprintf("would split region %d (%d MiB, %d keys) with policy %s", region, reg.ApproximateSize, reg.ApproximateKeys, policy)
			return nil
		}
		if err := a.submit(func() error { return s.pd.SplitRegion(ctx, uint64(region), policy, hexKeys...) }); err != nil {
			return err
		}
		err = a.wait(s.acts.Timeouts.SplitRegion, "the split", func() (bool, error) {
			now, err := s.region(ctx, region)
			if err == nil && now.Epoch.Version > reg.Epoch.Version {
				return true, nil
			}
			return false, cmp.Or(t.check(), err)
		})
		if err != nil {
			return t.finish(err)
		}
		ids, err := s.regionsCovering(ctx, reg.StartKey, reg.EndKey)
		if err != nil {
			// The split is confirmed; only the listing failed.
			a.r.Regions = []subject.RegionID{region}
			a.r.Summary = fmt.Sprintf("split region %d with policy %s; listing the regions over its range failed: %v", region, policy, err)
			return nil
		}
		a.r.Regions = ids
		a.r.Summary = fmt.Sprintf("split region %d with policy %s into %d regions", region, policy, len(ids))
		return nil
	})
}

// regionsCovering lists the regions over [start, end), in key order.
func (s *Subject) regionsCovering(ctx context.Context, start, end []byte) ([]subject.RegionID, error) {
	var ids []subject.RegionID
	for p, err := range s.pd.AllRegions(ctx, pdclient.WithKeyRange(hexKey(start), hexKey(end))) {
		if err != nil {
			return nil, err
		}
		reg, err := p.Subject()
		if err != nil {
			return nil, err
		}
		ids = append(ids, reg.ID)
	}
	return ids, nil
}

// hexKey writes a raw key as PD's API takes it: uppercase hex.
func hexKey(k []byte) string { return strings.ToUpper(hex.EncodeToString(k)) }

// regionsOn lists the regions with a peer on a store; led keeps only those
// the store leads.
func (s *Subject) regionsOn(ctx context.Context, store subject.StoreID, led bool) ([]subject.RegionID, error) {
	rs, err := s.pd.RegionsByStore(ctx, uint64(store), 0)
	if err != nil {
		return nil, err
	}
	var ids []subject.RegionID
	for _, p := range rs {
		if led && p.Leader.StoreID != uint64(store) {
			continue
		}
		ids = append(ids, subject.RegionID(p.ID))
	}
	return ids, nil
}

// DrainStore sets a store Offline: PD moves its regions to other stores,
// after which the store becomes a tombstone. UndrainStore cancels it.
//
// Refused (nothing changed; PhaseRefused): store 0 (subject.ErrInvalid);
// a store that does not exist (subject.ErrNotFound); a tombstone, or a
// store whose replicas the other Up stores could not hold
// (subject.ErrPrecondition). Draining a draining store does nothing.
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
			a.r.Summary = fmt.Sprintf("store %d is already draining (%d regions left)", store, st.RegionCount)
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
		if a.dry {
			a.r.Summary = fmt.Sprintf("would set store %d Offline; PD would move its %d regions to the other %d Up stores", store, st.RegionCount, others)
			return nil
		}
		if err := a.submit(func() error { return s.pd.DeleteStore(ctx, uint64(store)) }); err != nil {
			return err
		}
		if err := a.waitState(s.acts.Timeouts.DrainStore, store, subject.StateOffline, subject.StateTombstone); err != nil {
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
// drained and removed (subject.ErrPrecondition). A store that is not
// draining is left alone ("nothing to do").
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
			return nil
		}
		if a.dry {
			a.r.Summary = fmt.Sprintf("would return store %d to Up with its %d regions", store, st.RegionCount)
			return nil
		}
		if err := a.submit(func() error { return s.pd.CancelOffline(ctx, uint64(store)) }); err != nil {
			return err
		}
		if err := a.waitState(s.acts.Timeouts.UndrainStore, store, subject.StateUp, subject.StateDisconnected, subject.StateDown); err != nil {
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

func (a *act) waitState(bound time.Duration, store subject.StoreID, want ...subject.StoreState) error {
	return a.wait(bound, fmt.Sprintf("store %d %s", store, want[0]), func() (bool, error) {
		st, err := a.s.store(a.ctx, store)
		if err != nil {
			return false, err
		}
		return slices.Contains(want, st.State), nil
	})
}

// EvictLeaders adds the store to PD's evict-leader scheduler, which moves
// every leader off it and keeps them off, until RestoreLeaders.
//
// Refused (nothing changed; PhaseRefused): store 0 (subject.ErrInvalid);
// a store that does not exist (subject.ErrNotFound); a store that is not
// Up and not evicted already, or whose eviction would leave fewer than
// Config.Actions.MinLeaderStores other Up stores able to lead, counting
// stores already evicted (subject.ErrPrecondition, saying which). A dry
// run checks the same.
//
// Evicting an evicted store submits nothing and waits like the first call.
// It waits, at most Config.Actions.Timeouts.EvictLeaders, until PD shows
// the store leading no region. subject.ErrUnconfirmed: the bound or ctx
// ended with leaders left (the error says how many, and the result lists
// their regions; the scheduler stays in place), or the answer to the
// request was lost.
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
	already := slices.Contains(ev, store)
	if !already {
		if st.State != subject.StateUp {
			return fmt.Errorf("store %d is %s, not Up: %w", store, st.State, subject.ErrPrecondition)
		}
		all, err := s.Stores(ctx)
		if err != nil {
			return err
		}
		var able []string
		for _, o := range all {
			if o.ID != store && o.State == subject.StateUp && !slices.Contains(ev, o.ID) {
				able = append(able, o.ID.String())
			}
		}
		if len(able) < s.acts.MinLeaderStores {
			return fmt.Errorf("evicting store %d's leaders would leave %d other Up stores able to lead ([%s]; evicted already: %v), fewer than %d: %w",
				store, len(able), strings.Join(able, " "), ev, s.acts.MinLeaderStores, subject.ErrPrecondition)
		}
	}
	if a.dry {
		if already {
			a.r.Summary = fmt.Sprintf("store %d's leaders are already evicted (%d left); would wait until it leads none", store, st.LeaderCount)
		} else {
			a.r.Summary = fmt.Sprintf("would evict the %d leaders of store %d and keep new ones off it", st.LeaderCount, store)
		}
		return nil
	}
	if !already {
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
	err = a.wait(bound, fmt.Sprintf("store %d leading at most %d regions", store, remain), func() (bool, error) {
		now, err := s.store(ctx, store)
		if err != nil {
			return false, err
		}
		left = now.LeaderCount
		return left <= remain, nil
	})
	if err != nil {
		var ae *subject.ActionError
		if errors.As(err, &ae) {
			ids, lerr := s.regionsOn(ctx, store, true)
			if lerr == nil {
				a.r.Regions = ids
			}
			ae.Reason += fmt.Sprintf("; store %d still leads %d regions %v (PD's evict-leader scheduler gives no reason; regions with pending or down peers cannot move their leader)", store, left, ids)
		}
		return err
	}
	a.r.Summary = fmt.Sprintf("evicted the leaders of store %d (%d left)", store, left)
	return nil
}

// RestoreLeaders removes the store from PD's evict-leader scheduler, so
// that it may lead regions again.
//
// Refused (nothing changed; PhaseRefused): store 0 (subject.ErrInvalid);
// a store that does not exist (subject.ErrNotFound). A store whose leaders
// are not evicted is left alone ("nothing to do"), in a dry run too.
//
// Otherwise it waits, at most Config.Actions.Timeouts.RestoreLeaders,
// until PD no longer lists the store in the scheduler and, when the store
// is Up and holds regions, until it leads one again (balance-leader brings
// them back gradually). subject.ErrUnconfirmed: the bound or ctx ended
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
	if !slices.Contains(ev, store) {
		a.r.Summary = fmt.Sprintf("store %d's leaders were not evicted; nothing to do", store)
		return nil
	}
	if a.dry {
		a.r.Summary = fmt.Sprintf("would let store %d lead regions again (it leads %d now)", store, st.LeaderCount)
		return nil
	}
	err = a.submit(func() error { return s.pd.RemoveEvictLeader(ctx, uint64(store)) })
	if err != nil && !errors.Is(err, pdclient.ErrNotFound) {
		return err
	}
	leads := 0
	err = a.wait(bound, fmt.Sprintf("store %d leading regions again", store), func() (bool, error) {
		ev, err := s.evicted(ctx)
		if err != nil || slices.Contains(ev, store) {
			return false, err
		}
		now, err := s.store(ctx, store)
		if err != nil {
			return false, err
		}
		leads = now.LeaderCount
		return leads > 0 || now.State != subject.StateUp || now.RegionCount == 0, nil
	})
	if err != nil {
		return err
	}
	a.r.Summary = fmt.Sprintf("store %d may lead regions again (it leads %d)", store, leads)
	return nil
}

// SetScheduleLimit sets PD's leader-, region- or replica-schedule-limit.
//
// Refused (nothing changed; PhaseRefused, subject.ErrInvalid): an unknown
// kind, or n above MaxScheduleLimit; 0 stops that kind of scheduling.
// Otherwise it waits, at most Config.Actions.Timeouts.Config, until PD's
// configuration reads back n. subject.ErrUnconfirmed: it did not, or the
// answer to the request was lost.
func (s *Subject) SetScheduleLimit(ctx context.Context, kind subject.LimitKind, n uint64) (subject.Result, error) {
	key := kind.String() + "-schedule-limit"
	return s.action(ctx, "set_schedule_limit", key, func(a *act) error {
		var get func(*pdclient.ScheduleConfig) uint64
		switch kind {
		case subject.LeaderLimit:
			get = func(c *pdclient.ScheduleConfig) uint64 { return c.LeaderScheduleLimit }
		case subject.RegionLimit:
			get = func(c *pdclient.ScheduleConfig) uint64 { return c.RegionScheduleLimit }
		case subject.ReplicaLimit:
			get = func(c *pdclient.ScheduleConfig) uint64 { return c.ReplicaScheduleLimit }
		default:
			return fmt.Errorf("unknown limit kind %d: %w", kind, subject.ErrInvalid)
		}
		if n > MaxScheduleLimit {
			return fmt.Errorf("%s %d is above %d: %w", key, n, MaxScheduleLimit, subject.ErrInvalid)
		}
		cfg, err := s.pd.ScheduleConfig(ctx)
		if err != nil {
			return err
		}
		old := get(cfg)
		if a.dry {
			a.r.Summary = fmt.Sprintf("would set %s from %d to %d", key, old, n)
			return nil
		}
		if err := a.submit(func() error { return s.pd.SetConfig(ctx, map[string]any{key: n}) }); err != nil {
			return err
		}
		if err := a.waitConfig(key, func(c *pdclient.ScheduleConfig) bool { return get(c) == n }); err != nil {
			return err
		}
		a.r.Summary = fmt.Sprintf("set %s from %d to %d", key, old, n)
		return nil
	})
}

func (a *act) waitConfig(key string, ok func(*pdclient.ScheduleConfig) bool) error {
	return a.wait(a.s.acts.Timeouts.Config, "PD's "+key+" reading back as set", func() (bool, error) {
		cfg, err := a.s.pd.ScheduleConfig(a.ctx)
		return err == nil && ok(cfg), err
	})
}

// SetLowSpaceThreshold sets PD's low-space-ratio to percent/100. PD stops
// moving data to a store whose disk is fuller than that.
//
// Refused (nothing changed; PhaseRefused, subject.ErrInvalid): percent
// not strictly between 0 and 100, or not above PD's high-space-ratio
// (which PD would refuse). Otherwise it waits, at most
// Config.Actions.Timeouts.Config, until PD's configuration reads back the
// new ratio. subject.ErrUnconfirmed: it did not, or the answer to the
// request was lost.
func (s *Subject) SetLowSpaceThreshold(ctx context.Context, percent float64) (subject.Result, error) {
	return s.action(ctx, "set_low_space_threshold", "low-space-ratio", func(a *act) error {
		if math.IsNaN(percent) || percent <= 0 || percent >= 100 {
			return fmt.Errorf("low-space threshold %v%% is not between 0 and 100: %w", percent, subject.ErrInvalid)
		}
		ratio := percent / 100
		cfg, err := s.pd.ScheduleConfig(ctx)
		if err != nil {
			return err
		}
		if ratio <= cfg.HighSpaceRatio {
			return fmt.Errorf("low-space threshold %v%% must be above PD's high-space ratio %v%%: %w", percent, cfg.HighSpaceRatio*100, subject.ErrInvalid)
		}
		if a.dry {
			a.r.Summary = fmt.Sprintf("would set low-space-ratio from %v to %v", cfg.LowSpaceRatio, ratio)
			return nil
		}
		if err := a.submit(func() error { return s.pd.SetConfig(ctx, map[string]any{"low-space-ratio": ratio}) }); err != nil {
			return err
		}
		if err := a.waitConfig("low-space-ratio", func(c *pdclient.ScheduleConfig) bool { return math.Abs(c.LowSpaceRatio-ratio) < 1e-9 }); err != nil {
			return err
		}
		a.r.Summary = fmt.Sprintf("set low-space-ratio from %v to %v", cfg.LowSpaceRatio, ratio)
		return nil
	})
}
