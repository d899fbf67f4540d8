package tikvtest

import (
	"bytes"
	"fmt"
	"math"
	"math/big"
	"time"

	"github.com/kvops/operator/logparse"
)

// runEvictLeader moves leaders off each store an evicting scheduler
// empties: the evict-leader scheduler's stores, and the stores PD's own
// evict-slow-store and evict-stopping-store schedulers evict;
// evictLeadersPerSec for every 4 of leader-schedule-limit per second of
// dt (at least one per tick), shared by the stores.
func (c *Cluster) runEvictLeader(dt time.Duration) {
	type eviction struct {
		store uint64
		by    string
	}
	var evs []eviction
	for _, st := range c.evict {
		evs = append(evs, eviction{st, "evict-leader-scheduler"})
	}
	if c.slowEvicted != 0 {
		evs = append(evs, eviction{c.slowEvicted, "evict-slow-store-scheduler"})
	}
	if c.stoppingEvicted != 0 {
		evs = append(evs, eviction{c.stoppingEvicted, "evict-stopping-store-scheduler"})
	}
	if len(evs) == 0 {
		return
	}
	budget := max(1, int(math.Round(dt.Seconds()*evictLeadersPerSec*float64(c.cfg.leaderLimit)/4)))
	for _, ev := range evs {
		for _, id := range c.sortedRegionIDs() {
			if budget == 0 {
				return
			}
			r := c.regions[id]
			if r.leaderStore() != ev.store || c.ops[id] != nil || r.stuck {
				continue
			}
			if t := c.leaderTarget(r, ev.store); t != nil {
				c.record(fmt.Sprintf("%s {transfer leader: store %d to %d}", ev.by, ev.store, t.store), r, "leader")
				c.setLeader(r, t, ev.by)
				budget--
			}
		}
	}
}

// leaderTarget picks the voter, off store `from`, with the fewest leaders
// on a store that may take leaders.
func (c *Cluster) leaderTarget(r *region, from uint64) *peer {
	var best *peer
	for i := range r.peers {
		p := &r.peers[i]
		if p.learner || p.store == from || !c.usable(p.store) || c.leadersKeptOff(p.store) {
			continue
		}
		if best == nil || c.leaderCount(p.store) < c.leaderCount(best.store) {
			best = p
		}
	}
	return best
}

// evicted tells a store of the evict-leader scheduler.
func (c *Cluster) evicted(st uint64) bool {
	for _, e := range c.evict {
		if e == st {
			return true
		}
	}
	return false
}

// leadersKeptOff tells a store any evicting scheduler keeps leaders off:
// PD's leader filters refuse such a store as a leader target.
func (c *Cluster) leadersKeptOff(st uint64) bool {
	return c.evicted(st) || st == c.slowEvicted || st == c.stoppingEvicted
}

// runDrain moves regions off Offline stores: a move adds a learner on
// another store in one tick and, in the next, promotes it and removes the
// old peer. At most replica-schedule-limit/8 (at least one) moves start per
// tick. An Offline store left with no peer becomes Tombstone.
func (c *Cluster) runDrain() {
	// Finish moves started in earlier ticks.
	for _, id := range c.sortedRegionIDs() {
		r := c.regions[id]
		if r.moveFrom == 0 {
			continue
		}
		from := r.moveFrom
		if r.leaderStore() == from {
			if t := c.leaderTarget(r, from); t != nil {
				c.setLeader(r, t, "replica-checker")
			}
		}
		kept := r.peers[:0]
		for _, p := range r.peers {
			if p.store == from {
				continue
			}
			p.learner = false
			kept = append(kept, p)
		}
		r.peers = kept
		c.changed()
		r.moveFrom = 0
		r.confVer++
		c.record(fmt.Sprintf("replica-checker {mv peer: store [%d] to [%d]}", from, r.peers[len(r.peers)-1].store), r, "region,replica")
	}
	budget := max(1, int(c.cfg.replicaLimit/8))
	for _, s := range c.stores {
		if !s.offline || s.tombstone {
			continue
		}
		left := 0
		for _, id := range c.sortedRegionIDs() {
			r := c.regions[id]
			if r.peerOn(s.id) == nil {
				continue
			}
			left++
			if budget == 0 || r.moveFrom != 0 {
				continue
			}
			target := c.drainTarget(r)
			if target == 0 {
				continue
			}
			r.peers = append(r.peers, peer{id: c.allocID(), store: target, learner: true})
			c.changed()
			r.moveFrom = s.id
			r.confVer++
			budget--
		}
		if left == 0 {
			s.tombstone = true
			s.offline = false
			c.pdLog.write(entry(c.now, logparse.LevelWarn, "cluster.go:1709", "store has been Tombstone",
				f("store-id", s.id), f("store-address", s.address)))
		}
	}
}

func (c *Cluster) drainTarget(r *region) uint64 {
	var best uint64
	bestN := 0
	for _, s := range c.stores {
		if r.peerOn(s.id) != nil || !c.usable(s.id) {
			continue
		}
		n := c.peerCount(s.id)
		if best == 0 || n < bestN {
			best, bestN = s.id, n
		}
	}
	return best
}

// updateFlow keeps each region's hot-tick count; a region is hot while its
// write rate is at least hotWriteBytesRate.
func (c *Cluster) updateFlow() {
	for _, r := range c.hot {
		if r.leaderStore() != 0 {
			r.hotTicks++
		} else {
			r.hotTicks = 0
		}
	}
}

// splitKey returns the key halfway between start and end (end nil is
// +infinity), strictly between the two.
func splitKey(start, end []byte) []byte {
	n := max(len(start), len(end)) + 1
	pad := func(b []byte, fill byte) *big.Int {
		p := make([]byte, n)
		copy(p, b)
		for i := len(b); i < n; i++ {
			p[i] = fill
		}
		return new(big.Int).SetBytes(p)
	}
	a := pad(start, 0)
	var b *big.Int
	if end == nil {
		b = pad(nil, 0xff)
	} else {
		b = pad(end, 0)
	}
	mid := new(big.Int).Add(a, b)
	mid.Rsh(mid, 1)
	out := mid.FillBytes(make([]byte, n))
	return bytes.TrimRight(out, "\x00")
}
