// Command replay measures what replaying a recorded incident costs
// (package tikv/replay): the time and the peak memory to replay a window
// of a large cluster's recording against an operator, for several window
// lengths:
//
//	go run ./internal/bench/replay -stores 1000 -regions 10000 -window 1h -windows 15m,30m,1h
//
// It first records a simulated cluster (tikv/tikvtest) of that size on a
// simulated clock with record.Recorder, every 15 s of it for -window, with
// a store stopped a third of the way in (PD's record.DefaultPaths at each
// evaluation, every region every minute, as a whole read then what
// changed), and, for each store, the series tikv's store invariants
// query, made up by the program: up, disk capacity and available, CPU,
// CPU quota, raftstore CPU, leader and region counts, start time and a
// write-latency histogram of -buckets buckets, backfilled into a real
// Prometheus and read back by the recorder's range queries. It prints the
// recording's size, what it holds and the time it took.
//
// Then, for each window length, it replays that much of the recording in
// a child process (so that the figure is the replay's alone), once
// without metrics (PD's state only) and once with them (the series
// backfilled into a real Prometheus, which needs prometheus and promtool
// on PATH; skipped otherwise), with an operator that evicts the leaders
// of a store once an alert about it fires. Each line:
//
//	window=1h0m0s metrics=true ticks=241 replayMs=… msPerTick=… speedup=… actions=… hwmMB=… ruMaxrssMB=…
//
// replayMs is the wall time of replay.Run (with metrics, the backfill
// included), speedup the window over it, actions the actions the
// operator asked for, hwmMB the child's own peak RSS (VmHWM, Linux), and
// ruMaxrssMB its ru_maxrss as the parent sees it, which on Linux counts
// the parent's RSS at the fork (the recorder's, here) and so is a floor,
// not the replay's figure. Prometheus, a process of its own, is in
// neither. -dir D -reuse replays the recording already in D.
//
// Measured with the defaults (1,000 stores; 10,000 regions; 15 series per
// store: 15,000 series, 3.6 million samples over the hour, written as
// 89,958 series lines in 10-minute chunks) on 2 cores shared with other
// jobs: the recording took 170 s (151 s recording PD: 241 evaluations,
// 297 PD answers written, 61 reads of every region; 19 s the backfill of
// the made-up series and the recorder's range queries) and is 253 MiB.
//
//	window  metrics  ticks  replay   ms/tick  speed-up  peak RSS (VmHWM)
//	15m     no          61    1.5 s       25      594×     55 MB
//	1h      no         241   17.7 s       74      203×     54 MB
//	15m     yes         61   24.5 s      401       37×    154 MB
//	1h      yes        241   65.0 s      270       55×    400 MB
//
// Without metrics the memory does not grow with the window (the replay
// holds the current state only); the time per tick grows once the store
// stops (a third in) and the operator asks for actions. With metrics the
// backfill reads only the window's series (and 5 minutes before it):
// 154 MB for 15 minutes, 400 MB for the hour, the samples held in a
// tikvtest.History until promtool has written them; the rest of the time
// is Prometheus answering 10 queries over 1,000 stores each tick. (Before
// the window was applied, every replay held the whole recording's series:
// 82 s for 15 minutes.)
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

func main() {
	stores := flag.Int("stores", 1000, "stores in the recorded cluster")
	regions := flag.Int("regions", 10000, "regions in the recorded cluster")
	window := flag.Duration("window", time.Hour, "length of the recording")
	windows := flag.String("windows", "15m,30m,1h", "window lengths to replay, comma-separated")
	buckets := flag.Int("buckets", 6, "buckets of each store's write-latency histogram")
	dir := flag.String("dir", "", "where the recording is written (default: a temporary directory, removed at the end)")
	reuse := flag.Bool("reuse", false, "with -dir: replay the recording already there instead of recording again")
	child := flag.String("child", "", "internal: replay this recording")
	childWindow := flag.Duration("child-window", 0, "internal: window to replay")
	childMetrics := flag.Bool("child-metrics", false, "internal: replay with metrics")
	flag.Parse()
	if *child != "" {
		if err := replayChild(*child, *childWindow, *childMetrics); err != nil {
			fmt.Fprintln(os.Stderr, "replay:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(*stores, *regions, *window, *windows, *buckets, *dir, *reuse); err != nil {
		fmt.Fprintln(os.Stderr, "replay:", err)
		os.Exit(1)
	}
}

func run(stores, regions int, window time.Duration, windows string, buckets int, dir string, reuse bool) error {
	if dir == "" {
		d, err := os.MkdirTemp("", "bench-replay-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		dir = d
	}
	path := filepath.Join(dir, "recording.jsonl")
	t0 := time.Now()
	if reuse {
		fmt.Println("replaying", path)
	} else if err := recordCluster(path, stores, regions, window, buckets, t0); err != nil {
		return err
	}
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	for _, w := range strings.Split(windows, ",") {
		d, err := time.ParseDuration(strings.TrimSpace(w))
		if err != nil {
			return err
		}
		for _, metrics := range []bool{false, true} {
			cmd := exec.Command(exe, "-child", path, "-child-window", d.String(), fmt.Sprintf("-child-metrics=%v", metrics))
			cmd.Stderr = os.Stderr
			out, err := cmd.Output()
			if err != nil {
				return fmt.Errorf("child (window %v, metrics %v): %w", d, metrics, err)
			}
			line := strings.TrimSpace(string(out))
			if line == "skip" {
				fmt.Printf("window=%v metrics=%v skipped: prometheus or promtool not on PATH\n", d, metrics)
				continue
			}
			var rss int64
			if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
				rss = maxrssBytes(ru.Maxrss)
			}
			fmt.Printf("%s ruMaxrssMB=%d\n", line, rss>>20)
		}
	}
	return nil
}

// recordCluster records the cluster into path and prints what it holds.
func recordCluster(path string, stores, regions int, window time.Duration, buckets int, t0 time.Time) error {
	rec, err := makeRecording(context.Background(), path, stores, regions, window, buckets)
	if err != nil {
		return err
	}
	fmt.Printf("recorded stores=%d regions=%d window=%v bytes=%d recordMs=%d pdMs=%d seriesMs=%d pdAnswers=%d regionReads=%d series=%d samples=%d\n",
		stores, regions, window, rec.bytes, time.Since(t0).Milliseconds(), rec.pdMs, rec.seriesMs,
		rec.sum.PDAnswers, rec.sum.RegionReads, rec.sum.Series, rec.sum.Samples)
	return nil
}
