package tikvtest

import (
	"context"
	"fmt"
	"time"
)

// Step is one fault of a [Scenario]: Do, At after the scenario starts.
type Step struct {
	// At is when the step happens, from the scenario's start, in the
	// cluster's time.
	At time.Duration
	// What says what happens, in a sentence, for a person watching.
	What string
	// Do injects the fault into the cluster.
	Do func(*Cluster) error
}

// Scenario is a timed list of faults, in order of At.
type Scenario []Step

// DemoScenario returns the faults of the demos (examples/watch with no
// -pd, examples/simpd), for a cluster of at least five stores: store 2
// stops at 3 s, store 3's writes turn slow at 8 s and store 4's disk fills
// to 85% at 12 s; each recovers from 35 s to 42 s; at 60 s the PD leader
// changes, and for a few seconds the new leader reports every store
// Disconnected at 0B. Within about a minute, with grace periods of a few
// seconds, the library's invariants go pending, fire and resolve.
func DemoScenario() Scenario {
	return Scenario{
		{At: 3 * time.Second, What: "store 2 stops", Do: func(c *Cluster) error { return c.StopStore(2) }},
		{At: 8 * time.Second, What: "store 3 turns slow: writes take 300ms", Do: func(c *Cluster) error { return c.SetWriteLatency(3, 300*time.Millisecond) }},
		{At: 12 * time.Second, What: "store 4's disk fills to 85%", Do: func(c *Cluster) error { return c.SetDiskUsage(4, 0.85) }},
		{At: 35 * time.Second, What: "store 2 starts again", Do: func(c *Cluster) error { return c.StartStore(2) }},
		{At: 38 * time.Second, What: "store 3 is fast again", Do: func(c *Cluster) error { return c.SetWriteLatency(3, 0) }},
		{At: 42 * time.Second, What: "store 4's disk is freed", Do: func(c *Cluster) error { return c.ClearDiskUsage(4) }},
		{At: 60 * time.Second, What: "the PD leader changes: for a few seconds it reports every store Disconnected at 0B, which must fire nothing",
			Do: func(c *Cluster) error { c.PDLeaderChange(); return nil }},
	}
}

// RunScenario ticks the cluster every interval with its clock's time, as
// [Cluster.Run] does, and runs each step of s at the first tick at least
// At after the cluster's time when it was called; report, when not nil,
// is told of each step run, with Do's error. A step that fails is
// reported and the scenario goes on. It returns nil when ctx is
// cancelled, and [ErrBadArgument] at once for an interval not positive or
// steps out of order.
func (c *Cluster) RunScenario(ctx context.Context, interval time.Duration, s Scenario, report func(Step, error)) error {
	if interval <= 0 {
		return fmt.Errorf("%w: interval %v", ErrBadArgument, interval)
	}
	for i := 1; i < len(s); i++ {
		if s[i].At < s[i-1].At {
			return fmt.Errorf("%w: step %d (%q, at %v) is before the step ahead of it (at %v)", ErrBadArgument, i, s[i].What, s[i].At, s[i-1].At)
		}
	}
	start := c.Now()
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			c.Tick(c.clock.Now())
			elapsed := c.Now().Sub(start)
			for len(s) > 0 && s[0].At <= elapsed {
				err := s[0].Do(c)
				if report != nil {
					report(s[0], err)
				}
				s = s[1:]
			}
		}
	}
}
