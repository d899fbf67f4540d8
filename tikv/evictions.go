package tikv

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"

	"github.com/kvops/operator/pdclient"
	"github.com/kvops/operator/subject"
)

// The schedulers that keep a store's leaders off it, and the config list
// of each (PD's pkg/schedule/schedulers, evict_*.go). evict-leader is the
// one the library's EvictLeaders and PrepareRestart start (and pd-ctl's
// "scheduler add evict-leader-scheduler"); evict-slow-store and
// evict-stopping-store run in every PD (recorded in
// pd-maintenance/schedulers-default) and evict a store PD judges slow, or
// a TiKV shutting down; evict-slow-trend is their optional sibling.
const (
	schedEvictLeader   = "evict-leader-scheduler"
	schedEvictSlow     = "evict-slow-store-scheduler"
	schedEvictTrend    = "evict-slow-trend-scheduler"
	schedEvictStopping = "evict-stopping-store-scheduler"
)

// evictLists decodes the config list of PD's own evicting schedulers: each
// fills its own fields and leaves the others empty. The JSON names are
// those of PD's config structs (evictSlowStoreSchedulerConfig,
// evictSlowTrendSchedulerConfig, evictStoppingStoreSchedulerConfig), as
// recorded in pd-maintenance/scheduler-evict-*-config.
type evictLists struct {
	// evict-slow-store: disk-slow stores, and network-slow ones it evicted
	// (those it only paused are not evicted).
	EvictStores              []uint64 `json:"evict-stores"`
	EvictedNetworkSlowStores []uint64 `json:"evicted-network-slow-stores"`
	// evict-slow-trend.
	EvictByTrendStores []uint64 `json:"evict-by-trend-stores"`
	// evict-stopping-store.
	EvictedStores []uint64 `json:"evicted-stores"`
}

// evictions are the stores whose leaders a scheduler keeps off them: for
// each store, the schedulers that do, in the order of the constants above.
type evictions map[subject.StoreID][]string

// byLeaderScheduler tells a store of the evict-leader scheduler: the one
// EvictLeaders adds to (and pd-ctl, and other operators).
func (e evictions) byLeaderScheduler(id subject.StoreID) bool {
	return slices.Contains(e[id], schedEvictLeader)
}

// byPD returns PD's own schedulers that evict the store: those PD starts
// and lifts by itself, which nobody else removes.
func (e evictions) byPD(id subject.StoreID) []string {
	var out []string
	for _, name := range e[id] {
		if name != schedEvictLeader {
			out = append(out, name)
		}
	}
	return out
}

// leaderSchedulerStores returns the stores of the evict-leader scheduler,
// in ascending order.
func (e evictions) leaderSchedulerStores() []subject.StoreID {
	var out []subject.StoreID
	for _, id := range e.stores() {
		if e.byLeaderScheduler(id) {
			out = append(out, id)
		}
	}
	return out
}

// stores returns every evicted store, in ascending order.
func (e evictions) stores() []subject.StoreID { return slices.Sorted(maps.Keys(e)) }

// pdEvictionNote says which of PD's own schedulers evict a store, and
// that PD lifts them by itself; "" when none does.
func pdEvictionNote(store subject.StoreID, by []string) string {
	if len(by) == 0 {
		return ""
	}
	return fmt.Sprintf("PD's own %s keeps store %d's leaders off (PD judged it slow or stopping, and lifts that by itself)",
		strings.Join(by, " and "), store)
}

// Evictions returns every store whose leaders PD keeps off it, one entry
// per store and scheduler, by store id: PD's evict-leader scheduler
// (EvictLeaders', PrepareRestart's, pd-ctl's) and PD's own evicting
// schedulers, which PD starts and lifts by itself (evict-slow-store for a
// store it judges slow, evict-stopping-store for a TiKV that is stopping,
// evict-slow-trend when enabled). Each says who made it, when the subject
// can tell: subject.ByCluster for PD's own, subject.ByOperator for an
// evict-leader store this subject's eviction ledger
// (Config.Actions.Ledger) lists, empty otherwise. The list is never nil:
// none is [].
//
// PD API: GET /pd/api/v1/schedulers, then GET
// /pd/api/v1/scheduler-config/{name}/list of each evicting scheduler that
// runs (two or three requests more on a default PD)
func (s *Subject) Evictions(ctx context.Context) ([]subject.Eviction, error) {
	ev, err := s.leaderEvictions(ctx)
	if err != nil {
		return nil, fmt.Errorf("tikv: evictions: %w", err)
	}
	out, err := s.describeEvictions(ctx, ev)
	if err != nil {
		return nil, fmt.Errorf("tikv: evictions: %w", err)
	}
	return out, nil
}

// describeEvictions lists ev as Evictions, saying who made each.
func (s *Subject) describeEvictions(ctx context.Context, ev evictions) ([]subject.Eviction, error) {
	var ours []subject.StoreID
	if s.acts.Ledger != nil {
		var err error
		if ours, err = s.acts.Ledger.Stores(ctx); err != nil {
			return nil, fmt.Errorf("the ledger: %w", err)
		}
	}
	out := []subject.Eviction{}
	for _, id := range ev.stores() {
		for _, name := range ev[id] {
			e := subject.Eviction{Store: id, Scheduler: name, By: subject.ByCluster}
			if name == schedEvictLeader {
				e.By = ""
				if slices.Contains(ours, id) {
					e.By = subject.ByOperator
				}
			}
			out = append(out, e)
		}
	}
	return out, nil
}

// EvictedStores returns the stores whose leaders PD keeps off them, by
// any scheduler (see Evictions), in ascending order. A guard counts them
// in its blast radius, whoever evicted them.
//
// PD API: as Evictions
func (s *Subject) EvictedStores(ctx context.Context) ([]subject.StoreID, error) {
	ev, err := s.leaderEvictions(ctx)
	if err != nil {
		return nil, fmt.Errorf("tikv: evicted stores: %w", err)
	}
	return ev.stores(), nil
}

// leaderEvictions returns, for every store whose leaders a scheduler keeps
// off it, the schedulers that do, in the order of the constants above. It
// asks PD which schedulers run (GET /schedulers), then reads the list of
// each evicting one that runs: two PD requests in a cluster where only
// PD's default schedulers run, one more per other evicting scheduler. A
// list that is gone by the time it is read (the scheduler was removed in
// between: PD answers 404) counts as empty.
//
// PD API: GET /pd/api/v1/schedulers, GET
// /pd/api/v1/scheduler-config/{name}/list
func (s *Subject) leaderEvictions(ctx context.Context) (evictions, error) {
	running, err := s.pd.Schedulers(ctx)
	if err != nil {
		return nil, err
	}
	return s.evictionsOf(ctx, running)
}

// evictionsOf is leaderEvictions with the running schedulers read.
func (s *Subject) evictionsOf(ctx context.Context, running []string) (evictions, error) {
	out := evictions{}
	add := func(name string, ids ...[]uint64) {
		for _, l := range ids {
			for _, id := range l {
				if sid := subject.StoreID(id); !slices.Contains(out[sid], name) {
					out[sid] = append(out[sid], name)
				}
			}
		}
	}
	for _, name := range []string{schedEvictLeader, schedEvictSlow, schedEvictTrend, schedEvictStopping} {
		if !slices.Contains(running, name) {
			continue
		}
		if name == schedEvictLeader {
			cfg, err := s.pd.EvictLeaderConfig(ctx)
			switch {
			case errors.Is(err, pdclient.ErrNotFound):
			case err != nil:
				return nil, err
			default:
				add(name, cfg.Stores())
			}
			continue
		}
		var l evictLists
		err := s.pd.Do(ctx, http.MethodGet, "/scheduler-config/"+name+"/list", nil, &l)
		switch {
		case errors.Is(err, pdclient.ErrNotFound):
		case err != nil:
			return nil, fmt.Errorf("%s: %w", name, err)
		default:
			add(name, l.EvictStores, l.EvictedNetworkSlowStores, l.EvictByTrendStores, l.EvictedStores)
		}
	}
	return out, nil
}
