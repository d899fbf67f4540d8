package realpd_test

import (
	"fmt"
	"time"

	"github.com/kvops/operator/internal/realpd"
)

// The simulator configuration of a small, fast cluster. In a test,
// realpd.Start(t, cfg) writes it, starts PD and the simulator on it and
// waits until the stores are Up; cfg.MaxStoreDownTime is set in PD itself.
func ExampleSimulatorConfig() {
	cfg := realpd.Config{Stores: 3, Regions: 60, MaxStoreDownTime: 30 * time.Second}
	fmt.Print(realpd.SimulatorConfig(cfg))
	// Output:
	// case-name = "stable"
	// total-store = 3
	// total-region = 60
	// sim-tick-interval = "100ms"
	//
	// [raftstore]
	// pd-heartbeat-tick-interval = "5s"
	// pd-store-heartbeat-tick-interval = "10s"
}
