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
