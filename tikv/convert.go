package tikv

import (
	"cmp"
	"encoding/hex"
	"fmt"
	"slices"
	"time"

	"github.com/kvops/operator/pdclient"
	"github.com/kvops/operator/subject"
)

// The conversions from PD's wire types (package pdclient, which knows
// nothing of package subject) to the shared vocabulary.

// storeFromPD converts a store of PD to the shared vocabulary. Its state comes from
// StateName; an unknown name is an error. Labels become a map; the last
// heartbeat is the status's RFC 3339 time, or the metadata's when absent;
// a start time at the unix epoch (as PD's simulator reports) is unknown.
func storeFromPD(s pdclient.Store) (subject.Store, error) {
	state, err := subject.ParseStoreState(s.Meta.StateName)
	if err != nil {
		return subject.Store{}, fmt.Errorf("tikv: store %d: %w", s.Meta.ID, err)
	}
	out := subject.Store{
		ID:            subject.StoreID(s.Meta.ID),
		Address:       s.Meta.Address,
		StatusAddress: s.Meta.StatusAddress,
		Version:       s.Meta.Version,
		State:         state,
		// subject numbers node states from 1 (0 is unknown); PD from 0.
		NodeState:        subject.NodeState(s.Meta.NodeState + 1),
		Capacity:         s.Status.Capacity,
		Available:        s.Status.Available,
		UsedSize:         s.Status.UsedSize,
		LeaderCount:      s.Status.LeaderCount,
		RegionCount:      s.Status.RegionCount,
		LastHeartbeat:    s.Status.LastHeartbeatTS,
		PendingPeerCount: s.Status.PendingPeerCount,
	}
	if s.Meta.NodeState < 0 || s.Meta.NodeState > 3 {
		out.NodeState = subject.NodeUnknown
	}
	if out.LastHeartbeat.IsZero() || out.LastHeartbeat.Unix() <= 0 {
		out.LastHeartbeat = s.Meta.LastHeartbeat
	}
	if t := s.Status.StartTS; t.Unix() > 0 {
		out.StartedAt = t
	} else if s.Meta.StartTimestamp > 0 {
		out.StartedAt = time.Unix(s.Meta.StartTimestamp, 0).UTC()
	}
	if len(s.Meta.Labels) > 0 {
		out.Labels = make(map[string]string, len(s.Meta.Labels))
		for _, l := range s.Meta.Labels {
			out.Labels[l.Key] = l.Value
		}
	}
	return out, nil
}

// regionFromPD converts a region of PD to the shared vocabulary: keys are
// hex-decoded to raw bytes (a key that is not hex is an error), peer roles
// parsed, and a leader with id 0 means no leader.
func regionFromPD(r pdclient.Region) (subject.Region, error) {
	start, err := hex.DecodeString(r.StartKey)
	if err != nil {
		return subject.Region{}, fmt.Errorf("tikv: region %d: start key: %v: %w", r.ID, err, pdclient.ErrBadResponse)
	}
	end, err := hex.DecodeString(r.EndKey)
	if err != nil {
		return subject.Region{}, fmt.Errorf("tikv: region %d: end key: %v: %w", r.ID, err, pdclient.ErrBadResponse)
	}
	out := subject.Region{
		ID:              subject.RegionID(r.ID),
		StartKey:        start,
		EndKey:          end,
		Epoch:           subject.Epoch{ConfVer: r.Epoch.ConfVer, Version: r.Epoch.Version},
		ApproximateSize: uint64(max(r.ApproximateSize, 0)),
		ApproximateKeys: uint64(max(r.ApproximateKeys, 0)),
		WrittenBytes:    r.WrittenBytes,
		ReadBytes:       r.ReadBytes,
		WrittenKeys:     r.WrittenKeys,
		ReadKeys:        r.ReadKeys,
	}
	for _, p := range r.Peers {
		sp, err := peerOf(p)
		if err != nil {
			return subject.Region{}, fmt.Errorf("tikv: region %d: %w", r.ID, err)
		}
		out.Peers = append(out.Peers, sp)
	}
	if r.Leader.ID != 0 {
		out.HasLeader = true
		if out.Leader, err = peerOf(r.Leader); err != nil {
			return subject.Region{}, fmt.Errorf("tikv: region %d: leader: %w", r.ID, err)
		}
	}
	return out, nil
}

func peerOf(p pdclient.Peer) (subject.Peer, error) {
	role := subject.RoleVoter
	switch {
	case p.RoleName != "":
		r, err := subject.ParsePeerRole(p.RoleName)
		if err != nil {
			return subject.Peer{}, err
		}
		role = r
	case p.IsLearner:
		role = subject.RoleLearner
	}
	return subject.Peer{ID: p.ID, Store: subject.StoreID(p.StoreID), Role: role}, nil
}

// hotRegionsFromPD converts PD's hot peers to the shared vocabulary, hottest (by
// bytes per second) first, ties broken by region then store.
func hotRegionsFromPD(h pdclient.HotRegions) []subject.HotRegion {
	var out []subject.HotRegion
	for store, st := range h.AsPeer {
		for _, p := range st.Statistics {
			sid := p.StoreID
			if sid == 0 {
				sid = store
			}
			out = append(out, subject.HotRegion{
				Region: subject.RegionID(p.RegionID), Store: subject.StoreID(sid), IsLeader: p.IsLeader,
				BytesPerSec: p.FlowBytes, KeysPerSec: p.FlowKeys, QueryPerSec: p.FlowQuery,
				HotDegree: p.HotDegree, LastUpdate: p.LastUpdateTime,
			})
		}
	}
	slices.SortFunc(out, func(a, b subject.HotRegion) int {
		return cmp.Or(cmp.Compare(b.BytesPerSec, a.BytesPerSec), cmp.Compare(a.Region, b.Region), cmp.Compare(a.Store, b.Store))
	})
	return out
}
