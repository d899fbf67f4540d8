package tikv

import (
	"context"
	"sync"
	"time"

	"github.com/kvops/operator/pdclient"
	"github.com/kvops/operator/subject"
)

// ScheduleConfigMaxAge is how old, in evaluation time, the schedule
// configuration the low-space invariant judges by may be. PD's
// low-space-ratio changes only when an operator sets it, so reading it once
// a minute instead of at every evaluation keeps each evaluation within
// three PD requests; a new ratio is judged by within a minute, which is
// the low-space invariant's default grace.
const ScheduleConfigMaxAge = time.Minute

// configCache keeps the last schedule configuration read from PD, keyed by
// the evaluation time it was read at. It is safe for concurrent use.
type configCache struct {
	read func(context.Context) (*pdclient.ScheduleConfig, error)

	mu  sync.Mutex
	cfg *pdclient.ScheduleConfig
	at  time.Time
}

// get returns a configuration read at most ScheduleConfigMaxAge before
// now. A failed read is not kept: the next evaluation reads again. A now
// before the last read (a clock set back) reads again too.
func (c *configCache) get(ctx context.Context, now time.Time) (*pdclient.ScheduleConfig, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cfg != nil && !now.Before(c.at) && now.Sub(c.at) < ScheduleConfigMaxAge {
		return c.cfg, nil
	}
	cfg, err := c.read(ctx)
	if err != nil {
		return nil, err
	}
	c.cfg, c.at = cfg, now
	return cfg, nil
}

// anyPending reports whether PD counts a pending peer on any store. PD's
// store answer carries pending_peer_count (pkg/response/store.go,
// BuildStoreInfo: store.GetPendingPeerCount()), taken from the same region
// heartbeats as the pending-peer region check, so a cluster whose stores
// all count none has no region for that check to list; its region list is
// then not worth a request. PD refreshes the store count at the store's
// heartbeat (every 10 s), so a new pending peer may be seen up to one
// heartbeat later than through the region check: well inside the
// region-peers grace.
func anyPending(stores []subject.Store) bool {
	for _, st := range stores {
		if st.State != subject.StateTombstone && st.PendingPeerCount > 0 {
			return true
		}
	}
	return false
}

// anyUnreported reports whether a live store is unreported: only then
// does store health need to know whether the PD leader changed.
func anyUnreported(stores []subject.Store) bool {
	for _, st := range stores {
		if st.State != subject.StateTombstone && unreported(st) {
			return true
		}
	}
	return false
}
