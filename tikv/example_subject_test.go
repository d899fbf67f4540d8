package tikv_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/kvops/operator/invariant"
	"github.com/kvops/operator/tikv"
)

// The operator's loop against tiup playground's defaults (PD at
// 127.0.0.1:2379, Prometheus at 127.0.0.1:9090): observe and judge on your
// own ticker, act when an alert fires.
func ExampleNew() {
	sub, err := tikv.New(tikv.Config{})
	if err != nil {
		log.Fatal(err)
	}
	eval, err := invariant.New(sub.Invariants(), invariant.Config{})
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	tick := time.NewTicker(15 * time.Second)
	defer tick.Stop()
	for now := range tick.C {
		report, err := eval.Evaluate(ctx, now)
		if err != nil {
			log.Fatal(err)
		}
		for _, tr := range report.Transitions {
			fmt.Println(tr) // notify once per change
			if tr.Invariant == tikv.InvWriteLatency && tr.To == invariant.StateFiring {
				// A slow store: keep leaders off it until it recovers.
				if store, ok := tikv.StoreOf(tr.Alert); ok {
					if res, err := sub.EvictLeaders(ctx, store); err == nil {
						fmt.Println(res.Summary)
					}
				}
			}
		}
		for _, ce := range report.Errors {
			fmt.Printf("cannot check %s, its state is kept: %v\n", ce.Invariant, ce.Err)
		}
	}
}

// The actions a subject offers, as an AI agent's tool-calling layer reads
// them (marshal Capabilities to JSON for the full description).
func ExampleSubject_Capabilities() {
	sub, err := tikv.New(tikv.Config{})
	if err != nil {
		log.Fatal(err)
	}
	for _, a := range sub.Capabilities().Actions {
		fmt.Printf("%s(%d params)", a.Name, len(a.Params))
		if a.Undo != "" {
			fmt.Printf(", undone by %s", a.Undo)
		}
		fmt.Println()
	}
	// Output:
	// transfer_leader(2 params)
	// split_region(1 params)
	// drain_store(1 params), undone by undrain_store
	// undrain_store(1 params)
	// evict_leaders(1 params), undone by restore_leaders
	// restore_leaders(1 params)
	// set_schedule_limit(2 params)
	// set_low_space_threshold(1 params)
	// prepare_restart(1 params), undone by finish_restart
	// finish_restart(1 params)
}
