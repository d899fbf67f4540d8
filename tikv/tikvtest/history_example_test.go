package tikvtest_test

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/kvops/operator/tikv/tikvtest"
)

// A deterministic test of a disk-driven operator: the cluster records,
// every 15 s of its own time, what a Prometheus scraping it would store,
// while the test fills store 3's disk; with a series of the test's own
// added, at given times with given values, the history goes into a real
// Prometheus with promtool, and the operator reads it at any evaluation
// time, without waiting for a scrape:
//
//	p := tikvtest.NewBackfilledPrometheus(t, h) // skips, or fails with CI=true, without prometheus
//	sub, err := tikv.New(tikv.Config{
//		PD:         pdclient.Config{Endpoints: []string{c.PDURL()}},
//		Prometheus: promclient.Config{Address: p.URL, Clock: func() time.Time { return now }},
//	})
//	// evaluate sub.Invariants() at each recorded time now
//
// That part needs the prometheus and promtool binaries, so this Example
// prints what would be backfilled instead; TestBackfilledHistoryJudged
// runs the whole test.
func ExampleHistory() {
	start := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	c, err := tikvtest.NewUnstartedCluster(tikvtest.Config{Stores: 3, Regions: 30, Seed: 1,
		Clock: fixedClock{start}, RecordMetrics: 15 * time.Second})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	if err := c.Start(context.Background()); err != nil {
		fmt.Println(err)
		return
	}
	for range 4 {
		if c.Now().Equal(start.Add(30 * time.Second)) {
			_ = c.SetDiskUsage(3, 0.9)
		}
		c.Advance(15 * time.Second)
	}
	h := c.History()
	addr, _ := c.StatusAddress(3)
	for _, s := range h.Series() {
		if s.Name == "tikv_store_size_bytes" && s.Labels["instance"] == addr && s.Labels["type"] == "available" {
			for _, smp := range s.Samples {
				fmt.Printf("store 3 at %v: %.1f GiB free\n", smp.At.Sub(start), smp.Value/(1<<30))
			}
		}
	}

	// A series of the test's own, as an exporter of its would have had it.
	var own tikvtest.History
	err = own.Add(tikvtest.Series{Name: "app_queue_depth", Labels: map[string]string{"job": "app"}, Samples: []tikvtest.Sample{
		{At: start, Value: 3}, {At: start.Add(15 * time.Second), Value: 250},
	}})
	if err != nil {
		fmt.Println(err)
		return
	}
	_ = own.WriteOpenMetrics(os.Stdout)
	// Output:
	// store 3 at 0s: 97.2 GiB free
	// store 3 at 15s: 97.2 GiB free
	// store 3 at 30s: 97.2 GiB free
	// store 3 at 45s: 10.0 GiB free
	// store 3 at 1m0s: 10.0 GiB free
	// # TYPE app_queue_depth unknown
	// app_queue_depth{job="app"} 3 1796126400.000
	// app_queue_depth{job="app"} 250 1796126415.000
	// # EOF
}
