package alertmanager

// item is one alert waiting for one Alertmanager.
type item struct {
	fp    string // the alert's identity: its label set
	alert postable
	dead  bool // superseded by a newer item of the same identity, or taken
}

// queue holds the alerts waiting for one Alertmanager, oldest first, at
// most one per identity: a newer version of an alert replaces the one
// waiting (Alertmanager would keep only the newer anyway), and goes to the
// back. Its capacity is enforced as Prometheus' notifier enforces its own
// (notifier/sendloop.go, add): the oldest are dropped.
type queue struct {
	items []*item // oldest first; dead items are skipped and compacted away
	byFP  map[string]*item
}

// len returns the number of alerts waiting.
func (q *queue) len() int { return len(q.byFP) }

// push adds it at the back, replacing any waiting alert of its identity,
// and returns how many alerts it dropped to stay within capacity.
func (q *queue) push(it *item, capacity int) int {
	if q.byFP == nil {
		q.byFP = map[string]*item{}
	}
	if old := q.byFP[it.fp]; old != nil {
		old.dead = true
	}
	q.byFP[it.fp] = it
	q.items = append(q.items, it)
	return q.trim(capacity)
}

// pushFront puts back alerts whose send failed, in their order, ahead of
// the rest, except those a newer version has replaced meanwhile, and
// returns how many alerts it dropped to stay within capacity.
func (q *queue) pushFront(its []*item, capacity int) int {
	if q.byFP == nil {
		q.byFP = map[string]*item{}
	}
	back := make([]*item, 0, len(its)+len(q.items))
	for _, it := range its {
		if q.byFP[it.fp] != nil {
			continue
		}
		it.dead = false
		q.byFP[it.fp] = it
		back = append(back, it)
	}
	q.items = append(back, q.items...)
	return q.trim(capacity)
}

// pop takes up to n alerts from the front.
func (q *queue) pop(n int) []*item {
	var out []*item
	i := 0
	for ; i < len(q.items) && len(out) < n; i++ {
		it := q.items[i]
		if it.dead {
			continue
		}
		it.dead = true
		delete(q.byFP, it.fp)
		out = append(out, it)
	}
	q.items = q.items[i:]
	q.compact()
	return out
}

// trim drops the oldest alerts past capacity and returns how many.
func (q *queue) trim(capacity int) int {
	dropped := 0
	i := 0
	for ; i < len(q.items) && len(q.byFP) > capacity; i++ {
		it := q.items[i]
		if it.dead {
			continue
		}
		it.dead = true
		delete(q.byFP, it.fp)
		dropped++
	}
	q.items = q.items[i:]
	q.compact()
	return dropped
}

// compact removes dead items once they outnumber the live ones, so that a
// queue of alerts replaced again and again stays small.
func (q *queue) compact() {
	if len(q.items) <= 2*len(q.byFP)+16 {
		return
	}
	live := make([]*item, 0, len(q.byFP))
	for _, it := range q.items {
		if !it.dead {
			live = append(live, it)
		}
	}
	q.items = live
}

// alerts returns the waiting alerts, oldest first.
func (q *queue) alerts() []*item {
	out := make([]*item, 0, len(q.byFP))
	for _, it := range q.items {
		if !it.dead {
			out = append(out, it)
		}
	}
	return out
}
