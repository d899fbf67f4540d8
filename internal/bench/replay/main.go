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
//	window=1h0m0s metrics=true ticks=241 replayMs=… msPerTick=… speedup=… peakRSSMB=… actions=…
//
// replayMs is the wall time of replay.Run (with metrics, the backfill
// included), speedup the window over it, peakRSSMB the child's peak RSS
// (getrusage), actions the actions the operator asked for.
//
// Measured with the defaults (1,000 stores; regions reduced to 10,000,
// since recording a million regions' deltas every 15 s for an hour is
// the simulator's limit, not the replay's; 15 series per store), on 2
// cores shared with other jobs: the recording took 9m37s and is 422 MB.
//
//	window  metrics  ticks  replay   ms/tick  speed-up  peak RSS
//	15m     no          61    8.6 s      141     105×    271 MB
//	30m     no         121   16.2 s      134     111×    271 MB
//	1h      no         241   31.1 s      129     116×    271 MB
//	15m     yes         61   82.1 s     1345      11×    628 MB
//	30m     yes        121   87.5 s      723      21×    614 MB
//	1h      yes        241  221.1 s      917      16×    633 MB
//
// Without metrics the time grows with the window and the memory does
// not (the replay holds the current state only). With metrics about 70 s
// and most of the memory are the backfill, which reads every series of
// the whole recording whatever the window (tikvtest.ReadHistory holds
// them in a History before promtool writes the blocks); the rest is
// Prometheus answering 10 queries over 1,000 stores each tick.
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
	if err := run(*stores, *regions, *window, *windows, *buckets, *dir); err != nil {
		fmt.Fprintln(os.Stderr, "replay:", err)
		os.Exit(1)
	}
}

func run(stores, regions int, window time.Duration, windows string, buckets int, dir string) error {
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
	rec, err := makeRecording(context.Background(), path, stores, regions, window, buckets)
	if err != nil {
		return err
	}
	fmt.Printf("recorded stores=%d regions=%d window=%v bytes=%d recordMs=%d pdMs=%d seriesMs=%d pdAnswers=%d regionReads=%d series=%d samples=%d\n",
		stores, regions, window, rec.bytes, time.Since(t0).Milliseconds(), rec.pdMs, rec.seriesMs,
		rec.sum.PDAnswers, rec.sum.RegionReads, rec.sum.Series, rec.sum.Samples)
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
			fmt.Printf("%s peakRSSMB=%d\n", line, rss>>20)
		}
	}
	return nil
}
