package tikv

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/kvops/operator/invariant"
	"github.com/kvops/operator/subject"
)

// storeKey is the finding key of a per-store invariant.
func storeKey(id subject.StoreID) string { return "store=" + id.String() }

// unreported tells a store the PD leader has no heartbeat statistics for:
// Disconnected or Down, with every size at zero, and a last heartbeat. A
// real PD shows every store this way for some seconds after its leader
// changes: the new leader has not yet heard the stores' heartbeats, and
// judges their state by the last heartbeat PD wrote to its storage, which
// it writes every 5 minutes: Disconnected when that is older than 20 s,
// Down when it is older than max-store-down-time (recorded:
// testdata/stores-after-election-stored-down.json, max-store-down-time
// 30 s). Such a reading says nothing about the store itself. A store with
// no last heartbeat at all is one that is starting (see starting).
func unreported(s subject.Store) bool {
	return (s.State == subject.StateDisconnected || s.State == subject.StateDown) && !s.LastHeartbeat.IsZero() &&
		s.Capacity == 0 && s.Available == 0 && s.UsedSize == 0
}

// leaderWindow remembers PD leader changes, so that store health can hold
// its judgement of unreported stores until their heartbeats reach the new
// leader. It is not safe for concurrent use; storeHealth guards it.
type leaderWindow struct {
	leader  string    // the PD leader seen last, "" before the first look
	since   time.Time // start of the current window, zero when none
	silent  bool      // the last look showed every live store unreported
	maxHold time.Duration
	// quiet holds the live stores the last look showed unreported.
	quiet map[subject.StoreID]bool
}

// observe records what one look at the cluster showed and reports whether
// unreported stores are to be held at now. A window opens when the PD
// leader changes, or when every live store is unreported at once (the
// signature of a leader change that we did not see happen); it closes
// after maxHold, so a store that really died during a leader change is
// judged at most maxHold late. One unbroken stretch of the signature opens
// one window only: a cluster that stays silent is judged after maxHold.
//
// A store that the previous look showed with its sizes and this one shows
// unreported opens a window too: on one PD leader a store keeps its last
// reported sizes, dead or not (PD's recorded answers: a store that stops
// heartbeating stays Disconnected, then Down, with its sizes; a store that
// never heartbeated is Down, not Disconnected), so only a leader change
// makes a store unreported. This catches a change that the leader's name
// does not show: one that was not looked at, or a leader that changed and
// came back between two looks.
func (w *leaderWindow) observe(now time.Time, leader string, stores []subject.Store) bool {
	if leader != "" {
		if w.leader != "" && leader != w.leader {
			w.since = now
		}
		w.leader = leader
	}
	live, silent := 0, 0
	quiet := make(map[subject.StoreID]bool, len(w.quiet))
	for _, s := range stores {
		if s.State == subject.StateTombstone {
			continue
		}
		live++
		if unreported(s) {
			silent++
			quiet[s.ID] = true
			if w.quiet != nil && !w.quiet[s.ID] {
				w.since = now
			}
		}
	}
	w.quiet = quiet
	allSilent := live > 0 && silent == live
	if allSilent && !w.silent {
		w.since = now
	}
	w.silent = allSilent
	if w.since.IsZero() {
		return false
	}
	// A clock that went backwards restarts the window at the new time:
	// the window neither closes early nor stays open until the clock has
	// caught up with where it was (an hour, for a clock set back an hour).
	if now.Before(w.since) {
		w.since = now
	}
	if now.Sub(w.since) > w.maxHold {
		w.since = time.Time{}
		return false
	}
	return true
}

// starting tells a store that registered with PD but has never sent it a
// heartbeat: PD lists such a store Down (or Disconnected), with no last
// heartbeat at all. A real PD shows every store this way for some seconds
// while a cluster starts: each store registers (PutStore) before its first
// heartbeat (recorded in testdata/stores-bootstrap-*.json). A store that
// died has a last heartbeat.
func starting(s subject.Store) bool {
	return (s.State == subject.StateDown || s.State == subject.StateDisconnected) && s.LastHeartbeat.IsZero()
}

// startWatch remembers since when each starting store has been seen
// starting, so that store health holds its judgement of such a store for
// grace, then judges it Down. PD gives no registration time, so the bound
// runs from the first look that saw the store starting. It is not safe for
// concurrent use; the Subject guards it.
type startWatch struct {
	grace time.Duration
	first map[subject.StoreID]time.Time
}

// observe records the starting stores of one look at now: a store seen
// starting for the first time starts its clock, a store no longer starting
// is forgotten. A first-seen time after now (the clock went backwards) is
// moved back to now, so that the hold neither ends early nor lasts until
// the clock catches up.
func (w *startWatch) observe(now time.Time, stores []subject.Store) {
	seen := map[subject.StoreID]bool{}
	for _, s := range stores {
		if !starting(s) {
			continue
		}
		seen[s.ID] = true
		if w.first == nil {
			w.first = map[subject.StoreID]time.Time{}
		}
		if t, ok := w.first[s.ID]; !ok || now.Before(t) {
			w.first[s.ID] = now
		}
	}
	for id := range w.first {
		if !seen[id] {
			delete(w.first, id)
		}
	}
}

// since returns how long the store has been seen starting at now (zero
// when w is nil or has not seen it), and whether it is still within the
// grace.
func (w *startWatch) since(id subject.StoreID, now time.Time) (time.Duration, bool) {
	if w == nil {
		return 0, false
	}
	t, ok := w.first[id]
	if !ok {
		return 0, false
	}
	d := now.Sub(t)
	return d, d < w.grace
}

// judgeStoreHealth returns a finding for every store that is not Up.
// Tombstones are ignored. When hold is true, unreported stores get an
// Unknown finding: their state is kept until PD hears from them. A store
// that is starting (see starting) gets an Unknown finding for as long as
// starts holds it, then a Down one that says it never sent a heartbeat;
// starts may be nil, which holds none.
func judgeStoreHealth(stores []subject.Store, hold bool, starts *startWatch, now time.Time) []invariant.Finding {
	var out []invariant.Finding
	for _, s := range stores {
		f := invariant.Finding{Key: storeKey(s.ID), Labels: map[string]string{"store": s.ID.String(), "address": s.Address}}
		if s.State != subject.StateTombstone && starting(s) {
			d, held := starts.since(s.ID, now)
			switch {
			case held:
				f.Unknown = true
				f.Message = fmt.Sprintf("store %d (%s) is starting: registered with PD, no heartbeat yet (for %s; judged Down after %s)",
					s.ID, s.Address, d.Round(time.Second), starts.grace)
			case starts != nil:
				f.Message = fmt.Sprintf("store %d (%s) is %s: registered with PD but never sent a heartbeat, starting for %s (more than %s)",
					s.ID, s.Address, s.State, d.Round(time.Second), starts.grace)
			default:
				f.Message = fmt.Sprintf("store %d (%s) is %s: registered with PD but never sent a heartbeat", s.ID, s.Address, s.State)
			}
			out = append(out, f)
			continue
		}
		switch s.State {
		case subject.StateUp, subject.StateTombstone:
			continue
		case subject.StateDisconnected:
			if hold && unreported(s) {
				f.Unknown = true
				f.Message = fmt.Sprintf("store %d: PD leader changed; waiting for the store's heartbeat to reach the new leader", s.ID)
				break
			}
			f.Message = fmt.Sprintf("store %d (%s) is Disconnected: no heartbeat for %s", s.ID, s.Address, since(now, s.LastHeartbeat))
		case subject.StateDown:
			if hold && unreported(s) {
				f.Unknown = true
				f.Message = fmt.Sprintf("store %d: PD leader changed; waiting for the store's heartbeat to reach the new leader", s.ID)
				break
			}
			f.Message = fmt.Sprintf("store %d (%s) is Down: no heartbeat for %s, PD is moving its replicas away", s.ID, s.Address, since(now, s.LastHeartbeat))
		case subject.StateOffline:
			f.Message = fmt.Sprintf("store %d (%s) is Offline: being drained, %d regions left", s.ID, s.Address, s.RegionCount)
		default:
			f.Message = fmt.Sprintf("store %d (%s) is in state %s", s.ID, s.Address, s.State)
		}
		out = append(out, f)
	}
	return out
}

// since formats how long ago t was, or "an unknown time" when t is zero.
func since(now, t time.Time) string {
	if t.IsZero() {
		return "an unknown time"
	}
	d := now.Sub(t)
	if d < 0 {
		d = 0
	}
	return d.Round(time.Second).String()
}

// metricRule judges one reading per store against a threshold.
type metricRule struct {
	what      string // "p99 write latency"
	threshold float64
	read      func(subject.StoreMetrics) subject.Value
	format    func(float64) string
}

// judgeMetric returns a finding for every store whose reading is above the
// rule's threshold, and an Unknown finding for every store whose reading is
// missing, so that missing data neither fires nor resolves anything.
func judgeMetric(metrics []subject.StoreMetrics, r metricRule) []invariant.Finding {
	var out []invariant.Finding
	for _, m := range metrics {
		v := r.read(m)
		key := storeKey(m.Store)
		labels := map[string]string{"store": m.Store.String(), "instance": m.Instance}
		x, ok := v.Get()
		switch {
		case !ok:
			out = append(out, invariant.Finding{Key: key, Unknown: true, Labels: labels,
				Message: fmt.Sprintf("store %d: %s is unknown: %s", m.Store, r.what, v.Reason())})
		case x > r.threshold:
			out = append(out, invariant.Finding{Key: key, Value: x, Labels: labels,
				Message: fmt.Sprintf("store %d: %s is %s, above %s", m.Store, r.what, r.format(x), r.format(r.threshold))})
		}
	}
	return out
}

// LatencyState is what the write_latency_p99 invariant makes of one
// store's p99 write latency: see Thresholds.WriteLatencyState.
type LatencyState uint8

// The states of a store's p99 write latency.
const (
	// LatencyUnknown: the reading is missing. Prometheus could not be
	// read, its query for the latency failed, or it has no series for the
	// store (a store that is down, or not scraped). The invariant holds its
	// judgement of the store (an unknown finding): a firing alert stays
	// firing and a pending one keeps its clock, until a reading comes.
	LatencyUnknown LatencyState = iota
	// LatencyNoWrites: Prometheus answered, and the store served no write
	// in the rate window: its write histogram did not move, so the p99 is
	// NaN. Clients write through region leaders, so a store that leads no
	// region (its leaders evicted) serves none, as does a store of an idle
	// cluster. The invariant holds for the store (no write was slow): a
	// firing alert resolves. That says nothing of the store's health: a
	// store evicted for its latency reads LatencyNoWrites until its leaders
	// come back, slow or not (see the example of WriteLatencyState for
	// deciding when to give them back).
	LatencyNoWrites
	// LatencyOK: at or below Thresholds.WriteLatencyP99.
	LatencyOK
	// LatencyHigh: above Thresholds.WriteLatencyP99: a violation.
	LatencyHigh
)

var latencyStateNames = [...]string{"unknown", "no writes", "ok", "high"}

// String names the state: "unknown", "no writes", "ok" or "high".
func (s LatencyState) String() string {
	if int(s) < len(latencyStateNames) {
		return latencyStateNames[s]
	}
	return fmt.Sprintf("LatencyState(%d)", s)
}

// WriteLatencyState tells what the write_latency_p99 invariant makes of a
// store's p99 write latency (subject.StoreMetrics.WriteLatencyP99, in
// seconds) with these thresholds, zero fields taking their defaults. The
// invariant judges with it, so an operator deciding what to do about a
// store reads it as the invariant does.
func (th Thresholds) WriteLatencyState(p99 subject.Value) LatencyState {
	x, ok := p99.Get()
	switch {
	case p99.IsNaN():
		return LatencyNoWrites
	case !ok:
		return LatencyUnknown
	case x > th.withDefaults().WriteLatencyP99.Seconds():
		return LatencyHigh
	}
	return LatencyOK
}

// judgeWriteLatency returns a finding for every store whose p99 write
// latency is high, and an unknown finding for every store whose reading is
// missing; a store that served no write holds.
func judgeWriteLatency(metrics []subject.StoreMetrics, th Thresholds) []invariant.Finding {
	var out []invariant.Finding
	limit := th.withDefaults().WriteLatencyP99
	for _, m := range metrics {
		key := storeKey(m.Store)
		labels := map[string]string{"store": m.Store.String(), "instance": m.Instance}
		x, _ := m.WriteLatencyP99.Get()
		switch th.WriteLatencyState(m.WriteLatencyP99) {
		case LatencyUnknown:
			out = append(out, invariant.Finding{Key: key, Unknown: true, Labels: labels,
				Message: fmt.Sprintf("store %d: p99 write latency is unknown: %s", m.Store, m.WriteLatencyP99.Reason())})
		case LatencyHigh:
			out = append(out, invariant.Finding{Key: key, Value: x, Labels: labels,
				Message: fmt.Sprintf("store %d: p99 write latency is %s, above %s", m.Store, formatSeconds(x), formatSeconds(limit.Seconds()))})
		}
	}
	return out
}

func formatSeconds(x float64) string {
	return time.Duration(x * float64(time.Second)).Round(time.Millisecond).String()
}

func formatPercent(x float64) string { return fmt.Sprintf("%.1f%%", x*100) }

func formatCount(x float64) string { return fmt.Sprintf("%.0f", x) }

// judgeLowSpace compares each store's disk usage, as PD sees it, with PD's
// low-space ratio. Stores PD has no sizes for are unknown, not full.
func judgeLowSpace(stores []subject.Store, lowSpaceRatio float64) []invariant.Finding {
	var out []invariant.Finding
	for _, s := range stores {
		if s.State == subject.StateTombstone {
			continue
		}
		key := storeKey(s.ID)
		labels := map[string]string{"store": s.ID.String(), "address": s.Address}
		if s.Capacity == 0 {
			out = append(out, invariant.Finding{Key: key, Unknown: true, Labels: labels,
				Message: fmt.Sprintf("store %d: PD reports no disk sizes", s.ID)})
			continue
		}
		used := 1 - float64(s.Available)/float64(s.Capacity)
		if used >= lowSpaceRatio {
			out = append(out, invariant.Finding{Key: key, Value: used, Labels: labels,
				Message: fmt.Sprintf("store %d: disk %s used, at or above PD's low-space ratio %s: PD stops moving data to it", s.ID, formatPercent(used), formatPercent(lowSpaceRatio))})
		}
	}
	return out
}

// judgeLeaderBalance reports when the leaders of the Up stores are spread
// unevenly: the busiest store holds more than (1+tolerance) times the mean
// and at least minGap leaders more than the least busy one. Stores whose
// leaders are evicted (evicted maps each to the schedulers that evict it;
// nil for none) are left out, and a finding names them: they lead few or
// no regions by design, and counting them made the others look
// unbalanced.
func judgeLeaderBalance(stores []subject.Store, evicted evictions, tolerance float64, minGap int) []invariant.Finding {
	var up []subject.Store
	var left []string
	total := 0
	for _, s := range stores {
		if unreported(s) {
			// PD has not heard from every store since its leader
			// changed: the counts it shows say nothing yet.
			return []invariant.Finding{{Unknown: true, Message: fmt.Sprintf("store %d has not reported to the PD leader yet", s.ID)}}
		}
		if s.State != subject.StateUp {
			continue
		}
		if by := evicted[s.ID]; len(by) > 0 {
			left = append(left, fmt.Sprintf("store %d (%s)", s.ID, strings.Join(by, ", ")))
			continue
		}
		up = append(up, s)
		total += s.LeaderCount
	}
	if len(up) < 2 || total == 0 {
		return nil
	}
	slices.SortFunc(up, func(a, b subject.Store) int {
		return cmp.Or(cmp.Compare(b.LeaderCount, a.LeaderCount), cmp.Compare(a.ID, b.ID))
	})
	most, least := up[0], up[len(up)-1]
	mean := float64(total) / float64(len(up))
	ratio := float64(most.LeaderCount) / mean
	if ratio <= 1+tolerance || most.LeaderCount-least.LeaderCount < minGap {
		return nil
	}
	msg := fmt.Sprintf("leaders are unbalanced: store %d holds %d leaders, %.1fx the mean of %.0f over %d Up stores (store %d holds %d)",
		most.ID, most.LeaderCount, ratio, mean, len(up), least.ID, least.LeaderCount)
	if len(left) > 0 {
		msg += "; left out, their leaders evicted: " + strings.Join(left, ", ")
	}
	return []invariant.Finding{{
		Value:   ratio,
		Labels:  map[string]string{"store": most.ID.String()},
		Message: msg,
	}}
}

// imbalanced tells findings of judgeLeaderBalance that report an
// imbalance.
func imbalanced(fs []invariant.Finding) bool { return len(fs) > 0 && !fs[0].Unknown }

// judgePeers reports regions with down or pending peers.
func judgePeers(kind string, regions []subject.Region) []invariant.Finding {
	if len(regions) == 0 {
		return nil
	}
	ids := make([]string, 0, 5)
	for i, r := range regions {
		if i == 5 {
			ids = append(ids, "...")
			break
		}
		ids = append(ids, r.ID.String())
	}
	return []invariant.Finding{{
		Key:     kind,
		Value:   float64(len(regions)),
		Message: fmt.Sprintf("%d regions have %ss (%s)", len(regions), kind, strings.Join(ids, ", ")),
	}}
}
