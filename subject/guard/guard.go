package guard

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/kvops/operator/subject"
	"github.com/kvops/operator/subject/tools"
)

// EvictionReporter is implemented by subjects that can list the stores
// whose leaders are evicted now, whoever evicted them (tikv.Subject: its
// own evictions, pd-ctl's, and PD's own evict-slow-store and
// evict-stopping-store), each with who made it. The guard counts each such
// store as an ongoing disruption. When the subject does not implement it,
// the guard counts the stores it let an evict_leaders through for and no
// restore_leaders confirmed since (its own journal, replayed included).
type EvictionReporter interface {
	Evictions(ctx context.Context) ([]subject.Eviction, error)
}

// Guard wraps a subject.Subject with guard rails (see the package
// comment). It observes through the wrapped subject unchanged, and is safe
// for concurrent use.
type Guard struct {
	sub        subject.Subject
	mode       Mode
	approve    Approver
	disruptive map[string]bool
	cooldowns  map[string]Cooldown
	clock      func() time.Time
	log        *slog.Logger
	journal    io.Writer
	confirm    ConfirmFunc
	newID      func() string
	// approvalTimeout bounds an Approver's decision.
	approvalTimeout time.Duration
	extra           map[string]ActionFunc
	adopted         map[string]bool // the extra actions made from the subject's tools
	lim             *rate.Limiter
	leadership      Leadership
	onAction        func(ActionInfo)
	lock            MaintenanceLock // nil: none
	identity        string          // names this operator in the lock's task

	jmu sync.Mutex // serialises journal writes

	mu         sync.Mutex
	killed     bool
	replaying  bool
	waiting    map[string]context.CancelCauseFunc // by action id, until submitted
	busy       *Request                           // the disruptive action in flight
	lastAction map[string]time.Time               // end of the last submitted action, by name
	lastTarget map[[2]string]time.Time            // the same, by name and target
	evicted    map[subject.StoreID]bool           // evictions let through and not restored
	pending    map[string]Record                  // by action id
	held       *heldLock                          // the maintenance lock this guard holds
	stale      []heldLock                         // locks whose release failed, to retry
	noLock     bool                               // the cluster offers no maintenance lock
}

var (
	_ subject.Subject          = (*Guard)(nil)
	_ subject.StabilityChecker = (*Guard)(nil)
	_ EvictionReporter         = (*Guard)(nil)
	_ tools.Provider           = (*Guard)(nil)
)

// New returns a Guard around sub. It does no I/O. A configuration that
// cannot work (approve-each without an Approver, a negative rate or
// cooldown) is an error matching subject.ErrInvalid.
func New(sub subject.Subject, cfg Config) (*Guard, error) {
	if sub == nil {
		return nil, fmt.Errorf("guard: no subject: %w", subject.ErrInvalid)
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	g := &Guard{
		sub: sub, mode: cfg.Mode, approve: cfg.Approver,
		disruptive: cfg.Disruptive, cooldowns: maps.Clone(cfg.Cooldowns),
		clock: cfg.Clock, log: cfg.Logger, journal: cfg.Journal, confirm: cfg.Confirm, newID: cfg.NewID,
		approvalTimeout: cmp.Or(cfg.ApprovalTimeout, DefaultApprovalTimeout),
		extra:           maps.Clone(cfg.Extra),
		waiting:         map[string]context.CancelCauseFunc{}, lastAction: map[string]time.Time{},
		lastTarget: map[[2]string]time.Time{}, evicted: map[subject.StoreID]bool{}, pending: map[string]Record{},
	}
	g.leadership = cfg.Leadership
	g.onAction = cfg.OnAction
	g.lock, g.identity = cfg.MaintenanceLock, cmp.Or(cfg.Identity, filepath.Base(os.Args[0]))
	if l, ok := sub.(MaintenanceLock); ok && g.lock == nil {
		g.lock = l
	}
	if cfg.NoMaintenanceLock {
		g.lock = nil
	}
	if err := g.adoptTools(); err != nil {
		return nil, err
	}
	if g.disruptive == nil {
		g.disruptive = DefaultDisruptive()
	} else {
		g.disruptive = maps.Clone(g.disruptive)
	}
	if g.clock == nil {
		g.clock = time.Now
	}
	if g.log == nil {
		g.log = slog.New(slog.DiscardHandler)
	}
	if g.newID == nil {
		g.newID = rand.Text
	}
	limit, burst := cfg.Rate, cfg.Burst
	if limit == 0 {
		limit = rate.Inf
	}
	if burst == 0 {
		burst = 1
	}
	g.lim = rate.NewLimiter(limit, burst)
	return g, nil
}

// Stores returns the wrapped subject's answer. Observations pass through
// the guard unchanged.
func (g *Guard) Stores(ctx context.Context) ([]subject.Store, error) { return g.sub.Stores(ctx) }

// HotWriteRegions returns the wrapped subject's answer.
func (g *Guard) HotWriteRegions(ctx context.Context) ([]subject.HotRegion, error) {
	return g.sub.HotWriteRegions(ctx)
}

// HotReadRegions returns the wrapped subject's answer.
func (g *Guard) HotReadRegions(ctx context.Context) ([]subject.HotRegion, error) {
	return g.sub.HotReadRegions(ctx)
}

// StoreMetrics returns the wrapped subject's answer.
func (g *Guard) StoreMetrics(ctx context.Context, id subject.StoreID) (subject.StoreMetrics, error) {
	return g.sub.StoreMetrics(ctx, id)
}

// AllStoreMetrics returns the wrapped subject's answer.
func (g *Guard) AllStoreMetrics(ctx context.Context) ([]subject.StoreMetrics, error) {
	return g.sub.AllStoreMetrics(ctx)
}

// ClusterMetrics returns the wrapped subject's answer.
func (g *Guard) ClusterMetrics(ctx context.Context) (subject.ClusterMetrics, error) {
	return g.sub.ClusterMetrics(ctx)
}

// LeadershipChanges returns the wrapped subject's answer.
func (g *Guard) LeadershipChanges(ctx context.Context, since time.Time) ([]subject.LeadershipChange, error) {
	return g.sub.LeadershipChanges(ctx, since)
}

// Region returns the wrapped subject's answer.
func (g *Guard) Region(ctx context.Context, id subject.RegionID) (subject.Region, error) {
	return g.sub.Region(ctx, id)
}

// StoreRegions returns the wrapped subject's answer.
func (g *Guard) StoreRegions(ctx context.Context, store subject.StoreID, limit int) ([]subject.Region, error) {
	return g.sub.StoreRegions(ctx, store, limit)
}

// RangeRegions returns the wrapped subject's answer.
func (g *Guard) RangeRegions(ctx context.Context, start, end []byte, limit int) ([]subject.Region, error) {
	return g.sub.RangeRegions(ctx, start, end, limit)
}

// Mode returns the guard's mode.
func (g *Guard) Mode() Mode { return g.mode }

// Capabilities returns the wrapped subject's: the guard adds rules, not
// actions.
func (g *Guard) Capabilities() subject.Capabilities { return g.sub.Capabilities() }

// Kill engages the kill switch: every new action is refused with
// [ErrKilled], and every action not yet submitted (waiting for approval,
// the stability gate or its dry run) has its context cancelled and returns
// ErrKilled. Actions already submitted go on: cutting their wait short
// would not undo them, only leave them unconfirmed.
func (g *Guard) Kill() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.killed = true
	for _, cancel := range g.waiting {
		cancel(ErrKilled)
	}
}

// Resume releases the kill switch.
func (g *Guard) Resume() {
	g.mu.Lock()
	g.killed = false
	g.mu.Unlock()
}

// Killed reports whether the kill switch is engaged.
func (g *Guard) Killed() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.killed
}

// Pending returns the actions that were submitted and whose outcome is not
// known, oldest first. While there is one, disruptive actions are refused
// with [ErrUnresolved].
func (g *Guard) Pending() []Record {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := slices.Collect(maps.Values(g.pending))
	slices.SortFunc(out, func(a, b Record) int { return a.Time.Compare(b.Time) })
	return out
}

// TransferLeader asks the wrapped subject to move a region's leadership,
// through the guard's rules. See the package comment for the errors.
func (g *Guard) TransferLeader(ctx context.Context, region subject.RegionID, to subject.StoreID) (subject.Result, error) {
	return g.run(ctx, ActionTransferLeader, Args{Region: region, ToStore: to})
}

// SplitRegion asks the wrapped subject to split a region, through the
// guard's rules.
func (g *Guard) SplitRegion(ctx context.Context, region subject.RegionID) (subject.Result, error) {
	return g.run(ctx, ActionSplitRegion, Args{Region: region})
}

// DrainStore asks the wrapped subject to drain a store, through the
// guard's rules.
func (g *Guard) DrainStore(ctx context.Context, store subject.StoreID) (subject.Result, error) {
	return g.run(ctx, ActionDrainStore, Args{Store: store})
}

// UndrainStore asks the wrapped subject to cancel a drain, through the
// guard's rules.
func (g *Guard) UndrainStore(ctx context.Context, store subject.StoreID) (subject.Result, error) {
	return g.run(ctx, ActionUndrainStore, Args{Store: store})
}

// EvictLeaders asks the wrapped subject to evict a store's leaders,
// through the guard's rules. Once submitted, the store counts against the
// blast radius until its leaders are restored.
func (g *Guard) EvictLeaders(ctx context.Context, store subject.StoreID) (subject.Result, error) {
	return g.run(ctx, ActionEvictLeaders, Args{Store: store})
}

// RestoreLeaders asks the wrapped subject to restore a store's leaders,
// through the guard's rules.
func (g *Guard) RestoreLeaders(ctx context.Context, store subject.StoreID) (subject.Result, error) {
	return g.run(ctx, ActionRestoreLeaders, Args{Store: store})
}

// SetScheduleLimit asks the wrapped subject to set a scheduling limit,
// through the guard's rules.
func (g *Guard) SetScheduleLimit(ctx context.Context, kind subject.LimitKind, n uint64) (subject.Result, error) {
	return g.run(ctx, ActionSetScheduleLimit, Args{Kind: kind, Limit: n})
}

// SetLowSpaceThreshold asks the wrapped subject to set the low-space
// threshold, through the guard's rules.
func (g *Guard) SetLowSpaceThreshold(ctx context.Context, percent float64) (subject.Result, error) {
	return g.run(ctx, ActionSetLowSpaceThreshold, Args{Percent: percent})
}

// Do runs the extra action named action (see [Config.Extra]) through the
// guard's rules, as the Actor methods are: the mode, the kill switch, the
// blast radius, cooldowns and the rate limit, the stability gate for a
// disruptive action, a dry run, approval and the journal. a is recorded
// and passed to the action; a.Store names its target ("store 4"). An
// action not in Config.Extra, nor a tool of the subject, is refused with
// subject.ErrNotSupported.
//
// An action made from the subject's tool (see [Guard.Tools]) takes its
// arguments as the tool's JSON: a's typed fields under their JSON names
// (Store as store_id) merged with a.Raw, which carries the rest. So
// Do(ctx, "prepare_restart", Args{Store: 1}) works as it reads, and a
// restart's options go in Raw (tikv.RestartArgs marshalled). A field
// given both typed and in Raw with another value is refused with
// subject.ErrInvalid, as are arguments the tool's schema refuses.
func (g *Guard) Do(ctx context.Context, action string, a Args) (subject.Result, error) {
	if _, ok := g.extra[action]; !ok {
		req := Request{ID: g.newID(), Action: action, Target: target(action, a), Args: a}
		res, err := g.refuse(ctx, req, "", subject.ErrNotSupported, fmt.Sprintf("%s is not an extra action of this guard", action))
		g.report(action, nil, res, err)
		return res, err
	}
	if g.adopted[action] {
		merged, err := a.withRaw()
		if err != nil {
			req := Request{ID: g.newID(), Action: action, Target: target(action, a), Args: a}
			return g.refused(ctx, req, "", err)
		}
		a = merged
	}
	return g.run(ctx, action, a)
}

// adoptTools makes the action tools of a tools.Provider subject
// extra actions, unless Config.Extra names them already: they take their
// JSON arguments from Args.Raw.
func (g *Guard) adoptTools() error {
	p, ok := g.sub.(tools.Provider)
	if !ok {
		return nil
	}
	ts, err := p.Tools()
	if err != nil {
		return fmt.Errorf("guard: the subject's tools: %w", err)
	}
	if g.extra == nil {
		g.extra = map[string]ActionFunc{}
	}
	g.adopted = map[string]bool{}
	for _, t := range ts {
		if _, ok := g.extra[t.Name]; ok || t.Kind != tools.KindAction || builtin[t.Name] {
			continue
		}
		g.adopted[t.Name] = true
		g.extra[t.Name] = func(ctx context.Context, a Args) (subject.Result, error) {
			out, err := t.Call(ctx, a.Raw)
			if err != nil {
				return subject.Result{Action: t.Name, Target: target(t.Name, a)}, err
			}
			var r subject.Result
			if err := json.Unmarshal(out, &r); err != nil {
				return r, fmt.Errorf("guard: %s: reading its result: %w", t.Name, err)
			}
			return r, nil
		}
	}
	return nil
}

// Tools returns the action tools of the wrapped subject, when it is a
// tools.Provider, each calling through [Guard.Do] with its JSON
// arguments in Args.Raw (and their store_id in Args.Store), so that a
// tools.Dispatcher over the guard serves them under the guard's rules.
// Its observation tools pass through unchanged.
func (g *Guard) Tools() ([]tools.Tool, error) {
	p, ok := g.sub.(tools.Provider)
	if !ok {
		return nil, nil
	}
	ts, err := p.Tools()
	if err != nil {
		return nil, err
	}
	for i, t := range ts {
		if t.Kind != tools.KindAction {
			continue
		}
		ts[i] = t.WithCall(func(ctx context.Context, raw json.RawMessage) (any, error) {
			var id struct {
				Store subject.StoreID `json:"store_id"`
			}
			// The tool checked raw against its schema already.
			_ = json.Unmarshal(raw, &id)
			return g.Do(ctx, t.Name, Args{Store: id.Store, Raw: raw})
		})
	}
	return ts, nil
}

// invoke calls the action by name: an extra one, or the subject's.
func (g *Guard) invoke(ctx context.Context, action string, a Args) (subject.Result, error) {
	if fn, ok := g.extra[action]; ok {
		return fn(ctx, a)
	}
	return invoke(ctx, g.sub, action, a)
}

// Evictions returns the stores whose leaders are evicted, with who
// evicted each: the wrapped subject's answer when it is an
// [EvictionReporter], otherwise the guard's own count (each by
// subject.ByOperator, with no scheduler named), by store.
func (g *Guard) Evictions(ctx context.Context) ([]subject.Eviction, error) {
	if r, ok := g.sub.(EvictionReporter); ok {
		return r.Evictions(ctx)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	out := []subject.Eviction{}
	for _, id := range slices.Sorted(maps.Keys(g.evicted)) {
		out = append(out, subject.Eviction{Store: id, By: subject.ByOperator})
	}
	return out, nil
}

// EvictedStores returns the stores whose leaders are evicted (see
// [Guard.Evictions]), each once, in ascending order.
func (g *Guard) EvictedStores(ctx context.Context) ([]subject.StoreID, error) {
	ev, err := g.Evictions(ctx)
	if err != nil {
		return nil, err
	}
	var out []subject.StoreID
	for _, e := range ev {
		out = append(out, e.Store)
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// CheckStable is the guard's stability gate. It asks the wrapped subject
// when it is a [subject.StabilityChecker]; otherwise it reads the stores
// and returns an error matching subject.ErrPrecondition naming every
// store, other than except and tombstones, that is not Up. An error
// reading the stores is returned as it is.
func (g *Guard) CheckStable(ctx context.Context, except subject.StoreID) error {
	if c, ok := g.sub.(subject.StabilityChecker); ok {
		return c.CheckStable(ctx, except)
	}
	stores, err := g.sub.Stores(ctx)
	if err != nil {
		return fmt.Errorf("guard: stability gate: %w", err)
	}
	var bad []string
	for _, s := range stores {
		if s.ID != except && s.State != subject.StateUp && s.State != subject.StateTombstone {
			bad = append(bad, fmt.Sprintf("store %d is %s", s.ID, s.State))
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("guard: stability gate: %v, not Up: %w", bad, subject.ErrPrecondition)
	}
	return nil
}
