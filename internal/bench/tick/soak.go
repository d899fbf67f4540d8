package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"time"
)

// The soak: consecutive ticks on the 5-store simulator with faults
// cycling, on an injected clock: each tick moves the cluster's time on by
// tickInterval and evaluates at that time, with no real-time wait. It
// watches the operator process for growth: its heap after a GC and its
// goroutine count, at marks taken at the same point of the fault cycle.

const (
	soakStores  = 5
	soakRegions = 200
	// faultCycle is the length of the fault cycle, in ticks (10 minutes
	// of cluster time). Each cycle picks the next store.
	faultCycle = 60
	// pdElection is how long the simulated PD has no leader after a
	// leader change (tikvtest.Config.PDElection's default).
	pdElection = 12 * time.Second
)

// faultAt returns the command that the fault cycle runs before tick i,
// or "". Each cycle leaves the cluster as it found it: a store is stopped
// for 2 minutes (Disconnected, its leaders moved), made slow, its disk
// filled, and PD's leadership moves.
func faultAt(i int) string {
	s := i/faultCycle%soakStores + 1
	switch i % faultCycle {
	case 0:
		return fmt.Sprintf("stop %d", s)
	case 12:
		return fmt.Sprintf("start %d", s)
	case 18:
		return fmt.Sprintf("slow %d 300ms", s)
	case 24:
		return fmt.Sprintf("slow %d 0s", s)
	case 30:
		return fmt.Sprintf("fill %d 0.95", s)
	case 36:
		return fmt.Sprintf("clear %d", s)
	case 42:
		return "pdleader"
	}
	return ""
}

type soakConfig struct {
	ticks int
	// marks are the ticks after which heap and goroutines are read;
	// default 100 and ticks.
	marks []int
	// child runs the simulator in a child process (the program); the
	// test runs it in its own process.
	child bool
	// promConcurrent is promclient's MaxConcurrent and evalConcurrent the
	// evaluator's concurrency (defaults: theirs).
	promConcurrent, evalConcurrent int
}

// soakMark is the operator process's state after a tick.
type soakMark struct {
	tick       int
	heap       uint64 // bytes, after a GC
	goroutines int
}

// soakResult is what a soak saw.
type soakResult struct {
	marks []soakMark
	// failedChecks counts the checks that failed over the soak, except
	// while PD elects a leader; the simulated PD and Prometheus stay
	// reachable otherwise, so it should be 0.
	failedChecks int
	// electionChecks counts the checks that failed while PD had no
	// leader, as a real PD's followers answer 500 then.
	electionChecks int
	// firing counts the ticks that ended with a firing or pending alert:
	// the faults must be seen.
	violations int
}

func soak(ctx context.Context, cfg soakConfig) (soakResult, error) {
	var res soakResult
	if len(cfg.marks) == 0 {
		cfg.marks = []int{100, cfg.ticks}
		for q := 1; q < 4; q++ {
			if t := cfg.ticks * q / 4; t > 100 {
				cfg.marks = append(cfg.marks, t)
			}
		}
		slices.Sort(cfg.marks)
	}
	end := time.Now().Truncate(time.Second)
	var d driver
	var err error
	if cfg.child {
		d, err = startChild(ctx, soakStores, soakRegions, end)
	} else {
		d, err = startLocal(soakStores, soakRegions, end)
	}
	if err != nil {
		return res, err
	}
	defer d.Close()
	stores, err := storesOf(ctx, d.PDURL())
	if err != nil {
		return res, err
	}
	dir, err := os.MkdirTemp("", "tick-soak-")
	if err != nil {
		return res, err
	}
	defer os.RemoveAll(dir)
	prom, err := startPrometheus(ctx, dir, stores, instanceOf, end)
	if err != nil {
		return res, err
	}
	defer prom.Stop()
	o, err := newOperatorWith(d.PDURL(), prom.URL, end, cfg.promConcurrent, cfg.evalConcurrent)
	if err != nil {
		return res, err
	}
	defer o.close()
	if err := o.checkMetrics(ctx, len(stores)); err != nil {
		return res, err
	}
	var electionEnds time.Time
	for i := 1; i <= cfg.ticks; i++ {
		if f := faultAt(i); f != "" {
			if _, err := d.Do(f); err != nil {
				return res, err
			}
			if f == "pdleader" {
				electionEnds = o.now.Add(pdElection)
			}
		}
		now, err := advance(d, tickInterval)
		if err != nil {
			return res, err
		}
		o.now = now
		rep, err := o.eval.Evaluate(ctx, now)
		if err != nil {
			return res, err
		}
		if now.Before(electionEnds) {
			res.electionChecks += len(rep.Errors)
		} else {
			res.failedChecks += len(rep.Errors)
		}
		if len(rep.Violations) > 0 {
			res.violations++
		}
		if slices.Contains(cfg.marks, i) {
			runtime.GC()
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			res.marks = append(res.marks, soakMark{tick: i, heap: ms.HeapAlloc, goroutines: runtime.NumGoroutine()})
		}
	}
	return res, nil
}

func runSoak(ctx context.Context, cfg soakConfig, out io.Writer) error {
	t0 := time.Now()
	res, err := soak(ctx, cfg)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "soak: %d ticks (%v of cluster time) in %v; ticks with violations %d, failed checks %d (and %d while PD had no leader)\n",
		cfg.ticks, time.Duration(cfg.ticks)*tickInterval, time.Since(t0).Round(time.Millisecond), res.violations, res.failedChecks, res.electionChecks)
	if len(res.marks) < 2 || res.marks[0].tick != 100 {
		return fmt.Errorf("soak: marks %v: run more than 100 ticks", res.marks)
	}
	for _, m := range res.marks {
		fmt.Fprintf(out, "soak mark: tick %d heap %d goroutines %d\n", m.tick, m.heap, m.goroutines)
	}
	a, b := res.marks[0], res.marks[len(res.marks)-1]
	fmt.Fprintf(out, "soak ticks=%d heap%d=%d heap%d=%d goroutines%d=%d goroutines%d=%d\n",
		cfg.ticks, a.tick, a.heap, b.tick, b.heap, a.tick, a.goroutines, b.tick, b.goroutines)
	return nil
}
