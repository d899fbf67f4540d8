package subject_test

import (
	"fmt"

	"github.com/kvops/operator/subject"
)

// A reading that is missing is not zero: checks must skip it, not pass or
// fail on it.
func ExampleValue() {
	m := subject.StoreMetrics{
		Store:           1,
		WriteLatencyP99: subject.Known(0.004),
		DiskCapacity:    subject.Known(1000),
		DiskAvailable:   subject.Unknown("no series for instance tikv-1:20180"),
	}
	if p99, ok := m.WriteLatencyP99.Get(); ok {
		fmt.Printf("write p99: %.0f ms\n", p99*1000)
	}
	fmt.Println("disk usage:", m.DiskUsage())
	// Output:
	// write p99: 4 ms
	// disk usage: unknown (disk available unknown: no series for instance tikv-1:20180)
}
