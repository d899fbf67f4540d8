//go:build unix

package main

import (
	"syscall"
	"time"
)

// usage is the process's CPU time so far (user and system) and its peak
// resident set size in bytes, from getrusage(RUSAGE_SELF): this process
// only, not its children (the simulator and Prometheus).
func usage() (cpu time.Duration, peakRSS int64) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, 0
	}
	cpu = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	return cpu, maxrssBytes(ru.Maxrss)
}
