package tikvtest

import "github.com/kvops/operator/logparse"

// runStoppingStore is PD's evict-stopping-store scheduler's check at each
// round (PD's pkg/schedule/schedulers/evict_stopping_store.go,
// scheduleStoppingStore): the store it evicts leaves its list once the
// store no longer reports stopping, here once a process started after the
// store began to stop (SetStoppingStoreEvicted) runs. Like every scheduler
// it does not run while scheduling is halted.
func (c *Cluster) runStoppingStore() {
	if c.stoppingEvicted == 0 {
		return
	}
	s := c.stores[c.stoppingEvicted-1]
	if s.running && s.startTime.After(c.pdOwn.stoppingSince) {
		c.pdLog.write(entry(c.now, logparse.LevelInfo, "evict_stopping_store.go:290", "stopping store has been recovered", f("store-id", s.id)))
		c.stoppingEvicted = 0
	}
}
