package alertmanager

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/kvops/operator/invariant"
)

// stateVersion is the version of the saved-state format Export writes.
// Restore refuses any other.
const stateVersion = 1

type savedState struct {
	Version int           `json:"version"`
	Clock   time.Time     `json:"clock,omitzero"`
	Records []savedRecord `json:"records"`
	Queues  []savedQueue  `json:"queues"`
}

type savedRecord struct {
	Invariant  string            `json:"invariant"`
	Key        string            `json:"key"`
	FiredAt    time.Time         `json:"firedAt,omitzero"`
	LastSentAt time.Time         `json:"lastSentAt"`
	Labels     map[string]string `json:"labels"`
	Resolved   bool              `json:"resolved,omitempty"`
}

type savedQueue struct {
	URL    string     `json:"url"`
	Alerts []postable `json:"alerts"`
}

// Export returns the sender's state as versioned JSON: when each alert was
// last queued and with which labels, and every alert still waiting for
// each Alertmanager (the batch being sent included, since its send may
// yet fail). Save it beside [invariant.Evaluator.Export] and give both
// back after a restart ([Sender.Restore]), so that nothing waiting is lost
// and nothing is re-sent before it is due.
func (s *Sender) Export() ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := savedState{Version: stateVersion, Clock: s.clock.Round(0), Records: []savedRecord{}, Queues: []savedQueue{}}
	for pk, r := range s.records {
		st.Records = append(st.Records, savedRecord{
			Invariant: pk.inv, Key: pk.key, FiredAt: r.firedAt.Round(0),
			LastSentAt: r.lastSentAt.Round(0),
			Labels:     r.labels, Resolved: r.resolved,
		})
	}
	slices.SortFunc(st.Records, func(a, b savedRecord) int {
		if c := strings.Compare(a.Invariant, b.Invariant); c != 0 {
			return c
		}
		return strings.Compare(a.Key, b.Key)
	})
	for _, t := range s.targets {
		sq := savedQueue{URL: t.url, Alerts: []postable{}}
		for _, it := range t.inflight {
			sq.Alerts = append(sq.Alerts, it.alert)
		}
		for _, it := range t.q.alerts() {
			sq.Alerts = append(sq.Alerts, it.alert)
		}
		st.Queues = append(st.Queues, sq)
	}
	b, err := json.Marshal(st)
	if err != nil {
		return nil, fmt.Errorf("alertmanager: export: %w", err)
	}
	return b, nil
}

// MarshalJSON is [Sender.Export], so that a sender can be embedded in a
// larger JSON document.
func (s *Sender) MarshalJSON() ([]byte, error) { return s.Export() }

// RestoreResult says what Restore did with a saved state.
type RestoreResult struct {
	// Records is the number of alerts whose last send was restored.
	Records int
	// Queued is the number of waiting alerts restored, over all
	// Alertmanagers.
	Queued int
	// Dropped lists the Alertmanagers of the saved state that the sender
	// does not send to, whose waiting alerts were left out.
	Dropped []DroppedQueue
}

// DroppedQueue is the queue of an Alertmanager the sender no longer sends
// to.
type DroppedQueue struct {
	URL    string
	Alerts int
}

// Restore replaces the sender's state with one written by [Sender.Export],
// typically before the first Update after a restart, and wakes [Sender.Run]
// for the alerts it restored. Queues of Alertmanagers no longer in
// Config.URLs are left out and listed in the result; a restored queue
// longer than Config.QueueCapacity loses its oldest alerts, counted in
// [Stats].Dropped. A malformed state or an unknown format version gives an
// error matching [invariant.ErrState] and leaves the sender unchanged.
//
// Restored alerts keep their last-sent times, so a restart neither re-sends
// at once what Alertmanager already has nor waits longer than the resend
// delay to send it again.
func (s *Sender) Restore(data []byte) (RestoreResult, error) {
	var st savedState
	if err := json.Unmarshal(data, &st); err != nil {
		return RestoreResult{}, fmt.Errorf("alertmanager: restore: %w: %w", invariant.ErrState, err)
	}
	if st.Version != stateVersion {
		return RestoreResult{}, fmt.Errorf("alertmanager: restore: format version %d, want %d: %w", st.Version, stateVersion, invariant.ErrState)
	}
	var res RestoreResult
	records := make(map[pairKey]*record, len(st.Records))
	for i, sr := range st.Records {
		pk := pairKey{sr.Invariant, sr.Key}
		if records[pk] != nil {
			return RestoreResult{}, fmt.Errorf("alertmanager: restore: records[%d] (%q, %q): pair is repeated: %w", i, sr.Invariant, sr.Key, invariant.ErrState)
		}
		if sr.Invariant == "" || len(sr.Labels) == 0 || sr.LastSentAt.IsZero() {
			return RestoreResult{}, fmt.Errorf("alertmanager: restore: records[%d] (%q, %q): invariant, labels or lastSentAt missing: %w", i, sr.Invariant, sr.Key, invariant.ErrState)
		}
		records[pk] = &record{
			firedAt: sr.FiredAt, lastSentAt: sr.LastSentAt,
			fp: fingerprint(sr.Labels), labels: sr.Labels, resolved: sr.Resolved,
		}
	}
	queues := map[string][]postable{}
	for i, sq := range st.Queues {
		if _, dup := queues[sq.URL]; dup {
			return RestoreResult{}, fmt.Errorf("alertmanager: restore: queues[%d] %q is repeated: %w", i, sq.URL, invariant.ErrState)
		}
		for j, a := range sq.Alerts {
			if len(a.Labels) == 0 {
				return RestoreResult{}, fmt.Errorf("alertmanager: restore: queues[%d] %q, alerts[%d]: no labels: %w", i, sq.URL, j, invariant.ErrState)
			}
		}
		queues[sq.URL] = sq.Alerts
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	s.records = records
	res.Records = len(records)
	if st.Clock.After(s.clock) {
		s.clock = st.Clock
	}
	for _, t := range s.targets {
		t.q = queue{}
		for _, a := range queues[t.url] {
			if n := t.q.push(&item{fp: fingerprint(a.Labels), alert: a}, s.cfg.QueueCapacity); n > 0 {
				t.dropped(s.log, n)
			}
		}
		res.Queued += t.q.len()
		delete(queues, t.url)
		if t.q.len() > 0 {
			t.signal()
		}
	}
	for _, sq := range st.Queues {
		if _, left := queues[sq.URL]; left {
			res.Dropped = append(res.Dropped, DroppedQueue{URL: sq.URL, Alerts: len(sq.Alerts)})
		}
	}
	return res, nil
}
