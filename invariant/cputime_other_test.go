//go:build !unix

package invariant

import "time"

// cpuTime is not measured on this system: benchmarks report 0 cpu-ns/op.
func cpuTime() time.Duration { return 0 }
