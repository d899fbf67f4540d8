package realpd

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// SimulatorConfig returns the TOML file New gives pd-simulator for cfg
// (its fields are tools/pd-simulator/simulator/config in PD's source).
func SimulatorConfig(cfg Config) string {
	cfg = cfg.withDefaults()
	var b strings.Builder
	fmt.Fprintf(&b, "case-name = %q\n", cfg.Case)
	fmt.Fprintf(&b, "total-store = %d\n", cfg.Stores)
	fmt.Fprintf(&b, "total-region = %d\n", cfg.Regions)
	fmt.Fprintf(&b, "sim-tick-interval = %q\n", cfg.SimTickInterval)
	b.WriteString("\n[raftstore]\n")
	fmt.Fprintf(&b, "pd-heartbeat-tick-interval = %q\n", cfg.RegionHeartbeat)
	fmt.Fprintf(&b, "pd-store-heartbeat-tick-interval = %q\n", cfg.StoreHeartbeat)
	return b.String()
}

func (c *Cluster) simLogFiles() []string {
	return []string{filepath.Join(c.dir, "sim.out"), filepath.Join(c.dir, "sim.log")}
}

// startSimulator starts pd-simulator against every member. Its status
// server listens on a port the system chooses: nothing reads it.
func (c *Cluster) startSimulator() error {
	conf := filepath.Join(c.dir, "sim.toml")
	if err := os.WriteFile(conf, []byte(SimulatorConfig(c.cfg)), 0o600); err != nil {
		return fmt.Errorf("realpd: %w", err)
	}
	args := []string{
		"--pd-endpoints=" + strings.Join(c.Endpoints(), ","),
		"--case=" + c.cfg.Case,
		"--config=" + conf,
		"--status-addr=127.0.0.1:0",
		"--log-file=" + c.simLogFiles()[1],
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopped {
		return ErrStopped
	}
	// TMPDIR: the simulator makes a directory for a PD of its own that it
	// does not start, and never removes it.
	p, err := spawn(filepath.Join(c.cfg.Dir, "pd-simulator"), args, []string{"TMPDIR=" + c.dir}, c.simLogFiles()[0])
	if err != nil {
		return err
	}
	c.sim = p
	return nil
}

// StopStores stops every simulated store's heartbeats: it stops the
// simulator's process (SIGSTOP). PD reports the stores Disconnected 20 s
// after their last heartbeat and Down after max-store-down-time.
func (c *Cluster) StopStores() error { return c.signalSim(syscall.SIGSTOP, true) }

// StartStores lets a simulator stopped by StopStores go on (SIGCONT): the
// stores heartbeat again, and PD reports them Up after their next store
// heartbeat (within Config.StoreHeartbeat).
func (c *Cluster) StartStores() error { return c.signalSim(syscall.SIGCONT, false) }

func (c *Cluster) signalSim(sig syscall.Signal, stopped bool) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopped {
		return ErrStopped
	}
	if c.sim == nil {
		return fmt.Errorf("realpd: no simulator runs (Config.NoSimulator)")
	}
	if err := c.sim.signal(sig); err != nil {
		return fmt.Errorf("realpd: simulator: %w", err)
	}
	c.simStopped = stopped
	return nil
}

// WaitStores polls the PD leader's store list until ok accepts it,
// within ctx. A failed read is retried (during a PD election, say); the
// last failure is reported if ctx ends.
func (c *Cluster) WaitStores(ctx context.Context, what string, ok func([]Store) bool) ([]Store, error) {
	var last []Store
	var lastErr error
	for {
		st, err := c.Stores(ctx)
		if err == nil && ok(st) {
			return st, nil
		}
		if err == nil {
			last = st
		} else {
			lastErr = err
		}
		if c.isStopped() {
			return nil, ErrStopped
		}
		select {
		case <-ctx.Done():
			return last, fmt.Errorf("realpd: %s: %w (stores %+v, last error %v)", what, ctx.Err(), last, lastErr)
		case <-time.After(pollInterval):
		}
	}
}

// AllUp reports whether every store is Up.
func AllUp(st []Store) bool {
	for _, s := range st {
		if s.State != "Up" {
			return false
		}
	}
	return len(st) > 0
}

// AllIn returns a predicate for WaitStores: every store is in state.
func AllIn(state string) func([]Store) bool {
	return func(st []Store) bool {
		for _, s := range st {
			if s.State != state {
				return false
			}
		}
		return len(st) > 0
	}
}

// WaitReady waits, within ctx, until the PD leader lists Config.Stores
// stores, every one Up, leading Config.Regions regions between them, and
// scheduling is not halted: the state New returns in, and the state to
// wait for after StartStores or a PD leader change.
func (c *Cluster) WaitReady(ctx context.Context) error {
	_, err := c.WaitStores(ctx, "stores Up with every region's leader", func(st []Store) bool {
		leaders := 0
		for _, s := range st {
			leaders += s.LeaderCount
		}
		return len(st) == c.cfg.Stores && AllUp(st) && leaders == c.cfg.Regions
	})
	if err != nil {
		return err
	}
	for {
		u, err := c.leaderURL(ctx)
		if err != nil {
			return err
		}
		var sched map[string]any
		err = c.http.get(ctx, u, "/pd/api/v1/config/schedule", &sched)
		// halt-scheduling shows only while it is on.
		if h, _ := sched["halt-scheduling"].(string); err == nil && h != "true" {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("realpd: scheduling still halted: %w (last error %v)", ctx.Err(), err)
		case <-time.After(pollInterval):
		}
	}
}
