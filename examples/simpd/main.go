// Command simpd runs the simulated TiKV cluster of package tikvtest as a
// process of its own: PD's HTTP API on a port, each TiKV store's metrics
// endpoint, and a real Prometheus scraping them, all outliving the
// programs pointed at them. An operator can then be killed and started
// again against a cluster that carried on meanwhile, and examples/watch,
// examples/mcp, curl or pd-ctl can be pointed at it as at a real PD:
//
//	go run ./examples/simpd                      # PD at 127.0.0.1:2379, the demo's faults
//	go run ./examples/watch -pd http://127.0.0.1:2379 -prometheus http://127.0.0.1:PORT
//	curl http://127.0.0.1:2379/pd/api/v1/stores
//
// The cluster is examples/watch's: five stores and 200 regions, advancing
// on real time (-speed N runs its clock N times as fast: the times PD
// reports, heartbeats and operator start times, then run ahead of the
// wall clock, by (N-1) times the time since start), with the same
// fault schedule (tikvtest.DemoScenario: a store stops, another turns
// slow, a disk fills, each recovers, the PD leader changes); -scenario
// none injects nothing. PD's behaviour is tikvtest's: the shapes and
// status codes of a real PD v8.5.0, its schedulers, operators and
// maintenance lock (see package tikvtest).
//
// Every line simpd writes to stdout is one JSON object. The first, once
// everything listens, says where:
//
//	{"event":"ready","pd":"http://127.0.0.1:2379","prometheus":"http://127.0.0.1:41234",
//	 "stores":{"1":"127.0.0.1:40001",...},"pd_metrics":["127.0.0.1:40011",...],"speed":1,"scenario":"demo"}
//
// "prometheus" is left out when none runs (-no-prometheus, or no
// prometheus binary on PATH, which stderr then says). -addr 127.0.0.1:0
// takes a free port, which the line gives: scripts and tests read it
// rather than pick a port themselves. Then come the faults as they are
// injected ({"event":"fault","at":"3s","what":"store 2 stops"}), each
// request that changes PD ({"event":"request","method":"POST",
// "path":"/pd/api/v1/schedulers","status":200}) and each request to the
// control API ({"event":"control",...}).
//
// The control API, beside PD's under /simpd/v1, is the cluster's process
// manager and fault injector, for scripts and tests:
//
//	POST /simpd/v1/stores/{id}/stop      the store's TiKV stops (its metrics endpoint refuses connections)
//	POST /simpd/v1/stores/{id}/start     it starts again
//	POST /simpd/v1/stores/{id}/restart   it restarts
//	POST /simpd/v1/stores/{id}/stuck-leaders?count=N
//	                                     N of its leaders stay put: an eviction leaves them behind (0 frees them)
//	POST /simpd/v1/pd-leader-change      PD's leader changes
//	GET  /simpd/v1/status                the ready line, and the cluster's time
//
// -recording FILE serves a recorded incident (package tikv/record, as
// examples/record writes it; gunzipped when its name ends in .gz) instead of the simulated cluster: PD's
// answers as tikvtest.Replay serves them, on a replay clock that starts
// at the recording's first evaluation (or -start: a time, or a duration
// from the recording's start) when simpd starts reading it and runs
// -speed times as fast as real time; writes are refused (403), as the
// control API but GET /simpd/v1/status (404). The recording's series,
// from the replay's start on, are backfilled into a real Prometheus,
// each sample moved to the real time at which the replay's clock reads
// its time: a program querying at its own time (examples/watch -pd ...
// -prometheus ...) reads what the recorded Prometheus answered at the
// replay's. With -speed N the series are squeezed N times, so a rate
// reads N times as high (a histogram's quantiles do not change). The
// ready line adds "recording", "replay_start" and "recording_end", and
// "prometheus" when one runs; the stores' endpoints are not served.
//
//	go run ./examples/simpd -recording incident.jsonl -speed 10 -addr 127.0.0.1:0
//
// SIGINT or SIGTERM stops it: Prometheus first, then the cluster. Killed
// with SIGKILL, it takes its Prometheus with it (on Linux).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// options are the command line's.
type options struct {
	addr         string
	stores       int
	regions      int
	seed         int64
	speed        float64
	tick         time.Duration
	scenario     string
	noPrometheus bool
	scrape       time.Duration
	recording    string
	start        string
}

func main() {
	var o options
	flag.StringVar(&o.addr, "addr", "127.0.0.1:2379", "serve PD's API (and the control API) on this `host:port`; port 0 takes a free one, printed in the first line")
	flag.IntVar(&o.stores, "stores", 5, "TiKV stores")
	flag.IntVar(&o.regions, "regions", 200, "regions")
	flag.Int64Var(&o.seed, "seed", 0, "seed of the synthetic workload")
	flag.Float64Var(&o.speed, "speed", 1, "how many times as fast as real time the cluster's clock runs")
	flag.DurationVar(&o.tick, "tick", 100*time.Millisecond, "real time between two ticks of the cluster")
	flag.StringVar(&o.scenario, "scenario", "demo", "faults to inject: demo (examples/watch's) or none")
	flag.BoolVar(&o.noPrometheus, "no-prometheus", false, "start no Prometheus")
	flag.DurationVar(&o.scrape, "scrape", time.Second, "Prometheus' scrape interval")
	flag.StringVar(&o.recording, "recording", "", "serve this recording (tikv/record) instead of the simulated cluster")
	flag.StringVar(&o.start, "start", "", "with -recording: the replay's first time, RFC 3339 or a duration from the recording's start (default its first evaluation)")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o, os.Stdout, os.Stderr); err != nil && !errors.Is(err, context.Canceled) {
		fmt.Fprintln(os.Stderr, "simpd:", err)
		if errors.Is(err, errUsage) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

// errUsage is a command line simpd cannot run.
var errUsage = errors.New("usage")

// run serves until ctx ends, writing its JSON lines to stdout and notes
// for a person to stderr.
func run(ctx context.Context, o options, stdout, stderr io.Writer) error {
	if err := o.check(); err != nil {
		return err
	}
	if o.recording != "" {
		return runRecording(ctx, o, stdout, stderr)
	}
	out := newEvents(stdout)
	srv, err := startCluster(ctx, o, out, stderr)
	if err != nil {
		return err
	}
	defer srv.close()
	srv.mu.Lock()
	out.write(srv.ready)
	srv.mu.Unlock()
	srv.tick(o, out)
	<-ctx.Done()
	return nil
}

func (o options) check() error {
	switch {
	case o.start != "" && o.recording == "":
		return fmt.Errorf("%w: -start is for -recording", errUsage)
	case o.speed <= 0:
		return fmt.Errorf("%w: -speed %v: want more than 0", errUsage, o.speed)
	case o.tick <= 0:
		return fmt.Errorf("%w: -tick %v: want more than 0", errUsage, o.tick)
	case o.scrape <= 0:
		return fmt.Errorf("%w: -scrape %v: want more than 0", errUsage, o.scrape)
	case o.scenario != "demo" && o.scenario != "none":
		return fmt.Errorf("%w: -scenario %q: want demo or none", errUsage, o.scenario)
	}
	return nil
}
