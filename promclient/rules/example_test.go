package rules_test

import (
	"fmt"

	"github.com/kvops/operator/promclient"
	"github.com/kvops/operator/promclient/rules"
)

// Load a rule file written as TiKV's are and list the invariants it gives:
// "for" is the grace period, the level label the severity. Loading does no
// I/O; the checks query Prometheus when an invariant.Evaluator runs them.
func Example() {
	prom, err := promclient.New(promclient.DefaultConfig())
	if err != nil {
		panic(err)
	}
	set, err := rules.Load(rules.Config{Prometheus: prom}, "testdata/tikv.rules.yml")
	if err != nil {
		panic(err)
	}
	fmt.Println("evaluate every", set.Interval())
	for _, inv := range set.Invariants()[:3] {
		fmt.Printf("%s: for %v, %v\n", inv.Name, inv.Grace, inv.Severity)
	}
	// Output:
	// evaluate every 15s
	// tikv/TiKV_memory_used_too_fast: for 5m0s, critical
	// tikv/TiKV_write_stall: for 1m0s, critical
	// tikv/TiKV_raft_log_lag: for 1m0s, critical
}
