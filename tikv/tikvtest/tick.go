package tikvtest

import (
	"bytes"
	"fmt"
	"slices"
	"time"

	"github.com/kvops/operator/logparse"
)

// leadersToElect reports whether electLeaders has work: a store stopped or
// started since it last ran.
func (c *Cluster) leadersToElect() bool { return c.electDirty }

// anyOffline reports whether a store is being drained.
func (c *Cluster) anyOffline() bool {
	for _, s := range c.stores {
		if s.offline && !s.tombstone {
			return true
		}
	}
	return false
}

// heartbeats advances each running store's last heartbeat to its latest
// scheduled beat (every 10 s, at the store's own phase).
func (c *Cluster) heartbeats() {
	for _, s := range c.stores {
		if !s.running {
			continue
		}
		since := c.now.Sub(c.start) - s.phase
		if since < 0 {
			continue
		}
		beat := c.start.Add(s.phase + since/heartbeatInterval*heartbeatInterval)
		if beat.After(s.lastHeartbeat) {
			s.lastHeartbeat = beat
			// A beat during a PD election reaches no leader.
			if !beat.Before(c.leaderSince) {
				// A leader writes a store's heartbeat down at the first
				// one it gets, then every storePersistInterval.
				if s.stale || beat.Sub(s.persisted) > storePersistInterval {
					s.persisted = beat
				}
				s.stale = false
			}
		}
	}
}

// stateName is the store's state_name as PD computes it, from the last
// heartbeat the PD leader knows.
func (c *Cluster) stateName(s *store) string {
	last := c.pdHeartbeat(s)
	switch {
	case s.tombstone:
		return "Tombstone"
	case s.offline:
		return "Offline"
	case c.now.Sub(last) > c.cfg.maxStoreDownTime:
		return "Down"
	case c.now.Sub(last) > disconnectDuration:
		return "Disconnected"
	}
	return "Up"
}

// pdHeartbeat is the store's last heartbeat as the PD leader knows it:
// after a leader change, the one PD last wrote to its storage, until the
// store's next heartbeat reaches the new leader (recorded:
// realpd/stores-after-election-*).
func (c *Cluster) pdHeartbeat(s *store) time.Time {
	if s.stale {
		return s.persisted
	}
	return s.lastHeartbeat
}

// electing reports whether PD is without a leader: a leader change is
// under way.
func (c *Cluster) electing() bool { return c.now.Before(c.electionEnd) }

// logStateChanges writes PD's log lines for stores that crossed the
// disconnect or down threshold during the tick that started at prev.
func (c *Cluster) logStateChanges(prev time.Time) {
	crossed := func(at time.Time) bool { return at.After(prev) && !at.After(c.now) }
	for _, s := range c.stores {
		if s.running || s.tombstone {
			continue
		}
		if crossed(s.lastHeartbeat.Add(disconnectDuration)) {
			c.pdLog.write(entry(c.now, logparse.LevelWarn, "cluster.go:1543", "store disconnected",
				f("store-id", s.id), f("store-address", s.address)))
		}
		if crossed(s.lastHeartbeat.Add(c.cfg.maxStoreDownTime)) {
			c.pdLog.write(entry(c.now, logparse.LevelWarn, "cluster.go:1550", "store is down",
				f("store-id", s.id), f("store-address", s.address)))
		}
	}
}

// usable reports whether a store can take leaders and new peers.
func (c *Cluster) usable(st uint64) bool {
	s := c.stores[st-1]
	return s.running && !s.offline && !s.tombstone && c.stateName(s) == "Up"
}

// electLeaders moves leadership off stores that are not running, as Raft
// re-elects after the election timeout: to the running voter with the
// fewest leaders, when a majority of the region's voters runs. A region
// that lost its majority elects no one, and PD, which only learns of a
// leader from its heartbeats, keeps showing the last leader it heard of,
// on its stopped store.
func (c *Cluster) electLeaders() {
	for _, id := range c.sortedRegionIDs() {
		r := c.regions[id]
		ls := r.leaderStore()
		if ls != 0 && c.stores[ls-1].running {
			continue
		}
		var best *peer
		voters, running := 0, 0
		for i := range r.peers {
			p := &r.peers[i]
			if p.learner {
				continue
			}
			voters++
			if !c.stores[p.store-1].running {
				continue
			}
			running++
			if best == nil || c.leaderCount(p.store) < c.leaderCount(best.store) {
				best = p
			}
		}
		if best == nil || 2*running <= voters {
			continue
		}
		c.setLeader(r, best, "")
	}
}

// setLeader makes p the region's leader, with the logs TiKV and PD write.
// by names the operator, if any.
func (c *Cluster) setLeader(r *region, p *peer, by string) {
	from := r.leaderStore()
	r.term++
	r.leader = p.id
	if cnt := c.cnt; cnt != nil {
		// Kept up to date rather than dropped: re-electing a stopped
		// store's leaders would otherwise recount every region per move.
		if from != 0 {
			cnt.leaders[from-1]--
		} else {
			cnt.leaderless--
		}
		cnt.leaders[p.store-1]++
	}
	for _, q := range r.peers {
		s := c.stores[q.store-1]
		if !s.running {
			continue
		}
		if q.id == p.id {
			s.log.write(entry(c.now, logparse.LevelInfo, "raft.rs:1228", fmt.Sprintf("became leader at term %d", r.term),
				f("term", r.term), f("raft_id", q.id), f("region_id", r.id)))
		} else if q.store == from {
			s.log.write(entry(c.now, logparse.LevelInfo, "raft.rs:1084", fmt.Sprintf("became follower at term %d", r.term),
				f("term", r.term), f("raft_id", q.id), f("region_id", r.id)))
		}
	}
	c.pdLog.write(entry(c.now, logparse.LevelInfo, "region.go:900", "leader changed",
		f("region-id", r.id), f("from", from), f("to", p.store)))
	if by != "" {
		c.logger.Debug("tikvtest: leader moved", "region", r.id, "from", from, "to", p.store, "by", by)
	}
}

// counts are per-store leader, peer and learner counts, indexed by store
// id - 1, and the number of regions without a leader on a store; computed
// on demand and dropped whenever a region changes.
type counts struct {
	leaders, peers, learners []int
	leaderless               int
}

func (c *Cluster) counts() *counts {
	if c.cnt != nil {
		return c.cnt
	}
	n := len(c.stores)
	cnt := &counts{leaders: make([]int, n), peers: make([]int, n), learners: make([]int, n)}
	for _, r := range c.byKey {
		led := false
		for _, p := range r.peers {
			cnt.peers[p.store-1]++
			if p.learner {
				cnt.learners[p.store-1]++
			}
			if p.id == r.leader {
				cnt.leaders[p.store-1]++
				led = true
			}
		}
		if !led {
			cnt.leaderless++
		}
	}
	c.cnt = cnt
	return cnt
}

// changed drops the cached counts; call it after changing any region.
func (c *Cluster) changed() { c.cnt = nil }

func (c *Cluster) leaderCount(st uint64) int { return c.counts().leaders[st-1] }

func (c *Cluster) peerCount(st uint64) int { return c.counts().peers[st-1] }

// sortedRegionIDs returns the region ids in ascending order. The slice is
// the cluster's own: read it, do not change it.
func (c *Cluster) sortedRegionIDs() []uint64 { return c.ids }

// regionsByKey returns the regions in key order. The slice is the
// cluster's own: read it, do not change it.
func (c *Cluster) regionsByKey() []*region { return c.byKey }

// addRegion adds a region after every region there is, in key order and
// in id order.
func (c *Cluster) addRegion(r *region) {
	c.regions[r.id] = r
	c.byKey = append(c.byKey, r)
	c.ids = append(c.ids, r.id)
}

// insertRegion adds nr, a region split off the end of prev, right after
// prev in key order. Its id is the newest, so id order holds by appending.
func (c *Cluster) insertRegion(prev, nr *region) {
	c.regions[nr.id] = nr
	i, _ := slices.BinarySearchFunc(c.byKey, prev.start, func(r *region, k []byte) int { return bytes.Compare(r.start, k) })
	c.byKey = slices.Insert(c.byKey, i+1, nr)
	c.ids = append(c.ids, nr.id)
	c.noteFlow(prev)
	c.noteFlow(nr)
	c.changed()
}

// regionAt returns the index in key order of the region holding key.
func (c *Cluster) regionAt(key []byte) int {
	i, _ := slices.BinarySearchFunc(c.byKey, key, func(r *region, k []byte) int {
		if r.end == nil || bytes.Compare(k, r.end) < 0 {
			return 1
		}
		return -1
	})
	return i
}

// noteFlow keeps the set of regions writing at the hot rate, the only
// ones updateFlow visits, after r's write rate changed. A region that
// leaves the set is no longer hot.
func (c *Cluster) noteFlow(r *region) {
	if r.writeRate >= hotWriteBytesRate {
		c.hot[r.id] = r
		return
	}
	delete(c.hot, r.id)
	r.hotTicks = 0
}
