package sim

import (
	"fmt"
	"time"

	"github.com/kvops/operator/logparse"
)

// operator is a pending admin operator; it completes on the next tick.
type operator struct {
	name    string // "transfer-leader" or "split-region"
	desc    string // "admin-transfer-leader {transfer leader: store 3 to 5}"
	kind    string // "admin,leader"
	step    string // "transfer leader from store 3 to store 5"
	target  uint64 // transfer-leader: the new leader's store
	created time.Time
	confVer uint64
	version uint64
}

// opTimeFormat is how PD prints times in operator descriptions (Go's
// time.Time.String without the monotonic part).
const opTimeFormat = "2006-01-02 15:04:05.999999999 -0700 MST"

func (o *operator) String(region uint64) string {
	return fmt.Sprintf("%s (kind:%s, region:%d(%d, %d), createAt:%s, startAt:%s, currentStep:0, size:%d, steps:[0:{%s}], timeout:[1m0s])",
		o.desc, o.kind, region, o.version, o.confVer, o.created.Format(opTimeFormat), o.created.Format(opTimeFormat), regionSizeMiB, o.step)
}

// record keeps a finished operator's description for /operators/records.
func (c *Cluster) record(desc string, r *region, kind string) {
	t := c.now.Format(opTimeFormat)
	c.records = append(c.records, fmt.Sprintf("%s (kind:%s, region:%d(%d, %d), createAt:%s, startAt:%s, currentStep:1, size:%d, steps:[], timeout:[1m0s]) finished (finishAt:%s, duration:0s)",
		desc, kind, r.id, r.version, r.confVer, t, t, regionSizeMiB, t))
	if len(c.records) > 10000 {
		c.records = append(c.records[:0], c.records[len(c.records)-5000:]...)
	}
}

// runOperators completes the pending admin operators.
func (c *Cluster) runOperators() {
	for _, id := range c.sortedRegionIDs() {
		o := c.ops[id]
		if o == nil {
			continue
		}
		delete(c.ops, id)
		r := c.regions[id]
		switch o.name {
		case "transfer-leader":
			p := r.peerOn(o.target)
			if p == nil || p.learner || !c.stores[o.target-1].running || r.leaderStore() == o.target {
				c.logger.Debug("sim: transfer-leader operator cancelled", "region", id, "to", o.target)
				continue
			}
			c.setLeader(r, p, "admin-transfer-leader")
			r.adminUntil = c.now.Add(5 * time.Minute)
		case "split-region":
			c.split(r)
		}
		c.records = append(c.records, fmt.Sprintf("%s finished (finishAt:%s, duration:%s)",
			o.String(id), c.now.Format(opTimeFormat), c.now.Sub(o.created)))
	}
}

// split halves a region: the region keeps the lower half and a new region,
// on the same stores and with the same leader store, takes the upper half.
// Both versions go up by one.
func (c *Cluster) split(r *region) {
	key := splitKey(r.start, r.end)
	nr := &region{
		start: key, end: r.end, confVer: r.confVer, version: r.version + 1,
		term: r.term, writeRate: r.writeRate / 2,
	}
	ls := r.leaderStore()
	for _, p := range r.peers {
		np := peer{id: c.allocID(), store: p.store, learner: p.learner}
		nr.peers = append(nr.peers, np)
		if p.store == ls {
			nr.leader = np.id
		}
	}
	nr.id = c.allocID()
	r.end = key
	r.version++
	r.writeRate /= 2
	c.insertRegion(r, nr)
	if ls != 0 {
		c.stores[ls-1].log.write(entry(c.now, logparse.LevelInfo, "peer.rs:4203", "on split",
			f("split_keys", fmt.Sprintf("key %X", key)), f("region_id", r.id), f("new_region_id", nr.id)))
	}
	c.pdLog.write(entry(c.now, logparse.LevelInfo, "region.go:900", "region Version changed",
		f("region-id", r.id), f("old-version", r.version-1), f("new-version", r.version)))
}
