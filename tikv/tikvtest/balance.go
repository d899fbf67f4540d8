package tikvtest

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/kvops/operator/subject"
)

// Balance-leader, as PD's pkg/schedule/schedulers/balance_leader.go and
// its solver do it with the default configuration (leader-schedule-policy
// "count", tolerant-size-ratio 0):
//
//   - stores are sorted by leader score (leader count / leader weight);
//     the scheduler moves a leader out of the highest-scoring source and
//     into the lowest-scoring target, to a follower the region already has
//     there, skipping regions with a pending operator;
//   - it only does so when the source's score, lowered by the tolerance,
//     is still above the target's, raised by it: with tolerant-size-ratio
//     0 the tolerance for leader counts is leaderTolerantSizeRatio = 5
//     leaders, so stores within 10 leaders of each other are left alone;
//   - targets are stores that may take leaders: Up, not Offline, not
//     evicted by the evict-leader scheduler (pause_leader_transfer_in) or
//     by PD's evict-slow-store or evict-stopping-store scheduler.
//
// PD runs it many times a second; the recorded restore
// (pd-operators/store-2-after-restore) brought leaders back at about ten
// a second, which is the rate modelled here.
const (
	leaderTolerance      = 5
	balanceLeadersPerSec = 10
)

// runBalanceLeader moves up to balanceLeadersPerSec leaders per second of
// dt (at least one per tick) from the busiest stores to the least busy.
func (c *Cluster) runBalanceLeader(dt time.Duration) {
	budget := max(1, int(math.Round(dt.Seconds()*balanceLeadersPerSec)))
	for ; budget > 0; budget-- {
		if !c.balanceOneLeader() {
			return
		}
	}
}

// balanceOneLeader makes one balance-leader move, reporting whether it
// found one.
func (c *Cluster) balanceOneLeader() bool {
	score := func(s *store) float64 { return float64(c.leaderCount(s.id)) / max(s.leaderWeight, 1e-9) }
	var targets []*store
	var sources []*store
	for _, s := range c.stores {
		if !s.running || s.tombstone {
			continue
		}
		sources = append(sources, s)
		if c.usable(s.id) && !c.leadersKeptOff(s.id) {
			targets = append(targets, s)
		}
	}
	// Highest score first for sources, lowest first for targets; equal
	// scores put the bigger id first, as PD's candidateStores do.
	less := func(asc bool) func(a, b *store) int {
		return func(a, b *store) int {
			sa, sb := score(a), score(b)
			switch {
			case sa == sb:
				return cmp.Compare(b.id, a.id)
			case (sa < sb) == asc:
				return -1
			}
			return 1
		}
	}
	slices.SortFunc(sources, less(false))
	slices.SortFunc(targets, less(true))
	for _, src := range sources {
		for _, tgt := range targets {
			if tgt.id == src.id || score(src)-leaderTolerance <= score(tgt)+leaderTolerance {
				continue
			}
			if r := c.balanceCandidate(src.id, tgt.id); r != nil {
				c.record(fmt.Sprintf("balance-leader-scheduler {transfer leader: store %d to %d}", src.id, tgt.id), r, "leader")
				c.setLeader(r, r.peerOn(tgt.id), "balance-leader-scheduler")
				return true
			}
		}
	}
	return false
}

// balanceCandidate picks a region led from store from with a voter on
// store to that a scheduler may move: no pending operator, not just moved
// by an admin, not stuck.
func (c *Cluster) balanceCandidate(from, to uint64) *region {
	for _, id := range c.sortedRegionIDs() {
		r := c.regions[id]
		if r.leaderStore() != from || c.ops[id] != nil || r.stuck || r.moveFrom != 0 || c.now.Before(r.adminUntil) {
			continue
		}
		if p := r.peerOn(to); p != nil && !p.learner {
			return r
		}
	}
	return nil
}

// SetStuckLeaders makes n of the regions a store leads now keep their
// leader there: neither the evict-leader nor the balance-leader scheduler
// moves them (as PD's filters skip regions with pending or down peers), so
// an eviction leaves n leaders behind. n 0 frees the store's regions
// again.
func (c *Cluster) SetStuckLeaders(id subject.StoreID, n int) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, err := c.store(id); err != nil {
		return err
	}
	if n < 0 {
		return fmt.Errorf("%w: %d stuck leaders", ErrBadArgument, n)
	}
	for _, rid := range c.sortedRegionIDs() {
		r := c.regions[rid]
		if r.leaderStore() != uint64(id) {
			continue
		}
		r.stuck = n > 0
		if n > 0 {
			n--
		}
	}
	return nil
}
