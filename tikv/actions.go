package tikv

import (
	"bytes"
	"cmp"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/kvops/operator/pdclient"
	"github.com/kvops/operator/subject"
)

func (s *Subject) region(ctx context.Context, id subject.RegionID) (subject.Region, error) {
	p, err := s.pd.RegionByID(ctx, uint64(id))
	if err != nil {
		return subject.Region{}, err
	}
	return regionFromPD(*p)
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

// TransferLeader moves a region's leadership to its voter on store to.
//
// Refused (nothing changed; PhaseRefused, matching subject.ErrInvalid,
// ErrNotFound or ErrPrecondition): region or store 0; a region or store
// that does not exist; a store that is not Up, holds no voter of the
// region or has its leaders evicted (by any scheduler: PD refuses them as
// leader targets); a region with an operator PD has not
// ended. A dry run checks the same and says what it would do. A region
// already led from store to is left alone: the result has NoChange set.
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
			a.r.NoChange = true
			return nil
		}
		ev, err := s.leaderEvictions(ctx)
		if err != nil {
			return err
		}
		if by := ev[to]; len(by) > 0 {
			return fmt.Errorf("store %d's leaders are evicted (%s), and PD refuses to move a leader there: %w", to, strings.Join(by, ", "), subject.ErrPrecondition)
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
		seen := leaderSeen(reg)
		err = a.wait(s.acts.Timeouts.TransferLeader, fmt.Sprintf("region %d led from store %d", region, to), func(p *subject.Progress) (bool, error) {
			// The effect first: once it shows, whatever PD did since to
			// the region does not undo the action.
			now, err := s.region(ctx, region)
			if err == nil {
				seen = leaderSeen(now)
				if now.HasLeader && now.Leader.Store == to {
					p.Seen = seen
					return true, nil
				}
			}
			terr := t.check()
			t.note(p, seen)
			return false, cmp.Or(terr, err)
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
		seen := fmt.Sprintf("region %d at version %d, not split yet", region, reg.Epoch.Version)
		err = a.wait(s.acts.Timeouts.SplitRegion, fmt.Sprintf("region %d split (past version %d)", region, reg.Epoch.Version), func(p *subject.Progress) (bool, error) {
			now, err := s.region(ctx, region)
			if err == nil {
				if now.Epoch.Version > reg.Epoch.Version {
					p.Seen = fmt.Sprintf("region %d split (version %d)", region, now.Epoch.Version)
					return true, nil
				}
				seen = fmt.Sprintf("region %d at version %d, not split yet", region, now.Epoch.Version)
			}
			terr := t.check()
			t.note(p, seen)
			return false, cmp.Or(terr, err)
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

// leaderSeen says where a region's leader is.
func leaderSeen(r subject.Region) string {
	if !r.HasLeader {
		return fmt.Sprintf("region %d has no leader", r.ID)
	}
	return fmt.Sprintf("region %d led from store %d", r.ID, r.Leader.Store)
}

// regionsCovering lists the regions over [start, end), in key order.
func (s *Subject) regionsCovering(ctx context.Context, start, end []byte) ([]subject.RegionID, error) {
	var ids []subject.RegionID
	for p, err := range s.pd.AllRegions(ctx, pdclient.WithKeyRange(hexKey(start), hexKey(end))) {
		if err != nil {
			return nil, err
		}
		reg, err := regionFromPD(p)
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
