package invariant

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultResolvedRetention is how long a resolved pair is kept unless
// [Config].ResolvedRetention says otherwise; Prometheus keeps resolved
// alerts as long.
const DefaultResolvedRetention = 15 * time.Minute

// DefaultCheckTimeout bounds each check's run unless [Config].CheckTimeout
// says otherwise: long enough for a read that PD's client retries over three
// members, short enough that a stuck source does not stall an operator that
// evaluates every 15 seconds for long.
const DefaultCheckTimeout = 30 * time.Second

// DefaultConcurrency is how many checks run at once unless
// [Config].Concurrency says otherwise.
const DefaultConcurrency = 8

// DefaultOutageTolerance and DefaultForGracePeriod are the defaults of
// [Config].OutageTolerance and [Config].ForGracePeriod: those of
// Prometheus' --rules.alert.for-outage-tolerance and
// --rules.alert.for-grace-period.
const (
	DefaultOutageTolerance = time.Hour
	DefaultForGracePeriod  = 10 * time.Minute
)

// Config configures an [Evaluator]. Every zero field takes the default its
// comment names. Where none is a meaningful setting (no deadline, no
// retention, no tolerance, no grace period), a negative duration asks for
// it.
type Config struct {
	// ResolvedRetention is how long a resolved pair is kept (and listed in
	// [Evaluator.Alerts] and saved states) before it is dropped; default
	// [DefaultResolvedRetention]. Negative: dropped at the first call
	// after it resolved.
	ResolvedRetention time.Duration
	// Logger receives failed checks at Warn and transitions at Debug;
	// default: discard.
	Logger *slog.Logger
	// CheckTimeout bounds each check's run by a context deadline,
	// measured from the check's own start, so that one stuck check does
	// not hold up the evaluation: a check that overruns fails with
	// [context.DeadlineExceeded] and keeps its state. Default
	// [DefaultCheckTimeout]. Negative: no deadline beyond the caller's
	// (every check must then honour the caller's context by itself).
	CheckTimeout time.Duration
	// Concurrency is how many checks run at once; default
	// [DefaultConcurrency]. With 1 the checks run one after the other in
	// name order, on the caller's goroutine. Negative is refused.
	Concurrency int
	// Identity names what the evaluator judges (a cluster's id, say).
	// [Evaluator.Export] writes it into the saved state and
	// [Evaluator.Restore] refuses a state saved under another identity
	// with an [*IdentityError], so that one cluster's alerts are never
	// applied to another. Default: none; see Restore for what that means.
	Identity string
	// OutageTolerance is the longest outage across which a restored
	// pending pair keeps its clock: one last seen longer ago than this
	// before the first call that sees it again starts its grace period
	// afresh, as Prometheus' --rules.alert.for-outage-tolerance. Default
	// [DefaultOutageTolerance] (1h). Negative: none, every restored
	// pending pair starts afresh. See [Evaluator.Restore].
	OutageTolerance time.Duration
	// ForGracePeriod is the least time a restored pending pair waits, at
	// the first call that sees it again, before it fires, as Prometheus'
	// --rules.alert.for-grace-period: a pair whose Grace is shorter starts
	// its grace period afresh. Default [DefaultForGracePeriod] (10m).
	// Negative: none. See [Evaluator.Restore].
	ForGracePeriod time.Duration
	// OnEvaluation, when set, is called at the end of every call of
	// Evaluate and EvaluateInto, on the caller's goroutine, with what the
	// call did (for metrics: package tikv/opmetrics). It runs while the
	// evaluation lock is held, so it must be quick and must not call
	// Evaluate on the same evaluator; it may call Alerts and Export.
	// Default: none, and the evaluator then does not time its checks.
	OnEvaluation func(EvaluationInfo)
}

// withDefaults checks cfg and fills its zero fields; negative durations
// that mean none become zero.
func (cfg Config) withDefaults() (Config, error) {
	if cfg.Concurrency < 0 {
		return cfg, fmt.Errorf("invariant: Config.Concurrency %d is negative: %w", cfg.Concurrency, ErrInvalid)
	}
	cfg.Concurrency = cmp.Or(cfg.Concurrency, DefaultConcurrency)
	for _, d := range []struct {
		p   *time.Duration
		def time.Duration
	}{
		{&cfg.ResolvedRetention, DefaultResolvedRetention},
		{&cfg.CheckTimeout, DefaultCheckTimeout},
		{&cfg.OutageTolerance, DefaultOutageTolerance},
		{&cfg.ForGracePeriod, DefaultForGracePeriod},
	} {
		switch {
		case *d.p == 0:
			*d.p = d.def
		case *d.p < 0:
			*d.p = 0
		}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return cfg, nil
}

// Evaluator runs invariants and tracks, for each (invariant, key) pair,
// whether its violation counts. See the package documentation for the rules.
//
// An Evaluator is safe for concurrent use. Evaluations are serialized (a
// second Evaluate waits for the first), but [Evaluator.Alerts],
// [Evaluator.Export] and [Evaluator.Restore] never wait for a check's I/O:
// checks run without the state lock, which is taken only to apply their
// results. A check may call Alerts or Export; it must not call Evaluate on
// its own Evaluator.
type Evaluator struct {
	cfg   Config
	log   *slog.Logger
	rules []*rule          // sorted by name
	index map[string]*rule // by name

	// evalMu serializes evaluations: it is held while the checks run, and
	// guards the rules' found and err.
	evalMu sync.Mutex

	// mu guards the state below and the rules' entries; it is never held
	// over a check.
	mu sync.Mutex
	// clock is the time of the latest evaluation. Zero before the first
	// call.
	clock time.Time
	gen   uint64 // number of calls so far, marks entries seen in a call

	// info is what Config.OnEvaluation is told, one per rule, reused by
	// every call; guarded by evalMu.
	info []InvariantInfo
}

// rule is one invariant and the pairs it tracks.
type rule struct {
	inv     Invariant
	entries map[string]*entry
	sorted  []*entry // the entries, sorted by key
	added   []*entry // entries created in the current call, not yet in sorted
	hint    []*entry // the entry each finding matched in the latest call

	// found and err are what the check returned in the running call,
	// until its results are applied.
	found []Finding
	err   error
	// took is how long the check ran in the latest call (measured only
	// for Config.OnEvaluation); pending and firing count its violations
	// in the latest call.
	took            time.Duration
	pending, firing int
}

// entry is the state of one (invariant, key) pair.
type entry struct {
	key   string
	state State
	seen  uint64 // the call that last saw the key (Evaluator.gen)
	held  uint64 // the call that last reported the key unknown

	firstSeen, lastSeen, firedAt, resolvedAt, keepFiringSince time.Time
	// restoredDown is, for a pending pair restored by Restore and not
	// seen since, when it was last seen before the restart: Prometheus'
	// downAt in RestoreForState. Zero otherwise.
	restoredDown time.Time

	message string
	value   float64
	flabels []string          // the finding's labels, our copy: key, value, key, value...
	labels  map[string]string // merged with the invariant's; shared read-only
}

// New returns an evaluator for the invariants, configured by cfg (its zero
// value takes every default). It returns an error matching [ErrInvalid] if
// a name is empty or repeated, a check is nil, a duration of an invariant
// is negative, a severity is not valid or cfg.Concurrency is negative. The
// evaluator keeps its own copies of the invariants' label maps.
func New(invariants []Invariant, cfg Config) (*Evaluator, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	e := &Evaluator{cfg: cfg, log: cfg.Logger, index: make(map[string]*rule, len(invariants))}
	for i, inv := range invariants {
		if err := validate(inv); err != nil {
			return nil, fmt.Errorf("invariant: invariants[%d] %q: %w", i, inv.Name, err)
		}
		if _, dup := e.index[inv.Name]; dup {
			return nil, fmt.Errorf("invariant: invariants[%d]: name %q is repeated: %w", i, inv.Name, ErrInvalid)
		}
		inv.Labels = maps.Clone(inv.Labels)
		r := &rule{inv: inv, entries: make(map[string]*entry)}
		e.index[inv.Name] = r
		e.rules = append(e.rules, r)
	}
	slices.SortFunc(e.rules, func(a, b *rule) int { return strings.Compare(a.inv.Name, b.inv.Name) })
	if e.observing() {
		e.info = make([]InvariantInfo, len(e.rules))
		for i, ru := range e.rules {
			e.info[i].Name = ru.inv.Name
		}
	}
	return e, nil
}

func validate(inv Invariant) error {
	switch {
	case inv.Name == "":
		return fmt.Errorf("name is empty: %w", ErrInvalid)
	case inv.Check == nil:
		return fmt.Errorf("check is nil: %w", ErrInvalid)
	case inv.Grace < 0:
		return fmt.Errorf("grace %v is negative: %w", inv.Grace, ErrInvalid)
	case inv.KeepFiringFor < 0:
		return fmt.Errorf("keep-firing hold %v is negative: %w", inv.KeepFiringFor, ErrInvalid)
	case !inv.Severity.Valid():
		return fmt.Errorf("severity %v is not valid: %w", inv.Severity, ErrInvalid)
	}
	return nil
}

// Evaluate runs every invariant's check once, up to [Config].Concurrency at
// a time, each bounded by [Config].CheckTimeout, and applies the rules of the
// package documentation at time now. It returns a non-nil error only when
// the call itself is wrong: a context already done before the call
// (ctx.Err(), nothing changes) or a zero now ([ErrInvalid]). A failed check
// goes to Report.Errors; if ctx ends during the call, the checks not yet
// started fail with ctx.Err() and the report is still returned, so that no
// transition is lost.
//
// A now before the previous call's (time went back) is evaluated as given:
// the clocks of pairs that lie after it are restarted at now, and
// Report.ClockJump says so (see the package documentation).
//
// Evaluate allocates the report's slices; [Evaluator.EvaluateInto] reuses
// them.
func (e *Evaluator) Evaluate(ctx context.Context, now time.Time) (Report, error) {
	var r Report
	err := e.EvaluateInto(ctx, now, &r)
	return r, err
}

// EvaluateInto is [Evaluator.Evaluate] writing into r, reusing the
// capacity of r's slices: once nothing changes between calls it allocates
// nothing beyond the checks' own allocations, their deadline contexts (one
// per call for the checks that start at once, and one for each check that
// waits for its turn when there are more checks than Config.Concurrency;
// none with a negative Config.CheckTimeout), and, when more than one check runs at once,
// the goroutines that run them. Whatever r held before is
// overwritten, so the caller must be done with the previous report.
func (e *Evaluator) EvaluateInto(ctx context.Context, now time.Time, r *Report) error {
	var start time.Time
	if e.observing() {
		start = time.Now()
	}
	err := e.evaluateInto(ctx, now, r, start)
	if err != nil && e.observing() {
		e.notify(start, now, nil, err)
	}
	return err
}

// evaluateInto is EvaluateInto; with Config.OnEvaluation set, it tells it
// about a call that evaluated (started at start) before releasing the
// evaluation lock, so that the next call cannot overwrite what it reads.
func (e *Evaluator) evaluateInto(ctx context.Context, now time.Time, r *Report, start time.Time) error {
	if r == nil {
		return fmt.Errorf("invariant: EvaluateInto: nil report: %w", ErrInvalid)
	}
	r.At = now
	r.Violations = r.Violations[:0]
	r.Transitions = r.Transitions[:0]
	r.Errors = r.Errors[:0]
	r.ClockJump = ClockJump{}
	if err := ctx.Err(); err != nil {
		return err
	}
	if now.IsZero() {
		return fmt.Errorf("invariant: evaluation time is zero: %w", ErrInvalid)
	}

	e.evalMu.Lock()
	defer e.evalMu.Unlock()
	e.runChecks(ctx, now)

	e.mu.Lock()
	e.apply(ctx, now, r)
	e.mu.Unlock()
	if e.observing() {
		e.notify(start, now, r, nil)
	}
	return nil
}

// runChecks runs every check, without the state lock, leaving each result
// in its rule's found and err.
func (e *Evaluator) runChecks(ctx context.Context, now time.Time) {
	workers := min(e.cfg.Concurrency, len(e.rules))
	// The first check of each worker starts now: one deadline serves them
	// all. A check that waits for a worker gets its own, from its start.
	first := ctx
	if e.cfg.CheckTimeout > 0 && len(e.rules) > 0 {
		var cancel context.CancelFunc
		first, cancel = context.WithTimeout(ctx, e.cfg.CheckTimeout)
		defer cancel()
	}
	if workers <= 1 {
		for i := range e.rules {
			e.runRule(ctx, first, i, workers, now)
		}
		return
	}
	var next atomic.Int64
	work := func() {
		for i := int(next.Add(1) - 1); i < len(e.rules); i = int(next.Add(1) - 1) {
			e.runRule(ctx, first, i, workers, now)
		}
	}
	var wg sync.WaitGroup
	for range workers - 1 {
		wg.Go(work)
	}
	work()
	wg.Wait()
}

// runRule runs the check of e.rules[i]: one of the first workers checks
// with the deadline of the call's start (first), a later one with its own.
func (e *Evaluator) runRule(ctx, first context.Context, i, workers int, now time.Time) {
	ru := e.rules[i]
	if e.observing() {
		start := time.Now()
		defer func() { ru.took = time.Since(start) }()
	}
	if i < workers {
		ru.found, ru.err = runCheck(first, ru, now, 0)
	} else {
		ru.found, ru.err = runCheck(ctx, ru, now, e.cfg.CheckTimeout)
	}
}

// runCheck runs one check, bounded by timeout when it is positive, turning a
// panic into an error.
func runCheck(ctx context.Context, ru *rule, now time.Time, timeout time.Duration) (findings []Finding, err error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	defer func() {
		if p := recover(); p != nil {
			findings, err = nil, fmt.Errorf("%w: %v", ErrPanic, p)
		}
	}()
	return ru.inv.Check(ctx, now)
}

// apply applies the results of the checks at time t. e.mu is held.
func (e *Evaluator) apply(ctx context.Context, t time.Time, r *Report) {
	if !e.clock.IsZero() && t.Before(e.clock) {
		// Time went back (a clock set back, a state saved on a host whose
		// clock ran ahead): clocks that lie after t start again at t, so
		// that no grace period waits for the old time to come round again.
		n := e.restartAfter(t)
		r.ClockJump = ClockJump{Previous: e.clock, Restarted: n}
		e.log.Warn("invariant: evaluation time is before the previous one; restarting the clocks that lie after it",
			slog.Time("now", t), slog.Time("previous", e.clock), slog.Int("restarted", n))
	}
	e.clock = t
	e.gen++

	// Size the violations once, for every pair tracked before this call;
	// only new pairs can make append grow it.
	n := 0
	for _, ru := range e.rules {
		n += len(ru.sorted)
	}
	r.Violations = slices.Grow(r.Violations, n)

	for _, ru := range e.rules {
		findings, err := ru.found, ru.err
		ru.found, ru.err = nil, nil
		ru.pending, ru.firing = 0, 0
		if err != nil {
			e.log.Warn("invariant: check failed; keeping its state",
				slog.String("invariant", ru.inv.Name), slog.Any("error", err))
			r.Errors = append(r.Errors, CheckError{Invariant: ru.inv.Name, Err: err})
			for _, en := range ru.sorted {
				if en.state == StatePending || en.state == StateFiring {
					ru.violation(r, en)
				}
			}
			continue
		}
		ru.observe(findings, t, e.gen)
		e.sweep(ctx, ru, t, r)
	}
}

// restartAfter moves every clock of every pair that lies after t to t and
// returns the number of pairs it changed.
func (e *Evaluator) restartAfter(t time.Time) int {
	n := 0
	for _, ru := range e.rules {
		for _, en := range ru.sorted {
			if en.clampAfter(t) {
				n++
			}
		}
	}
	return n
}

// clampAfter moves the entry's clocks that lie after t to t, and reports
// whether there were any. A clock that is not set (zero) stays unset,
// whatever t is: a t before year 1 must not turn "never fired" into a
// time.
func (en *entry) clampAfter(t time.Time) bool {
	changed := false
	for _, p := range [...]*time.Time{&en.firstSeen, &en.lastSeen, &en.firedAt, &en.resolvedAt, &en.keepFiringSince, &en.restoredDown} {
		if !p.IsZero() && p.After(t) {
			*p = t
			changed = true
		}
	}
	return changed
}

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
