package tikvtest_test

import (
	"context"
	"fmt"
	"time"

	"github.com/kvops/operator/invariant"
	"github.com/kvops/operator/pdclient"
	"github.com/kvops/operator/subject"
	"github.com/kvops/operator/tikv"
	"github.com/kvops/operator/tikv/tikvtest"
)

// newSubject builds a tikv.Subject on the test cluster without Prometheus,
// on the cluster's time: its waits advance the cluster instead of sleeping,
// so what the Examples print does not depend on the machine.
func newSubject(c *tikvtest.Cluster) (*tikv.Subject, error) {
	return tikv.New(tikv.Config{
		PD:             pdclient.Config{Endpoints: []string{c.PDURL()}},
		DisableMetrics: true,
		Clock:          c.Now,
		Actions:        tikv.ActionConfig{PollInterval: time.Second},
		Sleep: func(ctx context.Context, d time.Duration) error {
			c.Advance(d)
			return ctx.Err()
		},
	})
}

// transitions evaluates e at the cluster's time and prints the transitions
// of one invariant.
func transitions(ctx context.Context, e *invariant.Evaluator, c *tikvtest.Cluster, name string) {
	rep, err := e.Evaluate(ctx, c.Now())
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, tr := range rep.Transitions {
		if tr.Invariant == name {
			fmt.Printf("%s %s: %s -> %s\n", tr.Invariant, tr.Key, tr.From, tr.To)
		}
	}
}

// Observe, judge, act on the test cluster: a stopped store fires
// store_health; once it is back, its leaders are evicted before the
// operator restarts it again, and the action's Result says what was done.
func Example_observeJudgeAct() {
	ctx := context.Background()
	c, err := tikvtest.NewUnstartedCluster(tikvtest.Config{Stores: 5, Regions: 60, Seed: 1,
		Clock: fixedClock{time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)}})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	if err := c.Start(ctx); err != nil {
		fmt.Println(err)
		return
	}
	c.Advance(time.Second)
	sub, err := newSubject(c)
	if err != nil {
		fmt.Println(err)
		return
	}
	e, err := invariant.New(sub.Invariants(), invariant.Config{})
	if err != nil {
		fmt.Println(err)
		return
	}

	// Observe.
	stores, err := sub.Stores(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("stores:", len(stores))

	// Judge: nothing fires on a healthy cluster; a stopped store fires
	// once PD reports it Disconnected (20 s without a heartbeat).
	transitions(ctx, e, c, tikv.InvStoreHealth)
	if err := c.StopStore(2); err != nil {
		fmt.Println(err)
		return
	}
	c.Advance(25 * time.Second)
	transitions(ctx, e, c, tikv.InvStoreHealth)
	if err := c.StartStore(2); err != nil {
		fmt.Println(err)
		return
	}
	c.Advance(time.Second)
	transitions(ctx, e, c, tikv.InvStoreHealth)

	// Act: take every leader off store 2 through PD's evict-leader
	// scheduler; the action waits until PD shows none left there.
	res, err := sub.EvictLeaders(ctx, 2)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(res.Action, res.Target+":", res.Summary)
	// Output:
	// stores: 5
	// store_health store=2: inactive -> firing
	// store_health store=2: firing -> resolved
	// evict_leaders store 2: evicted the leaders of store 2 (0 left)
}

// Fill a store's disk: PD sees it at its low-space ratio, pd_low_space
// goes pending and fires after its grace (LowSpaceGrace, one minute), and
// the operator moves the store's leaders away.
func Example_fillDisk() {
	ctx := context.Background()
	c, err := tikvtest.NewUnstartedCluster(tikvtest.Config{Stores: 5, Regions: 60, Seed: 1,
		Clock: fixedClock{time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)}})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	if err := c.Start(ctx); err != nil {
		fmt.Println(err)
		return
	}
	c.Advance(time.Second)
	sub, err := newSubject(c)
	if err != nil {
		fmt.Println(err)
		return
	}
	e, err := invariant.New(sub.Invariants(), invariant.Config{})
	if err != nil {
		fmt.Println(err)
		return
	}
	transitions(ctx, e, c, tikv.InvLowSpace)
	if err := c.SetDiskUsage(3, 0.9); err != nil {
		fmt.Println(err)
		return
	}
	c.Advance(10 * time.Second) // every store has heartbeaten its sizes
	transitions(ctx, e, c, tikv.InvLowSpace)
	c.Advance(time.Minute)
	transitions(ctx, e, c, tikv.InvLowSpace)

	res, err := sub.EvictLeaders(ctx, 3)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(res.Action, res.Target+":", res.Summary)
	// Output:
	// pd_low_space store=3: inactive -> pending
	// pd_low_space store=3: pending -> firing
	// evict_leaders store 3: evicted the leaders of store 3 (0 left)
}

// Change the PD leader: for about 12 s PD has no leader and every read
// fails; then the new leader reports every store with 0B sizes, and
// Disconnected by the heartbeat PD last wrote down, until the store's
// next heartbeat reaches it, as a real PD does. store_health holds its
// judgement instead of firing five false alerts.
func Example_pdLeaderChange() {
	ctx := context.Background()
	c, err := tikvtest.NewUnstartedCluster(tikvtest.Config{Stores: 5, Regions: 60, Seed: 1,
		Clock: fixedClock{time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)}})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	if err := c.Start(ctx); err != nil {
		fmt.Println(err)
		return
	}
	c.Advance(time.Second)
	sub, err := newSubject(c)
	if err != nil {
		fmt.Println(err)
		return
	}
	e, err := invariant.New(sub.Invariants(), invariant.Config{})
	if err != nil {
		fmt.Println(err)
		return
	}
	transitions(ctx, e, c, tikv.InvStoreHealth)
	c.PDLeaderChange()
	_, err = sub.Stores(ctx)
	fmt.Println("reading the stores during the election fails:", err != nil)
	for range 12 {
		transitions(ctx, e, c, tikv.InvStoreHealth) // prints nothing
		c.Advance(time.Second)
	}
	stores, err := sub.Stores(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	disconnected := 0
	for _, s := range stores {
		if s.State == subject.StateDisconnected && s.Capacity == 0 {
			disconnected++
		}
	}
	fmt.Println("stores Disconnected at 0B once a leader is elected:", disconnected)
	for range 20 {
		transitions(ctx, e, c, tikv.InvStoreHealth) // prints nothing
		c.Advance(time.Second)
	}
	stores, err = sub.Stores(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	up := 0
	for _, s := range stores {
		if s.State == subject.StateUp {
			up++
		}
	}
	fmt.Println("stores Up 20 s later:", up)
	// Output:
	// reading the stores during the election fails: true
	// stores Disconnected at 0B once a leader is elected: 5
	// stores Up 20 s later: 5
}
