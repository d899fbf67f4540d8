package invariant

import (
	"context"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"time"
)

// observe records the findings of one successful check. Of several findings
// with the same key, the first wins.
func (ru *rule) observe(findings []Finding, t time.Time, gen uint64) {
	// Checks tend to report the same keys in the same order every time:
	// ru.hint[i] is the entry that findings[i] matched in the previous
	// call, which spares a map lookup when it matches again.
	hint := ru.hint
	if len(hint) > len(findings) {
		clear(hint[len(findings):])
		hint = hint[:len(findings)]
	}
	for i := range findings {
		f := &findings[i]
		var en *entry
		if i < len(hint) && hint[i] != nil && hint[i].key == f.Key && hint[i].state != StateInactive {
			en = hint[i]
		} else {
			en = ru.entries[f.Key]
		}
		if en == nil && f.Unknown {
			// Nothing to keep: an unknown key starts no clock.
			if i < len(hint) {
				hint[i] = nil
			} else {
				hint = append(hint, nil)
			}
			continue
		}
		if en == nil {
			en = &entry{key: f.Key}
			ru.entries[f.Key] = en
			ru.added = append(ru.added, en)
		}
		if i < len(hint) {
			hint[i] = en
		} else {
			hint = append(hint, en)
		}
		if f.Unknown {
			en.held = gen
			continue
		}
		switch {
		case en.seen == gen:
			continue
		case en.state == StateInactive || !sameLabels(en.flabels, f.Labels):
			ru.setLabels(en, f.Labels)
		}
		en.seen = gen
		en.lastSeen = t
		en.message = f.Message
		en.value = f.Value
	}
	ru.hint = hint
}

// setLabels copies a finding's labels into an entry and merges them with the
// invariant's.
func (ru *rule) setLabels(en *entry, flabels map[string]string) {
	en.flabels = nil
	if len(flabels) == 0 {
		en.labels = ru.inv.Labels
		return
	}
	en.flabels = make([]string, 0, 2*len(flabels))
	for _, k := range slices.Sorted(maps.Keys(flabels)) {
		en.flabels = append(en.flabels, k, flabels[k])
	}
	m := maps.Clone(flabels)
	maps.Copy(m, ru.inv.Labels)
	en.labels = m
}

// sameLabels reports whether the pairs of flat hold exactly the labels of m.
// It looks keys up in m rather than ranging over it: that is what makes an
// unchanged finding cheap.
func sameLabels(flat []string, m map[string]string) bool {
	if 2*len(m) != len(flat) {
		return false
	}
	for i := 0; i < len(flat); i += 2 {
		if v, ok := m[flat[i]]; !ok || v != flat[i+1] {
			return false
		}
	}
	return true
}

// labelMap returns the labels of flat as a map, nil if there are none.
func labelMap(flat []string) map[string]string {
	if len(flat) == 0 {
		return nil
	}
	m := make(map[string]string, len(flat)/2)
	for i := 0; i < len(flat); i += 2 {
		m[flat[i]] = flat[i+1]
	}
	return m
}

// sweep moves every entry of a rule whose check succeeded to its state at
// time t, appending the transitions to r.
func (e *Evaluator) sweep(ctx context.Context, ru *rule, t time.Time, r *Report) {
	debug := e.log.Enabled(ctx, slog.LevelDebug)
	if len(ru.added) > 0 {
		slices.SortFunc(ru.added, func(a, b *entry) int { return strings.Compare(a.key, b.key) })
		ru.sorted = mergeSorted(ru.sorted, ru.added)
		clear(ru.added)
		ru.added = ru.added[:0]
	}
	kept := ru.sorted[:0]
	for _, en := range ru.sorted {
		from := en.state
		drop := false
		switch {
		case en.seen != e.gen && en.held == e.gen:
			// Unknown this time: the entry stays as it is.
		case en.seen == e.gen:
			switch from {
			case StateInactive, StateResolved:
				// A new episode: its clock starts now.
				en.state = StatePending
				en.firstSeen = t
				en.firedAt, en.resolvedAt, en.keepFiringSince = time.Time{}, time.Time{}, time.Time{}
			case StatePending:
				if !en.restoredDown.IsZero() {
					e.restoreFor(ctx, ru, en, t)
				}
			case StateFiring:
				en.keepFiringSince = time.Time{}
			}
			if en.state == StatePending && t.Sub(en.firstSeen) >= ru.inv.Grace {
				en.state = StateFiring
				en.firedAt = t
			}
		default:
			switch from {
			case StatePending:
				en.state = StateInactive
				drop = true
			case StateFiring:
				if ru.inv.KeepFiringFor > 0 {
					if en.keepFiringSince.IsZero() {
						en.keepFiringSince = t
					}
					if t.Sub(en.keepFiringSince) < ru.inv.KeepFiringFor {
						break
					}
				}
				en.state = StateResolved
				en.resolvedAt = t
				en.keepFiringSince = time.Time{}
			case StateResolved:
				if t.Sub(en.resolvedAt) >= e.cfg.ResolvedRetention {
					en.state = StateInactive
					drop = true
				}
			}
		}
		if en.state != from {
			tr := Transition{Invariant: ru.inv.Name, Key: en.key, From: from, To: en.state, At: t, Alert: ru.alert(en)}
			r.Transitions = append(r.Transitions, tr)
			if debug {
				e.log.Debug("invariant: transition", slog.String("transition", tr.String()))
			}
		}
		if drop {
			delete(ru.entries, en.key)
			continue
		}
		if en.state == StatePending || en.state == StateFiring {
			ru.violation(r, en)
		}
		kept = append(kept, en)
	}
	clear(ru.sorted[len(kept):])
	ru.sorted = kept
}

// restoreFor gives a pending pair restored by [Evaluator.Restore], at the
// first call t that sees it again, the meaning Prometheus gives the 'for'
// state it restores after a restart (RestoreForState, rules/manager.go in
// Prometheus 2.x, rules/group.go since; --rules.alert.for-outage-tolerance
// and --rules.alert.for-grace-period), with its last sighting before the
// restart for Prometheus' downAt, its first sighting for ActiveAt and t for
// the restore time:
//
//   - last seen longer than OutageTolerance before t (Prometheus finds no
//     ALERTS_FOR_STATE sample that recent), or a Grace shorter than
//     ForGracePeriod (Prometheus skips restoring such a rule): the grace
//     period starts afresh at t;
//   - otherwise the outage does not count: the time left of its grace
//     when it was last seen is left from t, but at least ForGracePeriod
//     (none when it had none left: it fires at t).
//
// The two Prometheus count from its first evaluation after the restart,
// one interval before its restore time (Group.run evaluates twice, then
// restores); here both are t, the first call that sees the pair.
func (e *Evaluator) restoreFor(ctx context.Context, ru *rule, en *entry, t time.Time) {
	down, hold, grace := en.restoredDown, ru.inv.Grace, e.cfg.ForGracePeriod
	en.restoredDown = time.Time{}
	was := en.firstSeen
	switch left := hold - down.Sub(en.firstSeen); {
	case t.Sub(down) > e.cfg.OutageTolerance || hold < grace:
		en.firstSeen = t
	case left <= 0:
	case left < grace:
		en.firstSeen = t.Add(grace - hold)
	default:
		en.firstSeen = en.firstSeen.Add(t.Sub(down))
	}
	if e.log.Enabled(ctx, slog.LevelDebug) && !en.firstSeen.Equal(was) {
		e.log.Debug("invariant: restored pending pair's grace clock moved across the restart",
			slog.String("invariant", ru.inv.Name), slog.String("key", en.key), slog.Time("lastSeen", down),
			slog.Time("firstSeen", was), slog.Time("now", en.firstSeen))
	}
}

// mergeSorted merges two slices of entries sorted by distinct keys.
func mergeSorted(a, b []*entry) []*entry {
	out := make([]*entry, 0, len(a)+len(b))
	for len(a) > 0 && len(b) > 0 {
		if a[0].key < b[0].key {
			out, a = append(out, a[0]), a[1:]
		} else {
			out, b = append(out, b[0]), b[1:]
		}
	}
	out = append(out, a...)
	return append(out, b...)
}

// violation appends the alert of en, a pending or firing pair, to the
// report's violations, and counts it.
func (ru *rule) violation(r *Report, en *entry) {
	r.Violations = append(r.Violations, ru.alert(en))
	if en.state == StatePending {
		ru.pending++
	} else {
		ru.firing++
	}
}

func (ru *rule) alert(en *entry) Alert {
	return Alert{
		Invariant:       ru.inv.Name,
		Key:             en.key,
		State:           en.state,
		Severity:        ru.inv.Severity,
		Message:         en.message,
		Value:           en.value,
		Labels:          en.labels,
		FirstSeen:       en.firstSeen,
		LastSeen:        en.lastSeen,
		FiredAt:         en.firedAt,
		ResolvedAt:      en.resolvedAt,
		KeepFiringSince: en.keepFiringSince,
	}
}

// Alerts returns every tracked pair (pending, firing and resolved ones),
// sorted by invariant name, then key.
func (e *Evaluator) Alerts() []Alert {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []Alert
	for _, ru := range e.rules {
		for _, en := range ru.sorted {
			out = append(out, ru.alert(en))
		}
	}
	return out
}
