// Command record measures what recording costs: the time and the peak
// memory to record a window of a simulated 1,000-store cluster, for
// windows of growing length, so that one sees the memory not grow with the
// window.
//
//	go run ./internal/bench/record -stores 1000 -regions 20000 -windows 15m,1h
//
// 20,000 regions by default keep an hour's recording within a few minutes
// on two cores: each read of every region costs the simulator's encoding
// and the recorder's decoding of all of them; the time grows with regions
// times reads (-regions-every), the memory with regions only (a digest
// each) and with the largest PD answer.
//
// The cluster is tikvtest's, on its own clock, its PD served over
// httptest in this process; the recorder reads it every -interval (PD's
// paths, record.DefaultPaths) and reads every region every -regions-every,
// as record.Record does by default. A store stops a quarter into each
// window and starts again at three quarters, so that the regions change
// and PD's answers with them. The recording goes to a file in a temporary
// directory, removed after.
//
// Series are not recorded: they would come from a Prometheus (a range
// query per selector per chunk), whose cost is Prometheus' and whose
// memory the recorder bounds by -series-every; a 1,000-store history of
// tikvtest does not fit this process besides the cluster.
//
// Time is the wall clock and the CPU time of the whole recording, the simulated cluster's
// ticks and PD answers included (they run in this process, and cost about
// as much as the recording itself). Peak memory is the peak Go heap in
// use during the window (sampled every 20 ms) and the process' peak RSS
// (VmHWM, reset before each window), both including the cluster's own,
// whose baseline (after a GC, before recording) is printed first.
//
// Measured on the shared 2-core machine, 1,000 stores and 20,000
// regions, at 15 s evaluations, every region every minute: 15 minutes
// recorded in 53 s (53 s of CPU: 61 evaluations, 76 PD answers written and
// 900 left out unchanged, 16 reads of every region), heap peak 120 MiB,
// RSS peak 135 MiB, 46 MiB of file; one hour in 179 s (179 s of CPU: 241
// evaluations, 256 answers written, 61 reads), heap peak 149 MiB, RSS
// peak 165 MiB, 148 MiB of file. The cluster itself takes 33 MiB of heap
// (43 MiB RSS) before recording. The time grows with the window, the
// memory hardly; the file is mostly the stores answer (0.6 MB), which
// changes at every evaluation (the heartbeats) and so is written each time.
//
// Its last line is
//
//	stores=N regions=R window=W seconds=S cpuSeconds=C heapPeakMiB=H rssPeakMiB=P fileMiB=F
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/kvops/operator/pdclient"
	"github.com/kvops/operator/tikv/record"
	"github.com/kvops/operator/tikv/tikvtest"
)

func main() {
	stores := flag.Int("stores", 1000, "simulated stores")
	regions := flag.Int("regions", 20000, "simulated regions")
	windows := flag.String("windows", "15m,1h", "comma-separated window lengths, each recorded in turn")
	interval := flag.Duration("interval", record.DefaultInterval, "time between evaluations")
	regionsEvery := flag.Duration("regions-every", record.DefaultRegionsEvery, "time between two reads of every region")
	flag.Parse()
	if err := run(*stores, *regions, *windows, *interval, *regionsEvery); err != nil {
		fmt.Fprintln(os.Stderr, "record:", err)
		os.Exit(1)
	}
}

type fixed time.Time

func (f fixed) Now() time.Time { return time.Time(f) }

// clock advances the cluster, stopping a store a quarter into the window
// and starting it at three quarters.
type clock struct {
	cl         *tikvtest.Cluster
	start      time.Time
	window     time.Duration
	stopped    bool
	restarted  bool
	faultError error
}

func (c *clock) Now() time.Time { return c.cl.Now() }

func (c *clock) Sleep(ctx context.Context, d time.Duration) error {
	c.cl.Advance(d)
	el := c.cl.Now().Sub(c.start)
	if !c.stopped && el >= c.window/4 {
		c.stopped, c.faultError = true, c.cl.StopStore(2)
	}
	if !c.restarted && el >= 3*c.window/4 {
		c.restarted, c.faultError = true, errors.Join(c.faultError, c.cl.StartStore(2))
	}
	if c.faultError != nil {
		return c.faultError
	}
	return ctx.Err()
}

func run(stores, regions int, windows string, interval, regionsEvery time.Duration) error {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	t0 := time.Now()
	cl, err := tikvtest.NewUnstartedCluster(tikvtest.Config{Stores: stores, Regions: regions, Clock: fixed(start)})
	if err != nil {
		return err
	}
	defer cl.Close()
	srv := httptest.NewServer(cl.PDHandler())
	defer srv.Close()
	pc := pdclient.DefaultConfig()
	pc.Endpoints = []string{srv.URL}
	pc.MembersRefreshInterval = -1
	pc.MaxAttempts = 1
	pd, err := pdclient.New(pc)
	if err != nil {
		return err
	}
	defer pd.CloseIdleConnections()
	dir, err := os.MkdirTemp("", "bench-record-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	runtime.GC()
	base := heapInUse()
	fmt.Printf("cluster of %d stores and %d regions built in %v: heap %.0f MiB, RSS %.0f MiB before recording\n",
		stores, regions, time.Since(t0).Round(time.Millisecond), mib(base), mib(rss("VmRSS")))

	var last string
	for _, ws := range strings.Split(windows, ",") {
		window, err := time.ParseDuration(strings.TrimSpace(ws))
		if err != nil {
			return err
		}
		runtime.GC()
		_ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) // resets VmHWM (Linux)
		var peak atomic.Uint64
		done := make(chan struct{})
		sampled := make(chan struct{})
		go func() {
			defer close(sampled)
			t := time.NewTicker(20 * time.Millisecond)
			defer t.Stop()
			for {
				if h := heapInUse(); h > peak.Load() {
					peak.Store(h)
				}
				select {
				case <-done:
					return
				case <-t.C:
				}
			}
		}()
		path := filepath.Join(dir, "recording.jsonl")
		f, err := os.Create(path)
		if err != nil {
			return err
		}
		c := &clock{cl: cl, start: cl.Now(), window: window}
		began, cpu0 := time.Now(), cpuTime()
		sum, err := record.Record(context.Background(), f, record.Config{PD: pd, Clock: c, Interval: interval,
			Duration: window, RegionsEvery: regionsEvery})
		took, cpu := time.Since(began), cpuTime()-cpu0
		close(done)
		<-sampled
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
		st, err := os.Stat(path)
		if err != nil {
			return err
		}
		fmt.Printf("window %v: %d evaluations, %d PD answers written (%d unchanged), %d region reads (%d lines), %d lines, %.1f MiB, in %v\n",
			window, sum.Evaluations, sum.PDAnswers, sum.PDUnchanged, sum.RegionReads, sum.RegionLines, sum.Entries,
			mib(uint64(st.Size())), took.Round(time.Millisecond))
		last = fmt.Sprintf("stores=%d regions=%d window=%v seconds=%.1f cpuSeconds=%.1f heapPeakMiB=%.0f rssPeakMiB=%.0f fileMiB=%.1f",
			stores, regions, window, took.Seconds(), cpu.Seconds(), mib(peak.Load()), mib(rss("VmHWM")), mib(uint64(st.Size())))
		fmt.Println(last)
	}
	return nil
}

// cpuTime is the process' user and system CPU time so far: on a shared
// machine the wall time also counts waiting for a CPU.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func heapInUse() uint64 {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}

// rss reads a field of /proc/self/status in bytes; 0 elsewhere.
func rss(field string) uint64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			kb, _ := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}

func mib(b uint64) float64 { return float64(b) / (1 << 20) }
