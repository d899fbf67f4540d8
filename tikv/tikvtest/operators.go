package tikvtest

import (
	"fmt"
	"strings"
	"time"

	"github.com/kvops/operator/logparse"
)

// operatorTimeout is the timeout PD prints for admin operators
// ("timeout:[1m0s]") and after which it ends one that has not finished
// with TIMEOUT (pd-operators/operator-status-timeout).
const operatorTimeout = time.Minute

// operator is a pending operator on a region: an admin one made through
// POST /operators, or a scheduler's that replaced one.
type operator struct {
	name    string // "transfer-leader", "split-region" or "balance-leader"
	desc    string // "admin-transfer-leader {transfer leader: store 3 to 5}"
	kind    string // "admin,leader"
	step    string // "transfer leader from store 3 to store 5"
	target  uint64 // transfer-leader: the new leader's store
	created time.Time
	confVer uint64
	version uint64
	outcome OperatorOutcome
}

// OperatorOutcome is how the simulated PD ends an admin operator.
type OperatorOutcome int

// The outcomes of an admin operator, as PD reports them in
// GET /operators/{region_id} ("status: TIMEOUT, operator: ...").
const (
	// OperatorSucceeds: the operator runs on the next tick and PD shows
	// SUCCESS. The default.
	OperatorSucceeds OperatorOutcome = iota
	// OperatorTimesOut: the operator never executes (as pd-simulator never
	// executes splits) and stays RUNNING until PD ends it TIMEOUT, one
	// minute after it was created.
	OperatorTimesOut
	// OperatorCancelled: PD cancels the operator on the next tick: CANCEL.
	OperatorCancelled
	// OperatorReplaced: on the next tick a balance-leader operator replaces
	// it (REPLACE), so that GET /operators/{region_id} then shows the
	// scheduler's operator, not the admin one: the recorded "latest operator
	// on the region" trap.
	OperatorReplaced
)

// latestOp is the last operator that ended on a region, as
// GET /operators/{region_id} shows it once nothing runs there.
type latestOp struct {
	status string // SUCCESS, CANCEL, TIMEOUT, REPLACE
	text   string
	at     time.Time
}

// opTimeFormat is how PD prints times in operator descriptions (Go's
// time.Time.String without the monotonic part).
const opTimeFormat = "2006-01-02 15:04:05.999999999 -0700 MST"

// String is PD's Operator.String: the step counter moves to 1 once the
// operator finished, and PD appends " finished" or " timeout".
func (o *operator) String(region uint64) string {
	return o.text(region, 0, "")
}

func (o *operator) text(region uint64, step int, suffix string) string {
	steps := fmt.Sprintf("0:{%s}", o.step)
	return fmt.Sprintf("%s (kind:%s, region:%d(%d, %d), createAt:%s, startAt:%s, currentStep:%d, size:%d, steps:[%s], timeout:[%s])%s",
		o.desc, o.kind, region, o.version, o.confVer, o.created.Format(opTimeFormat), o.created.Format(opTimeFormat),
		step, regionSizeMiB, steps, operatorTimeout, suffix)
}

// end records an operator PD ended: it becomes the region's latest
// operator and, as PD's records do, is listed by /operators/records.
func (c *Cluster) end(id uint64, o *operator, status string) {
	step, suffix := 0, ""
	switch status {
	case "SUCCESS":
		step, suffix = 1, " finished"
	case "TIMEOUT":
		suffix = " timeout"
	}
	text := o.text(id, step, suffix)
	c.latest[id] = latestOp{status: status, text: text, at: c.now}
	if strings.HasPrefix(o.desc, "admin-") {
		c.adminEnded[id] = c.latest[id]
	}
	c.appendRecord(fmt.Sprintf("%s (finishAt:%s, duration:%s)", text, c.now.Format(opTimeFormat), c.now.Sub(o.created)))
}

// record keeps the operator of a scheduler that created and finished it
// within one tick (evict-leader, balance-leader, replica-checker): it is
// the region's latest operator and is listed by /operators/records.
func (c *Cluster) record(desc string, r *region, kind string) {
	o := &operator{desc: desc, kind: kind, created: c.now, version: r.version, confVer: r.confVer, step: stepOf(desc)}
	c.end(r.id, o, "SUCCESS")
}

// stepOf turns "balance-leader-scheduler {transfer leader: store 5 to 2}"
// into PD's step text "transfer leader from store 5 to store 2".
func stepOf(desc string) string {
	var from, to uint64
	var name string
	if _, err := fmt.Sscanf(desc, "%s {transfer leader: store %d to %d}", &name, &from, &to); err == nil {
		return fmt.Sprintf("transfer leader from store %d to store %d", from, to)
	}
	return "change peer"
}

func (c *Cluster) appendRecord(s string) {
	c.records = append(c.records, s)
	if len(c.records) > 10000 {
		c.records = append(c.records[:0], c.records[len(c.records)-5000:]...)
	}
}

// runOperators runs the pending operators: admin ones succeed, time out,
// are cancelled or replaced as their outcome says; a replacing
// balance-leader operator finishes on the tick after it was created.
func (c *Cluster) runOperators() {
	for _, id := range c.sortedRegionIDs() {
		o := c.ops[id]
		if o == nil || !o.created.Before(c.now) {
			continue
		}
		r := c.regions[id]
		if ls := r.leaderStore(); r.confVer != o.confVer && ls != 0 && c.stores[ls-1].running {
			// The region's membership changed under the operator: PD
			// cancels it as stale at the next region heartbeat
			// (checkStaleOperator, "epoch not match").
			delete(c.ops, id)
			c.end(id, o, "CANCEL")
			continue
		}
		switch o.outcome {
		case OperatorTimesOut:
			if c.now.Sub(o.created) >= operatorTimeout {
				delete(c.ops, id)
				c.end(id, o, "TIMEOUT")
			}
			continue
		case OperatorCancelled:
			delete(c.ops, id)
			c.end(id, o, "CANCEL")
			continue
		case OperatorReplaced:
			delete(c.ops, id)
			c.end(id, o, "REPLACE")
			c.replace(r, o)
			continue
		}
		if o.name == "transfer-leader" || o.name == "balance-leader" {
			if status, ended := c.transferStalled(r, o); ended {
				delete(c.ops, id)
				c.end(id, o, status)
				continue
			} else if status == "" {
				continue // PD keeps it: nothing can carry it out yet
			}
		}
		delete(c.ops, id)
		switch o.name {
		case "transfer-leader", "balance-leader":
			c.setLeader(r, r.peerOn(o.target), o.desc)
			if o.name == "transfer-leader" {
				r.adminUntil = c.now.Add(5 * time.Minute)
			}
		case "split-region":
			c.split(r)
		}
		c.end(id, o, "SUCCESS")
	}
}

// transferStalled decides what PD does with a leader transfer that cannot
// simply run, as PD's operator controller does (Dispatch,
// checkStaleOperator and TransferLeader.CheckInProgress in
// pkg/schedule/operator): it succeeds at once when the region is led from
// the target already; it is cancelled as stale when the target peer is gone
// or a learner, or when the target store is Down and the region's leader
// heartbeats (PD checks staleness on a region heartbeat); it stays pending
// while the target's or the leader's store does not run (nothing carries
// out the step), until PD ends it TIMEOUT after its timeout. It returns
// ended with the status PD ends it with, or status "" when it stays
// pending, or "run" when it can run now.
func (c *Cluster) transferStalled(r *region, o *operator) (status string, ended bool) {
	p := r.peerOn(o.target)
	ls := r.leaderStore()
	switch {
	case ls == o.target:
		return "SUCCESS", true
	case p == nil || p.learner:
		return "CANCEL", true
	case ls != 0 && c.stores[ls-1].running && c.stateName(c.stores[o.target-1]) == "Down":
		return "CANCEL", true
	case !c.stores[o.target-1].running || ls == 0 || !c.stores[ls-1].running:
		if c.now.Sub(o.created) >= operatorTimeout {
			return "TIMEOUT", true
		}
		return "", false
	}
	return "run", false
}

// replace puts a balance-leader operator on the region in place of o: it
// moves the leader to a voter other than o's target, and finishes on the
// next tick. With no such voter the region is left with no operator.
func (c *Cluster) replace(r *region, o *operator) {
	from := r.leaderStore()
	for _, p := range r.peers {
		if p.learner || p.store == from || p.store == o.target || !c.usable(p.store) || c.leadersKeptOff(p.store) {
			continue
		}
		c.ops[r.id] = &operator{
			name: "balance-leader", target: p.store, created: c.now, confVer: r.confVer, version: r.version, kind: "leader",
			desc: fmt.Sprintf("balance-leader-scheduler {transfer leader: store %d to %d}", from, p.store),
			step: fmt.Sprintf("transfer leader from store %d to store %d", from, p.store),
		}
		return
	}
}

// FailOperators makes the next n admin operators (POST /operators) end
// with the given outcome instead of succeeding; n 0 clears it.
func (c *Cluster) FailOperators(outcome OperatorOutcome, n int) error {
	if n < 0 || outcome < OperatorSucceeds || outcome > OperatorReplaced {
		return fmt.Errorf("%w: FailOperators(%d, %d)", ErrBadArgument, outcome, n)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.opFault, c.opFaults = outcome, n
	return nil
}

// OperatorEnded reports how and when PD ended the last admin operator
// (one made through POST /operators) that ended on a region, and its
// description; ok is false when none did.
func (c *Cluster) OperatorEnded(id uint64) (status, desc string, at time.Time, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	l, ok := c.adminEnded[id]
	return l.status, l.text, l.at, ok
}

// nextOutcome is the outcome of a new admin operator.
func (c *Cluster) nextOutcome() OperatorOutcome {
	if c.opFaults == 0 {
		return OperatorSucceeds
	}
	c.opFaults--
	return c.opFault
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
