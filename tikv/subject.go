package tikv

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/kvops/operator/pdclient"
	"github.com/kvops/operator/promclient"
	"github.com/kvops/operator/subject"
)

// Config configures a Subject.
type Config struct {
	// PD configures the PD client; its zero value talks to tiup
	// playground's PD at http://127.0.0.1:2379.
	PD pdclient.Config
	// Prometheus configures the metrics client; its zero value reads tiup
	// playground's Prometheus at http://127.0.0.1:9090.
	Prometheus promclient.Config
	// DisableMetrics leaves Prometheus out: the metric observations return
	// errors matching subject.ErrNotSupported, and Invariants leaves out
	// the invariants that need metrics.
	DisableMetrics bool
	// Logs is where leadership changes are read from: a log file or a
	// Docker container (tikv/dockerlog), or several merged by MergeLogs (the PD log and every
	// TiKV log). nil means the subject has no log source and
	// LeadershipChanges is not supported.
	Logs LogSource
	// DryRun makes every action check its preconditions and report what
	// it would do, without changing the cluster.
	DryRun bool
	// Actions bounds and guards the actions (see ActionConfig); its zero
	// value takes the documented defaults.
	Actions ActionConfig
	// Clock returns the current time (default time.Now), for the times of
	// action results, the actions' wait bounds and ClusterMetrics. The
	// invariants do not read it: they judge by the evaluation time the
	// evaluator passes them.
	Clock func() time.Time
	// Sleep is how an action waits between two reads of PD, for
	// Actions.PollInterval each time (default: a timer, cut short when ctx
	// ends). A simulation can advance its own
	// clock here instead.
	Sleep func(ctx context.Context, d time.Duration) error
	// Thresholds for the invariants. nil means DefaultThresholds(); so
	// does every zero field, field by field (see Thresholds).
	Thresholds *Thresholds
	// Logger receives a record before and after every action (default:
	// discard).
	Logger *slog.Logger
}

// Subject is a TiKV cluster seen through PD, Prometheus and, optionally,
// logs. It implements subject.Subject. It is safe for concurrent use.
type Subject struct {
	pd     *pdclient.Client
	prom   *promclient.Client
	logs   LogSource
	dryRun bool
	clock  func() time.Time
	log    *slog.Logger
	sleep  func(context.Context, time.Duration) error
	th     Thresholds
	acts   ActionConfig

	bg *background // the reads that outlive their caller's context

	mu     sync.Mutex
	window leaderWindow
	starts startWatch
}

var _ subject.Subject = (*Subject)(nil)

// New returns a Subject for the cluster the configuration points at. It
// does no I/O. A malformed configuration (a threshold that makes no sense,
// say) gives an error matching subject.ErrInvalid that names the field.
func New(cfg Config) (*Subject, error) {
	if err := thresholds(cfg).validate(); err != nil {
		return nil, err
	}
	pd, err := pdclient.New(cfg.PD)
	if err != nil {
		return nil, fmt.Errorf("tikv: %w", err)
	}
	var prom *promclient.Client
	if !cfg.DisableMetrics {
		if prom, err = promclient.New(cfg.Prometheus); err != nil {
			return nil, fmt.Errorf("tikv: %w", err)
		}
	}
	// The clients are built: NewFromClients takes them, and refuses
	// configuration it does not use.
	own := cfg
	own.PD, own.Prometheus, own.Logs = pdclient.Config{}, promclient.Config{}, nil
	return NewFromClients(pd, prom, cfg.Logs, own)
}

// thresholds returns the configuration's thresholds, zero fields set to
// their defaults.
func thresholds(cfg Config) Thresholds {
	if cfg.Thresholds == nil {
		return DefaultThresholds()
	}
	return cfg.Thresholds.withDefaults()
}

// NewFromClients returns a Subject over clients the caller built. prom may
// be nil: the subject then reads no metrics, as with cfg.DisableMetrics,
// which leaves prom out too. The log source is logs or cfg.Logs, whichever
// is set. cfg.PD and cfg.Prometheus configure clients this function does
// not build: it refuses them unless they are zero, with an error matching
// subject.ErrInvalid that names the field, as it refuses a nil pd, two log
// sources and, as New does, any other malformed field.
func NewFromClients(pd *pdclient.Client, prom *promclient.Client, logs LogSource, cfg Config) (*Subject, error) {
	th := thresholds(cfg)
	if err := errors.Join(th.validate(), cfg.Actions.validate(), clientsOnly(pd, logs, cfg)); err != nil {
		return nil, err
	}
	if cfg.DisableMetrics {
		prom = nil
	}
	if logs == nil {
		logs = cfg.Logs
	}
	s := &Subject{
		pd: pd, prom: prom, logs: logs, dryRun: cfg.DryRun,
		clock: cfg.Clock,
		log:   cfg.Logger,
		sleep: cfg.Sleep,
		bg:    newBackground(),
	}
	if s.sleep == nil {
		s.sleep = sleepCtx
	}
	if s.clock == nil {
		s.clock = time.Now
	}
	if s.log == nil {
		s.log = discardLogger()
	}
	s.acts = cfg.Actions.withDefaults()
	s.th = th
	s.window.maxHold = s.th.LeaderChangeHold
	s.starts.grace = s.th.StoreStartGrace
	return s, nil
}

// clientsOnly refuses what NewFromClients would otherwise ignore: the
// configuration of clients it does not build, and a second log source.
func clientsOnly(pd *pdclient.Client, logs LogSource, cfg Config) error {
	var errs []error
	if pd == nil {
		errs = append(errs, fmt.Errorf("tikv: NewFromClients: no PD client: %w", subject.ErrInvalid))
	}
	if !reflect.ValueOf(cfg.PD).IsZero() {
		errs = append(errs, fmt.Errorf("tikv: Config.PD configures the PD client New builds; NewFromClients uses the one it is given: leave Config.PD zero: %w", subject.ErrInvalid))
	}
	if !reflect.ValueOf(cfg.Prometheus).IsZero() {
		errs = append(errs, fmt.Errorf("tikv: Config.Prometheus configures the Prometheus client New builds; NewFromClients uses the one it is given: leave Config.Prometheus zero: %w", subject.ErrInvalid))
	}
	if cfg.Logs != nil && logs != nil {
		errs = append(errs, fmt.Errorf("tikv: Config.Logs and the logs argument of NewFromClients both name a log source: give one: %w", subject.ErrInvalid))
	}
	return errors.Join(errs...)
}

// PD returns the subject's PD client, for what the Subject interface does
// not cover.
func (s *Subject) PD() *pdclient.Client { return s.pd }

// Thresholds returns the thresholds the invariants use: Config.Thresholds
// with every zero field set to its default.
func (s *Subject) Thresholds() Thresholds { return s.th }

// ClusterID returns, in decimal, the id PD gives the cluster (GET
// /pd/api/v1/cluster), which a new cluster does not share with an old one
// even at the same addresses. Hand it to the evaluator as its identity, so that a state
// saved for another cluster is refused on restore:
//
//	id, err := sub.ClusterID(ctx)
//	...
//	eval, err := invariant.New(sub.Invariants(), invariant.Config{Identity: id})
//
// Its errors are pdclient's, wrapped: matching pdclient.ErrUnavailable when
// no PD member answered (retry later).
func (s *Subject) ClusterID(ctx context.Context) (string, error) {
	c, err := s.pd.Cluster(ctx)
	if err != nil {
		return "", fmt.Errorf("tikv: cluster id: %w", err)
	}
	if c.ID == 0 {
		return "", fmt.Errorf("tikv: cluster id: PD answered id 0: %w", pdclient.ErrBadResponse)
	}
	return strconv.FormatUint(c.ID, 10), nil
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Stores returns every store PD knows, tombstones included, in id order.
func (s *Subject) Stores(ctx context.Context) ([]subject.Store, error) {
	ps, err := s.pd.AllStores(ctx)
	if err != nil {
		return nil, fmt.Errorf("tikv: stores: %w", err)
	}
	out := make([]subject.Store, 0, len(ps))
	for _, p := range ps {
		st, err := storeFromPD(p)
		if err != nil {
			return nil, fmt.Errorf("tikv: stores: %w", err)
		}
		out = append(out, st)
	}
	slices.SortFunc(out, func(a, b subject.Store) int { return cmp.Compare(a.ID, b.ID) })
	return out, nil
}

func (s *Subject) store(ctx context.Context, id subject.StoreID) (subject.Store, error) {
	p, err := s.pd.Store(ctx, uint64(id))
	if err != nil {
		return subject.Store{}, err
	}
	return storeFromPD(*p)
}

// HotWriteRegions returns the regions PD's hot-spot statistics show as hot
// for writes, by flow, hottest first.
func (s *Subject) HotWriteRegions(ctx context.Context) ([]subject.HotRegion, error) {
	h, err := s.pd.HotWriteRegions(ctx)
	if err != nil {
		return nil, fmt.Errorf("tikv: hot write regions: %w", err)
	}
	return hotRegionsFromPD(*h), nil
}

// HotReadRegions returns the regions PD's hot-spot statistics show as hot
// for reads, by flow, hottest first.
func (s *Subject) HotReadRegions(ctx context.Context) ([]subject.HotRegion, error) {
	h, err := s.pd.HotReadRegions(ctx)
	if err != nil {
		return nil, fmt.Errorf("tikv: hot read regions: %w", err)
	}
	return hotRegionsFromPD(*h), nil
}

// StoreMetrics returns one store's metrics: PD gives the store's status
// address, which is the "instance" of its series in Prometheus.
func (s *Subject) StoreMetrics(ctx context.Context, id subject.StoreID) (subject.StoreMetrics, error) {
	if s.prom == nil {
		return subject.StoreMetrics{}, fmt.Errorf("tikv: store metrics: no Prometheus configured: %w", subject.ErrNotSupported)
	}
	st, err := s.store(ctx, id)
	if err != nil {
		return subject.StoreMetrics{}, fmt.Errorf("tikv: store %d metrics: %w", id, err)
	}
	m, warnings, err := s.prom.OneStoreMetrics(ctx, st)
	s.warn(ctx, "store metrics", warnings)
	if err != nil {
		return m, fmt.Errorf("tikv: store %d metrics: %w", id, err)
	}
	return m, nil
}

// AllStoreMetrics returns the metrics of every store that is not a
// tombstone, in a constant number of Prometheus queries.
func (s *Subject) AllStoreMetrics(ctx context.Context) ([]subject.StoreMetrics, error) {
	if s.prom == nil {
		return nil, fmt.Errorf("tikv: store metrics: no Prometheus configured: %w", subject.ErrNotSupported)
	}
	stores, err := s.Stores(ctx)
	if err != nil {
		return nil, err
	}
	return s.allStoreMetrics(ctx, stores)
}

// allStoreMetrics reads the metrics of the given stores that are not
// tombstones.
// It does not modify stores, which invariant checks share.
func (s *Subject) allStoreMetrics(ctx context.Context, stores []subject.Store) ([]subject.StoreMetrics, error) {
	stores = slices.DeleteFunc(slices.Clone(stores), func(st subject.Store) bool { return st.State == subject.StateTombstone })
	m, warnings, err := s.prom.StoreMetrics(ctx, stores)
	s.warn(ctx, "all store metrics", warnings)
	if err != nil {
		return m, fmt.Errorf("tikv: all store metrics: %w", err)
	}
	return m, nil
}

func (s *Subject) warn(ctx context.Context, what string, warnings []string) {
	for _, w := range warnings {
		s.log.WarnContext(ctx, "prometheus warning", "query", what, "warning", w)
	}
}

// ClusterMetrics returns counts from PD: stores by state, and leaders and
// regions per store from the stores' status. The region count comes from
// PD's region count, not from scanning every region.
func (s *Subject) ClusterMetrics(ctx context.Context) (subject.ClusterMetrics, error) {
	stores, err := s.Stores(ctx)
	if err != nil {
		return subject.ClusterMetrics{}, err
	}
	n, err := s.pd.RegionCount(ctx)
	if err != nil {
		return subject.ClusterMetrics{}, fmt.Errorf("tikv: region count: %w", err)
	}
	return clusterMetrics(s.clock(), stores, n), nil
}

func clusterMetrics(at time.Time, stores []subject.Store, regions int) subject.ClusterMetrics {
	m := subject.ClusterMetrics{
		At: at, RegionCount: regions,
		Stores:  map[subject.StoreState]int{},
		Leaders: map[subject.StoreID]int{},
		Regions: map[subject.StoreID]int{},
	}
	for _, st := range stores {
		m.Stores[st.State]++
		if st.State == subject.StateTombstone {
			continue
		}
		m.Leaders[st.ID] = st.LeaderCount
		m.Regions[st.ID] = st.RegionCount
		m.Capacity += st.Capacity
		m.Available += st.Available
	}
	return m
}

// LeadershipChanges reads the log source from since until now and returns
// the leadership changes in it, oldest first, each naming the log it came
// from. When some of the logs merged by MergeLogs cannot be read, it
// returns the changes of the others with a [*PartialLogError] naming the
// failed ones (see there for how a check judges such a read).
func (s *Subject) LeadershipChanges(ctx context.Context, since time.Time) ([]subject.LeadershipChange, error) {
	if s.logs == nil {
		return nil, fmt.Errorf("tikv: leadership changes: no log source configured: %w", subject.ErrNotSupported)
	}
	out, err := LogLeadershipChanges(ctx, s.logs, since)
	if err != nil {
		return out, fmt.Errorf("tikv: leadership changes: %w", err)
	}
	return out, nil
}
