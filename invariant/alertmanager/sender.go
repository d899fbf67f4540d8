package alertmanager

import (
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/kvops/operator/invariant"
)

// Sender sends the alerts of an [invariant.Evaluator] to Alertmanagers.
// See the package documentation for what it sends and when.
//
// A Sender is safe for concurrent use. It owns no goroutine and no timer
// of its own: [Sender.Update] decides at the caller's time what is due,
// and the caller sends it with [Sender.Flush], or leaves the sending to
// [Sender.Run].
type Sender struct {
	cfg    Config
	client *http.Client
	log    *slog.Logger

	mu      sync.Mutex
	clock   time.Time // the latest Update's now
	records map[pairKey]*record
	targets []*target
}

// pairKey names an (invariant, key) pair of the evaluator.
type pairKey struct{ inv, key string }

// record is what the sender last queued for one pair: Prometheus keeps
// LastSentAt on each alert (rules/alerting.go).
type record struct {
	firedAt    time.Time // the episode it belongs to
	lastSentAt time.Time
	fp         string            // the labels last queued
	labels     map[string]string // the same, to resolve them if they change
	resolved   bool              // last queued as resolved
}

// target is one Alertmanager.
type target struct {
	url  string // base URL
	post string // its POST /api/v2/alerts

	// send serializes the sends to this Alertmanager (Flush and Run
	// alike), so that alerts reach it in the order they were queued.
	send sync.Mutex
	work chan struct{} // tells Run there is something to send; capacity 1

	// Guarded by Sender.mu.
	q        queue
	inflight []*item // the batch being sent
	stats    Stats
}

// New returns a sender for the Alertmanagers of cfg. A malformed Config
// gives an error matching [ErrInvalid].
func New(cfg Config) (*Sender, error) {
	cfg, err := cfg.normalized()
	if err != nil {
		return nil, err
	}
	s := &Sender{cfg: cfg, client: cfg.client(), log: cfg.Logger, records: map[pairKey]*record{}}
	for _, u := range cfg.URLs {
		s.targets = append(s.targets, &target{
			url: u, post: u + "/api/v2/alerts",
			work:  make(chan struct{}, 1),
			stats: Stats{URL: u},
		})
	}
	return s, nil
}

// Update tells the sender where the evaluator's alerts stand at now and
// queues, for every Alertmanager, the alerts due to be sent. It returns
// how many alerts it queued (each once, however many Alertmanagers there
// are).
//
// Pass every alert the evaluator tracks, [invariant.Evaluator.Alerts],
// right after each [invariant.Evaluator.Evaluate] at the time it
// evaluated: resolved alerts are re-sent for as long as the evaluator
// keeps them (its resolved retention, 15 minutes by default, as
// Prometheus' resolvedRetention), and a pair missing from alerts is
// forgotten, as Prometheus forgets an alert it drops. Pending alerts are
// never sent.
//
// A firing alert is due when it was never queued, or was queued more than
// the resend delay before now; a resolved alert when it resolved after it
// was last queued, or was queued more than the resend delay before now
// (rules/alerting.go, needsSending). A firing alert is sent with StartsAt
// its firing time and EndsAt = now + 4 × max(evaluation interval, resend
// delay); a resolved alert with EndsAt its resolution time. An alert whose
// labels changed while it fired is sent once more under its old labels,
// resolved at now, so that Alertmanager does not keep the old one firing.
//
// now is the caller's clock, as for Evaluate. If it is before the
// previous call's, any "last queued" time after it is moved back to now,
// so that a clock set back delays no alert by more than the resend delay.
func (s *Sender) Update(now time.Time, alerts []invariant.Alert) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.clock = now
	delta := max(s.cfg.EvaluationInterval, s.cfg.ResendDelay)
	present := make(map[pairKey]bool, len(alerts))
	queued := 0
	for i := range alerts {
		a := &alerts[i]
		pk := pairKey{a.Invariant, a.Key}
		rec := s.records[pk]
		if a.State != invariant.StateFiring && a.State != invariant.StateResolved {
			// Pending (or inactive): not sent. A pair that was resolved
			// and is pending again starts a new episode, which will be
			// sent when it fires.
			continue
		}
		present[pk] = true
		switch {
		case rec == nil:
			rec = &record{firedAt: a.FiredAt}
			s.records[pk] = rec
		case !rec.firedAt.Equal(a.FiredAt):
			// A new episode, due at once. What was last queued stays
			// known, so that labels that changed are resolved.
			rec = &record{firedAt: a.FiredAt, fp: rec.fp, labels: rec.labels, resolved: rec.resolved}
			s.records[pk] = rec
		}
		if rec.lastSentAt.After(now) {
			rec.lastSentAt = now
		}
		resolved := a.State == invariant.StateResolved
		due := resolved && a.ResolvedAt.After(rec.lastSentAt) ||
			rec.lastSentAt.Add(s.cfg.ResendDelay).Before(now)
		if !due {
			continue
		}
		labels, annotations := convert(*a, s.cfg.ExternalLabels)
		fp := fingerprint(labels)
		start := startOf(*a, now)
		if rec.fp != "" && rec.fp != fp && !rec.resolved {
			// Alertmanager knows the alert by its labels: resolve the
			// old set, or it would fire until its EndsAt.
			s.enqueue(&item{fp: rec.fp, alert: postable{Labels: rec.labels, StartsAt: amTime(start), EndsAt: amTime(latest(now, start))}})
		}
		rec.lastSentAt = now
		rec.fp, rec.labels, rec.resolved = fp, labels, resolved
		end := now.Add(4 * delta) // Prometheus' ValidUntil
		if resolved {
			end = a.ResolvedAt
		}
		// Alertmanager refuses an alert that ends before it starts.
		s.enqueue(&item{fp: fp, alert: postable{Labels: labels, Annotations: annotations, StartsAt: amTime(start), EndsAt: amTime(latest(end, start))}})
		queued++
	}
	for pk := range s.records {
		if !present[pk] {
			delete(s.records, pk)
		}
	}
	for _, t := range s.targets {
		if t.q.len() > 0 {
			t.signal()
		}
	}
	return queued
}

// startOf is when an alert started firing: its FiredAt, as Prometheus
// sends (rules/manager.go, SendAlerts), or, for an alert built by hand
// without one, when it was first seen, or now.
func startOf(a invariant.Alert, now time.Time) time.Time {
	switch {
	case !a.FiredAt.IsZero():
		return a.FiredAt
	case !a.FirstSeen.IsZero():
		return a.FirstSeen
	}
	return now
}

func latest(a, b time.Time) time.Time {
	if a.Before(b) {
		return b
	}
	return a
}

// enqueue queues it for every Alertmanager. s.mu is held.
func (s *Sender) enqueue(it *item) {
	for i, t := range s.targets {
		cp := it
		if i > 0 {
			cp = &item{fp: it.fp, alert: it.alert}
		}
		if n := t.q.push(cp, s.cfg.QueueCapacity); n > 0 {
			t.dropped(s.log, n)
		}
	}
}

// dropped counts and logs alerts dropped from a full queue. Sender.mu is
// held.
func (t *target) dropped(log *slog.Logger, n int) {
	t.stats.Dropped += uint64(n)
	log.Warn("alertmanager: queue full, dropped the oldest alerts", slog.String("alertmanager", t.url), slog.Int("count", n))
}

// signal wakes Run's loop for t, if it is not awake already.
func (t *target) signal() {
	select {
	case t.work <- struct{}{}:
	default:
	}
}

// Stats is what a sender did for one Alertmanager since it was created.
// The counts are of alerts, as Prometheus' notifier counts them.
type Stats struct {
	// URL is the Alertmanager's base URL.
	URL string
	// Queued is the number of alerts waiting for it, the batch being
	// sent included.
	Queued int
	// Sent is the number of alerts it accepted.
	Sent uint64
	// Failed is the number of alerts in sends that failed and were kept
	// for the next send (unreachable, timed out, answered 5xx).
	Failed uint64
	// Rejected is the number of alerts in sends it refused as invalid
	// (400 or 422), which are not sent again.
	Rejected uint64
	// Dropped is the number of alerts dropped, oldest first, from a full
	// queue (Config.QueueCapacity).
	Dropped uint64
	// Failing says that the latest send got no answer (or a 5xx, or
	// another error but 400 and 422): the Alertmanager is down for us
	// until a send goes through.
	Failing bool
	// LastError is the error of the latest send that failed, nil if
	// none has; LastErrorAt is when it failed, by the clock of the
	// latest Update.
	LastError   error
	LastErrorAt time.Time
}

// Stats returns what the sender did for each Alertmanager, in the order of
// Config.URLs.
func (s *Sender) Stats() []Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Stats, len(s.targets))
	for i, t := range s.targets {
		out[i] = t.stats
		out[i].Queued = t.q.len() + len(t.inflight)
	}
	return out
}
