package tikv

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"

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
func (s *Subject) leaderEvictions(ctx context.Context) (map[subject.StoreID][]string, error) {
	running, err := s.pd.Schedulers(ctx)
	if err != nil {
		return nil, err
	}
	out := map[subject.StoreID][]string{}
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
