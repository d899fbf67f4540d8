package tikv

import (
	"cmp"
	"fmt"
	"time"

	"github.com/kvops/operator/subject"
)

// MaxScheduleLimit bounds what SetScheduleLimit accepts, for every kind:
// 2^53, the largest limit PD stores as given. PD bounds none of its
// schedule limits (tikv/pd pkg/schedule/config/config.go: the fields are
// uint64, and ScheduleConfig.Validate checks ratios, policies and worker
// counts but no limit), and its defaults differ per kind (leader 4,
// region 2048, replica 64: defaultLeaderScheduleLimit,
// defaultRegionScheduleLimit, defaultReplicaScheduleLimit there), so a
// lower bound of ours would refuse to set back what PD ships with. The
// bound is where PD stops storing the number asked for: its POST /config
// handler (server/api/config.go, SetConfig) decodes the body into a
// map[string]any, as float64, before updateSchedule re-encodes it, so a
// limit above 2^53 is rounded (the real PD, a186e0cc, stored 2^53 for
// 2^53+1) or refused (2^64-1 is 400 "cannot unmarshal number").
const MaxScheduleLimit = 1 << 53

// ActionConfig bounds and guards the actions. Its zero fields take the
// defaults documented on each field.
type ActionConfig struct {
	// Timeouts bound how long each action waits for its effect.
	Timeouts ActionTimeouts
	// PollInterval is how often an action re-reads PD while it waits for
	// its effect: the status of its operator and the state it changes
	// (default 500ms). An action returns within one interval of PD ending
	// its operator; the wait is bounded by Timeouts and by the context.
	PollInterval time.Duration
	// MinLeaderStores is how many Up stores, besides the one evicted and
	// not evicted themselves, EvictLeaders insists on leaving able to lead
	// regions (default 2).
	MinLeaderStores int
	// KeepPendingOperators leaves an operator PD has not ended when an
	// action's wait bound ends. By default the action cancels it
	// (DELETE /operators/{region_id}), since a pending operator makes PD
	// refuse every later operator on the region.
	KeepPendingOperators bool
	// Ledger records the evictions PrepareRestart makes, so that
	// FinishRestart and ReconcileEvictions remove those and never one that
	// someone else made (PD records no owner). nil: no record is kept,
	// FinishRestart removes the store's eviction whoever made it (as tiup
	// does), and ReconcileEvictions is refused.
	Ledger EvictionLedger
}

// ActionTimeouts bound the wait of each action for its effect, in the
// Subject's clock (Config.Clock). A context deadline that comes first ends
// the wait too. Zero fields take the defaults.
type ActionTimeouts struct {
	// TransferLeader: until PD shows the new leader (default 90s; PD
	// itself ends an admin transfer with TIMEOUT after 1m).
	TransferLeader time.Duration
	// SplitRegion: until PD shows the split (default 90s; PD itself ends
	// an admin split with TIMEOUT after 1m).
	SplitRegion time.Duration
	// DrainStore: until the store is Offline (default 1m). Moving its
	// regions away can take hours; the action does not wait for that.
	DrainStore time.Duration
	// UndrainStore: until the store is no longer Offline (default 1m).
	UndrainStore time.Duration
	// EvictLeaders: until the store leads no region (default 10m; the
	// recorded PD moved about ten leaders a second).
	EvictLeaders time.Duration
	// RestoreLeaders: until the scheduler is gone and the store leads
	// regions again (default 2m).
	RestoreLeaders time.Duration
	// Config: until PD's configuration reads back as set (default 30s),
	// for SetScheduleLimit and SetLowSpaceThreshold.
	Config time.Duration
}

// DefaultActionConfig returns the defaults ActionConfig's zero fields take.
func DefaultActionConfig() ActionConfig {
	return ActionConfig{
		Timeouts: ActionTimeouts{
			TransferLeader: 90 * time.Second,
			SplitRegion:    90 * time.Second,
			DrainStore:     time.Minute,
			UndrainStore:   time.Minute,
			EvictLeaders:   10 * time.Minute,
			RestoreLeaders: 2 * time.Minute,
			Config:         30 * time.Second,
		},
		PollInterval:    500 * time.Millisecond,
		MinLeaderStores: 2,
	}
}

// validate refuses negative bounds and counts, which would end every wait
// at once or refuse every eviction.
func (c ActionConfig) validate() error {
	t := c.Timeouts
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"TransferLeader", t.TransferLeader}, {"SplitRegion", t.SplitRegion}, {"DrainStore", t.DrainStore},
		{"UndrainStore", t.UndrainStore}, {"EvictLeaders", t.EvictLeaders}, {"RestoreLeaders", t.RestoreLeaders}, {"Config", t.Config},
	} {
		if d.v < 0 {
			return fmt.Errorf("tikv: Actions.Timeouts.%s %v is negative: %w", d.name, d.v, subject.ErrInvalid)
		}
	}
	if c.PollInterval < 0 {
		return fmt.Errorf("tikv: Actions.PollInterval %v is negative: %w", c.PollInterval, subject.ErrInvalid)
	}
	if c.MinLeaderStores < 0 {
		return fmt.Errorf("tikv: Actions.MinLeaderStores %d is negative: %w", c.MinLeaderStores, subject.ErrInvalid)
	}
	return nil
}

func (c ActionConfig) withDefaults() ActionConfig {
	d := DefaultActionConfig()
	t := &c.Timeouts
	t.TransferLeader = cmp.Or(t.TransferLeader, d.Timeouts.TransferLeader)
	t.SplitRegion = cmp.Or(t.SplitRegion, d.Timeouts.SplitRegion)
	t.DrainStore = cmp.Or(t.DrainStore, d.Timeouts.DrainStore)
	t.UndrainStore = cmp.Or(t.UndrainStore, d.Timeouts.UndrainStore)
	t.EvictLeaders = cmp.Or(t.EvictLeaders, d.Timeouts.EvictLeaders)
	t.RestoreLeaders = cmp.Or(t.RestoreLeaders, d.Timeouts.RestoreLeaders)
	t.Config = cmp.Or(t.Config, d.Timeouts.Config)
	c.PollInterval = cmp.Or(c.PollInterval, d.PollInterval)
	c.MinLeaderStores = cmp.Or(c.MinLeaderStores, d.MinLeaderStores)
	return c
}
