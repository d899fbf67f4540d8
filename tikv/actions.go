package tikv

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/kvops/operator/pdclient"
	"github.com/kvops/operator/subject"
)

// MaxScheduleLimit bounds what SetScheduleLimit accepts. PD takes larger
// numbers, but a limit this high already lets scheduling swamp a cluster,
// so a larger one is far more likely a mistake than a wish.
const MaxScheduleLimit = 1024

// action runs one action: it logs before and after, times it, and fills
// the result's common fields. do gets the result to complete and whether
// to change anything.
func (s *Subject) action(ctx context.Context, name, target string, do func(r *subject.Result) error) (subject.Result, error) {
	r := subject.Result{Action: name, Target: target, DryRun: s.dryRun || subject.IsDryRun(ctx), Started: s.clock()}
	s.log.InfoContext(ctx, "action starting", "action", name, "target", target, "dry_run", r.DryRun)
	err := do(&r)
	r.Finished = s.clock()
	if err != nil {
		s.log.WarnContext(ctx, "action failed", "action", name, "target", target, "dry_run", r.DryRun, "error", err)
		return r, fmt.Errorf("tikv: %s %s: %w", name, target, err)
	}
	s.log.InfoContext(ctx, "action done", "action", name, "target", target, "dry_run", r.DryRun,
		"summary", r.Summary, "took", r.Finished.Sub(r.Started))
	return r, nil
}

// waitFor re-reads PD every poll interval until done reports true, the
// context ends, or done fails.
func (s *Subject) waitFor(ctx context.Context, what string, done func() (bool, error)) error {
	for {
		ok, err := done()
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		if err := s.sleep(ctx, s.poll); err != nil {
			return fmt.Errorf("waiting for %s: %w", what, err)
		}
	}
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

// TransferLeader moves a region's leadership to its voter on store to. It
// checks first that the store is Up and holds a voter of the region, then
// asks PD for a transfer-leader operator and waits, bounded by ctx, until
// PD reports the new leader.
func (s *Subject) TransferLeader(ctx context.Context, region subject.RegionID, to subject.StoreID) (subject.Result, error) {
	target := fmt.Sprintf("region %d to store %d", region, to)
	return s.action(ctx, "transfer_leader", target, func(r *subject.Result) error {
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
		r.Regions = []subject.RegionID{region}
		if reg.HasLeader && reg.Leader.Store == to {
			r.Summary = fmt.Sprintf("region %d is already led from store %d; nothing to do", region, to)
			return nil
		}
		from := "no leader"
		if reg.HasLeader {
			from = "store " + reg.Leader.Store.String()
		}
		if r.DryRun {
			r.Summary = fmt.Sprintf("would move the leader of region %d from %s to store %d", region, from, to)
			return nil
		}
		if err := s.pd.TransferLeader(ctx, uint64(region), uint64(to)); err != nil {
			return err
		}
		err = s.waitFor(ctx, "the new leader", func() (bool, error) {
			now, err := s.region(ctx, region)
			return err == nil && now.HasLeader && now.Leader.Store == to, err
		})
		if err != nil {
			return err
		}
		r.Summary = fmt.Sprintf("moved the leader of region %d from %s to store %d", region, from, to)
		return nil
	})
}

// SplitRegion asks PD to split a region in two at its approximate middle,
// waits until the split shows, and returns the regions that cover the
// original range. SplitRegionWith chooses another policy or the keys.
func (s *Subject) SplitRegion(ctx context.Context, region subject.RegionID) (subject.Result, error) {
	return s.SplitRegionWith(ctx, region, pdclient.SplitApproximate)
}

// SplitRegionWith splits a region with the given policy: at its
// approximate middle (pdclient.SplitApproximate), at the exact middle found
// by a scan (pdclient.SplitScan), or at the given raw keys
// (pdclient.SplitUseKey), which must lie strictly inside the region's
// range. It waits until the split shows and returns the regions that cover
// the original range.
func (s *Subject) SplitRegionWith(ctx context.Context, region subject.RegionID, policy pdclient.SplitPolicy, keys ...[]byte) (subject.Result, error) {
	return s.action(ctx, "split_region", "region "+region.String(), func(r *subject.Result) error {
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
		if r.DryRun {
			r.Regions = []subject.RegionID{region}
			r.Summary = fmt.Sprintf("would split region %d (%d MiB, %d keys) with policy %s", region, reg.ApproximateSize, reg.ApproximateKeys, policy)
			return nil
		}
		if err := s.pd.SplitRegion(ctx, uint64(region), policy, hexKeys...); err != nil {
			return err
		}
		err = s.waitFor(ctx, "the split", func() (bool, error) {
			now, err := s.region(ctx, region)
			return err == nil && now.Epoch.Version > reg.Epoch.Version, err
		})
		if err != nil {
			return err
		}
		ids, err := s.regionsCovering(ctx, reg.StartKey, reg.EndKey)
		if err != nil {
			return err
		}
		r.Regions = ids
		r.Summary = fmt.Sprintf("split region %d with policy %s into %d regions", region, policy, len(ids))
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

// DrainStore sets a store Offline: PD moves its regions to other stores,
// after which the store becomes a tombstone. It refuses when the other Up
// stores could not hold every replica. UndrainStore cancels it.
func (s *Subject) DrainStore(ctx context.Context, store subject.StoreID) (subject.Result, error) {
	return s.action(ctx, "drain_store", "store "+store.String(), func(r *subject.Result) error {
		st, err := s.store(ctx, store)
		if err != nil {
			return err
		}
		switch st.State {
		case subject.StateOffline:
			r.Summary = fmt.Sprintf("store %d is already draining (%d regions left)", store, st.RegionCount)
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
		if r.DryRun {
			r.Summary = fmt.Sprintf("would set store %d Offline; PD would move its %d regions to the other %d Up stores", store, st.RegionCount, others)
			return nil
		}
		if err := s.pd.DeleteStore(ctx, uint64(store)); err != nil {
			return err
		}
		if err := s.waitState(ctx, store, subject.StateOffline, subject.StateTombstone); err != nil {
			return err
		}
		r.Summary = fmt.Sprintf("set store %d Offline; PD is moving its %d regions away", store, st.RegionCount)
		return nil
	})
}

// UndrainStore cancels a drain that has not finished: the store goes back
// to Up and keeps the regions it still has.
func (s *Subject) UndrainStore(ctx context.Context, store subject.StoreID) (subject.Result, error) {
	return s.action(ctx, "undrain_store", "store "+store.String(), func(r *subject.Result) error {
		st, err := s.store(ctx, store)
		if err != nil {
			return err
		}
		switch st.State {
		case subject.StateOffline:
		case subject.StateTombstone:
			return fmt.Errorf("store %d has already been drained and removed: %w", store, subject.ErrPrecondition)
		default:
			r.Summary = fmt.Sprintf("store %d is %s, not draining; nothing to do", store, st.State)
			return nil
		}
		if r.DryRun {
			r.Summary = fmt.Sprintf("would return store %d to Up with its %d regions", store, st.RegionCount)
			return nil
		}
		if err := s.pd.CancelOffline(ctx, uint64(store)); err != nil {
			return err
		}
		if err := s.waitState(ctx, store, subject.StateUp, subject.StateDisconnected, subject.StateDown); err != nil {
			return err
		}
		r.Summary = fmt.Sprintf("returned store %d to service with %d regions", store, st.RegionCount)
		return nil
	})
}

func (s *Subject) waitState(ctx context.Context, store subject.StoreID, want ...subject.StoreState) error {
	return s.waitFor(ctx, fmt.Sprintf("store %d to be %s", store, want[0]), func() (bool, error) {
		st, err := s.store(ctx, store)
		if err != nil {
			return false, err
		}
		for _, w := range want {
			if st.State == w {
				return true, nil
			}
		}
		return false, nil
	})
}

// EvictLeaders adds the store to PD's evict-leader scheduler, which moves
// every leader off it and keeps them off. Evicting twice is harmless.
func (s *Subject) EvictLeaders(ctx context.Context, store subject.StoreID) (subject.Result, error) {
	return s.action(ctx, "evict_leaders", "store "+store.String(), func(r *subject.Result) error {
		st, err := s.store(ctx, store)
		if err != nil {
			return err
		}
		if st.State == subject.StateTombstone {
			return fmt.Errorf("store %d is a tombstone: %w", store, subject.ErrPrecondition)
		}
		if r.DryRun {
			r.Summary = fmt.Sprintf("would evict the %d leaders of store %d and keep new ones off it", st.LeaderCount, store)
			return nil
		}
		if err := s.pd.EvictLeader(ctx, uint64(store)); err != nil {
			return err
		}
		r.Summary = fmt.Sprintf("evicting the %d leaders of store %d", st.LeaderCount, store)
		return nil
	})
}

// RestoreLeaders removes the store from PD's evict-leader scheduler, so
// that it may lead regions again. Restoring a store whose leaders are not
// evicted is harmless.
func (s *Subject) RestoreLeaders(ctx context.Context, store subject.StoreID) (subject.Result, error) {
	return s.action(ctx, "restore_leaders", "store "+store.String(), func(r *subject.Result) error {
		if _, err := s.store(ctx, store); err != nil {
			return err
		}
		if r.DryRun {
			r.Summary = fmt.Sprintf("would let store %d lead regions again", store)
			return nil
		}
		err := s.pd.RemoveEvictLeader(ctx, uint64(store))
		switch {
		case errors.Is(err, pdclient.ErrNotFound):
			r.Summary = fmt.Sprintf("store %d's leaders were not evicted; nothing to do", store)
			return nil
		case err != nil:
			return err
		}
		r.Summary = fmt.Sprintf("store %d may lead regions again", store)
		return nil
	})
}

// SetScheduleLimit sets PD's leader-, region- or replica-schedule-limit.
// n must be at most MaxScheduleLimit; 0 stops that kind of scheduling.
func (s *Subject) SetScheduleLimit(ctx context.Context, kind subject.LimitKind, n uint64) (subject.Result, error) {
	key := kind.String() + "-schedule-limit"
	return s.action(ctx, "set_schedule_limit", key, func(r *subject.Result) error {
		switch kind {
		case subject.LeaderLimit, subject.RegionLimit, subject.ReplicaLimit:
		default:
			return fmt.Errorf("unknown limit kind %d: %w", kind, subject.ErrInvalid)
		}
		if n > MaxScheduleLimit {
			return fmt.Errorf("%s %d is above %d: %w", key, n, MaxScheduleLimit, subject.ErrInvalid)
		}
		if r.DryRun {
			r.Summary = fmt.Sprintf("would set %s to %d", key, n)
			return nil
		}
		if err := s.pd.SetConfig(ctx, map[string]any{key: n}); err != nil {
			return err
		}
		r.Summary = fmt.Sprintf("set %s to %d", key, n)
		return nil
	})
}

// SetLowSpaceThreshold sets PD's low-space-ratio to percent/100. PD stops
// moving data to a store whose disk is fuller than that. It must lie above
// PD's high-space-ratio (PD refuses it otherwise), which is checked first.
func (s *Subject) SetLowSpaceThreshold(ctx context.Context, percent float64) (subject.Result, error) {
	return s.action(ctx, "set_low_space_threshold", "low-space-ratio", func(r *subject.Result) error {
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
		if r.DryRun {
			r.Summary = fmt.Sprintf("would set low-space-ratio from %v to %v", cfg.LowSpaceRatio, ratio)
			return nil
		}
		if err := s.pd.SetConfig(ctx, map[string]any{"low-space-ratio": ratio}); err != nil {
			return err
		}
		r.Summary = fmt.Sprintf("set low-space-ratio from %v to %v", cfg.LowSpaceRatio, ratio)
		return nil
	})
}
