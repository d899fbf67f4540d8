package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/kvops/operator/invariant"
	"github.com/kvops/operator/subject"
	"github.com/kvops/operator/tikv/replay"
	"github.com/kvops/operator/tikv/tikvtest"
)

// replayChild replays window of the recording at path and prints one
// line of figures, or "skip" when metrics are asked for and Prometheus
// is missing.
func replayChild(path string, window time.Duration, metrics bool) error {
	done := map[uint64]bool{}
	actions := 0
	op := replay.OperatorFunc(func(ctx context.Context, t replay.Tick) error {
		for _, a := range t.Report.Violations {
			if a.State != invariant.StateFiring {
				continue
			}
			id, err := strconv.ParseUint(a.Labels["store"], 10, 64)
			if err != nil || done[id] {
				continue
			}
			actions++
			if _, err := t.Actor.EvictLeaders(ctx, subject.StoreID(id)); err == nil {
				done[id] = true
			}
		}
		return nil
	})
	t0 := time.Now()
	tl, err := replay.Run(context.Background(), replay.Config{
		Open:      func() (io.ReadCloser, error) { return os.Open(path) },
		Operator:  op,
		End:       start.Add(window),
		NoMetrics: !metrics,
	})
	if errors.Is(err, tikvtest.ErrNoPrometheus) {
		fmt.Println("skip")
		return nil
	}
	if err != nil {
		return err
	}
	el := time.Since(t0)
	fmt.Printf("window=%v metrics=%v ticks=%d replayMs=%d msPerTick=%.1f speedup=%.0f actions=%d",
		window, metrics, len(tl.Ticks), el.Milliseconds(), float64(el.Milliseconds())/float64(len(tl.Ticks)),
		window.Seconds()/el.Seconds(), actions)
	if hwm := vmHWM(); hwm > 0 {
		fmt.Printf(" hwmMB=%d", hwm>>20)
	}
	return nil
}

// vmHWM is this process' peak RSS since its exec (VmHWM in
// /proc/self/status, Linux); 0 elsewhere. Unlike the parent's ru_maxrss
// of the child, it does not count the parent's RSS at the fork.
func vmHWM() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}
