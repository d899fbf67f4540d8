// Command tick measures what one operator tick costs, at the size where
// users outgrow a test cluster, side by side with the design the library
// replaces:
//
//	go run ./internal/bench/tick -stores 1000 -regions 1000000
//
// It builds a simulated cluster (tikv/tikvtest) of that size in a child
// process, backfills every store's TiKV metrics into a real Prometheus
// (promtool and prometheus must be on PATH), and runs one full Evaluate of
// every invariant tikv.Subject offers, -ticks times, 10 s of cluster time
// apart. It counts the PD requests, the Prometheus queries and the bytes
// they answered (counting http.RoundTrippers under pdclient and
// promclient), the wall time of each tick and this process's CPU time
// (getrusage: the simulator and Prometheus run in other processes, so it
// is the operator's alone), and this process's peak RSS after the ticks.
// Then it runs the seed design (seed.go), -seed-ticks times, through the
// same clients.
//
// Each tick also judges the TiKV-style alert rules of -rules (default
// promclient/rules/testdata/tikv.rules.yml, rules modelled on TiKV's
// official ones) through promclient/rules, over a Prometheus client of its
// own. Their queries are not in promQueries: with them a tick would pass
// the target of 12 Prometheus queries, which is tikv's. The line before
// the last one gives their figures:
//
//	rules=N ruleQueries=Q ruleMs=T
//
// N rules, Q the most queries any tick made for them, T the median wall
// time of judging them.
//
// The last line it prints is
//
//	stores=N regions=M pdRequests=X promQueries=Y bytesIn=Z tickMs=T clientCPUms=C peakRSSMB=R seedPDRequests=… seedPromQueries=… seedBytesIn=… seedTickMs=…
//
// per tick: pdRequests and promQueries are the most any tick made,
// bytesIn the mean, tickMs and clientCPUms the median over the ticks (the
// median, because the machine may be shared: one tick descheduled for a
// while says nothing about the library).
//
// With -soak N it runs the soak instead (soak.go): N ticks on a 5-store
// cluster with faults cycling, printing heap and goroutine figures.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/kvops/operator/invariant"
	"github.com/kvops/operator/pdclient"
	"github.com/kvops/operator/promclient"
	"github.com/kvops/operator/subject"
	"github.com/kvops/operator/tikv"
)

func main() {
	var cfg config
	flag.IntVar(&cfg.stores, "stores", 1000, "stores in the simulated cluster")
	flag.IntVar(&cfg.regions, "regions", 1_000_000, "regions in the simulated cluster")
	flag.IntVar(&cfg.ticks, "ticks", 9, "operator ticks measured")
	flag.IntVar(&cfg.seedTicks, "seed-ticks", 1, "seed-design ticks measured")
	soak := flag.Int("soak", 0, "run this many soak ticks on a 5-store cluster instead")
	flag.StringVar(&cfg.rules, "rules", "", "alert rules judged each tick (default: "+rulesFile+" under the module's root)")
	flag.StringVar(&cfg.cpuProfile, "cpuprofile", "", "write a CPU profile of the operator ticks to this file")
	flag.Parse()
	var err error
	switch {
	case os.Getenv(childEnv) != "":
		err = serveChildEnv(os.Getenv(childEnv), os.Stdin, os.Stdout)
	case *soak > 0:
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
		defer stop()
		err = runSoak(ctx, soakConfig{ticks: *soak, child: true,
			promConcurrent: promclient.DefaultConfig().MaxConcurrent, evalConcurrent: invariant.DefaultConcurrency}, os.Stdout)
	default:
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
		defer stop()
		err = runTick(ctx, cfg, os.Stdout)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "tick:", err)
		os.Exit(1)
	}
}

type config struct {
	stores, regions, ticks, seedTicks int
	cpuProfile                        string
	rules                             string // empty: rulesFile
}

// tickInterval is how far the cluster's time moves between two ticks: one
// store heartbeat.
const tickInterval = 10 * time.Second

// instanceOf is the "instance" label of a store's series: the simulator's
// stores are not scraped (their metrics are backfilled), so the label is
// the store's address, as a relabelling Prometheus would set it.
func instanceOf(s subject.Store) string { return s.Address }

// operator is the library as an embedding program uses it: a Subject over
// the two clients, its invariants in an evaluator, counters under both.
type operator struct {
	pd       *pdclient.Client
	prom     *promclient.Client
	sub      *tikv.Subject
	eval     *invariant.Evaluator
	pdCount  *counter
	prCount  *counter
	now      time.Time // the evaluation time, read by the Subject's clock
	promTime time.Time // the end of the backfilled metrics
}

func newOperator(pdURL, promURL string, promTime time.Time) (*operator, error) {
	return newOperatorWith(pdURL, promURL, promTime, 0, 0)
}

// newOperatorWith sets promclient's MaxConcurrent and the evaluator's
// concurrency (0: their defaults) and, when either is set, keeps idle every
// connection it opens, however long unused, so that no connection is
// closed and redialled between ticks (the soak counts goroutines, two per
// connection, and the transport reaps connections idle for 90 s of real
// time by default).
func newOperatorWith(pdURL, promURL string, promTime time.Time, promConcurrent, evalConcurrent int) (*operator, error) {
	o := &operator{pdCount: newCounter(), prCount: newCounter(), promTime: promTime}
	if promConcurrent > 0 || evalConcurrent > 0 {
		for _, c := range []*counter{o.pdCount, o.prCount} {
			tr := c.next.(*http.Transport)
			tr.MaxIdleConnsPerHost, tr.IdleConnTimeout = 64, 0
		}
	}
	var err error
	// The simulator is one PD at one URL: asking it for its members once a
	// minute (the client's default) would add a request to whichever tick
	// it falls on, by chance.
	o.pd, err = pdclient.New(pdclient.Config{Endpoints: []string{pdURL}, HTTPClient: &http.Client{Transport: o.pdCount}, MembersRefreshInterval: -1})
	if err != nil {
		return nil, err
	}
	if promURL != "" {
		o.prom, err = promclient.New(promclient.Config{
			Address: promURL, RoundTripper: o.prCount, Instance: instanceOf, MaxConcurrent: promConcurrent,
			// The backfilled metrics end at promTime: read them there.
			Clock: func() time.Time { return o.promTime },
		})
		if err != nil {
			return nil, err
		}
	}
	o.sub, err = tikv.NewFromClients(o.pd, o.prom, nil, tikv.Config{Clock: func() time.Time { return o.now }})
	if err != nil {
		return nil, err
	}
	// A zero evalConcurrent takes the evaluator's default.
	o.eval, err = invariant.New(o.sub.Invariants(), invariant.Config{Concurrency: evalConcurrent})
	return o, err
}

// checkMetrics makes sure, before anything is measured, that Prometheus
// answers every store's metrics as known readings: judging unknowns would
// measure nothing.
func (o *operator) checkMetrics(ctx context.Context, stores int) error {
	ms, err := o.sub.AllStoreMetrics(ctx)
	if err != nil {
		return err
	}
	if len(ms) != stores {
		return fmt.Errorf("metrics of %d stores, want %d", len(ms), stores)
	}
	for _, m := range ms {
		for name, v := range map[string]subject.Value{"write latency": m.WriteLatencyP99, "disk usage": m.DiskUsage(),
			"CPU usage": m.CPUUsage(), "restarts": m.Restarts, "leaders": m.LeaderCount} {
			if _, ok := v.Get(); !ok {
				return fmt.Errorf("store %d: %s is %v: the backfill does not match the queries", m.Store, name, v)
			}
		}
	}
	return nil
}

func (o *operator) close() {
	o.pdCount.closeIdle()
	o.prCount.closeIdle()
}

// measure is what one tick cost.
type measure struct {
	pd, prom reading
	wall     time.Duration
	cpu      time.Duration
}

// timed runs fn and measures it.
func (o *operator) timed(fn func() error) (measure, error) {
	pd0, pr0 := o.pdCount.read(), o.prCount.read()
	cpu0, _ := usage()
	t0 := time.Now()
	err := fn()
	wall := time.Since(t0)
	cpu1, _ := usage()
	return measure{pd: o.pdCount.read().sub(pd0), prom: o.prCount.read().sub(pr0), wall: wall, cpu: cpu1 - cpu0}, err
}

// tick evaluates every invariant once at now.
func (o *operator) tick(ctx context.Context, now time.Time) (invariant.Report, measure, error) {
	o.now = now
	var rep invariant.Report
	m, err := o.timed(func() error {
		var err error
		rep, err = o.eval.Evaluate(ctx, now)
		return err
	})
	return rep, m, err
}

func runTick(ctx context.Context, cfg config, out io.Writer) error {
	end := time.Now().Truncate(time.Second)
	buildStart := time.Now()
	d, err := startChild(ctx, cfg.stores, cfg.regions, end)
	if err != nil {
		return err
	}
	defer d.Close()
	simHeap, simRSS, err := simMemory(d)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "sim: %d stores, %d regions built in %v: heap %.1f MB, RSS %.1f MB\n",
		cfg.stores, cfg.regions, time.Since(buildStart).Round(time.Millisecond), mb(simHeap), mb(simRSS))

	stores, err := storesOf(ctx, d.PDURL())
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "tick-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	promStart := time.Now()
	prom, err := startPrometheus(ctx, dir, stores, instanceOf, end)
	if err != nil {
		return err
	}
	defer prom.Stop()
	fmt.Fprintf(out, "prometheus: %d stores' metrics backfilled and served in %v\n", len(stores), time.Since(promStart).Round(time.Millisecond))

	o, err := newOperator(d.PDURL(), prom.URL, end)
	if err != nil {
		return err
	}
	defer o.close()
	if err := o.checkMetrics(ctx, len(stores)); err != nil {
		return err
	}
	rj, err := newRuleJudge(cfg.rules, prom.URL, end)
	if err != nil {
		return err
	}
	defer rj.count.closeIdle()
	fmt.Fprintf(out, "operator: %d invariants, %d alert rules\n", len(o.sub.Invariants()), rj.n)
	var ruleQueries int64
	var ruleTimes []time.Duration
	var ticks []measure
	if cfg.cpuProfile != "" {
		f, err := os.Create(cfg.cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
	}
	for i := range cfg.ticks {
		now, err := advance(d, tickInterval)
		if err != nil {
			return err
		}
		rep, m, err := o.tick(ctx, now)
		if err != nil {
			return err
		}
		if len(rep.Errors) > 0 {
			return fmt.Errorf("tick %d: %d checks failed, first %s: %w", i, len(rep.Errors), rep.Errors[0].Invariant, rep.Errors[0].Err)
		}
		fmt.Fprintf(out, "tick %d: pd=%d prom=%d bytesIn=%d wall=%v cpu=%v violations=%d\n",
			i, m.pd.requests, m.prom.requests, m.pd.bytesIn+m.prom.bytesIn, m.wall.Round(time.Microsecond), m.cpu, len(rep.Violations))
		ticks = append(ticks, m)
		rq, rt, err := rj.tick(ctx, now)
		if err != nil {
			return fmt.Errorf("tick %d: alert rules: %w", i, err)
		}
		fmt.Fprintf(out, "tick %d rules: prom=%d bytesIn=%d wall=%v\n", i, rq.requests, rq.bytesIn, rt.Round(time.Microsecond))
		ruleQueries = max(ruleQueries, rq.requests)
		ruleTimes = append(ruleTimes, rt)
	}
	_, peak := usage()
	if cfg.cpuProfile != "" {
		pprof.StopCPUProfile()
	}

	var seeds []measure
	for i := range cfg.seedTicks {
		if _, err := advance(d, tickInterval); err != nil {
			return err
		}
		var leaders map[uint64]int
		var metrics []subject.StoreMetrics
		m, err := o.timed(func() error {
			var err error
			leaders, metrics, err = seedTick(ctx, o.pd, o.prom)
			return err
		})
		if err != nil {
			return err
		}
		total := 0
		for _, n := range leaders {
			total += n
		}
		if total != cfg.regions || len(metrics) != len(stores) {
			return fmt.Errorf("seed tick %d: counted %d leaders (want %d) and %d stores' metrics (want %d)", i, total, cfg.regions, len(metrics), len(stores))
		}
		fmt.Fprintf(out, "seed tick %d: pd=%d prom=%d bytesIn=%d wall=%v cpu=%v\n",
			i, m.pd.requests, m.prom.requests, m.pd.bytesIn+m.prom.bytesIn, m.wall.Round(time.Millisecond), m.cpu)
		seeds = append(seeds, m)
	}
	simHeap, simRSS, err = simMemory(d)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "sim: heap %.1f MB, peak RSS %.1f MB\n", mb(simHeap), mb(simRSS))

	op, seed := summarize(ticks), summarize(seeds)
	if len(seeds) > 0 {
		fmt.Fprintf(out, "seed/operator: pdRequests %.0fx promQueries %.0fx bytesIn %.0fx tickMs %.0fx\n",
			ratio(seed.meanPD, op.meanPD), ratio(seed.meanProm, op.meanProm), ratio(seed.bytesIn, op.bytesIn), ratio(seed.ms, op.ms))
	}
	ruleMs := 0.0
	if len(ruleTimes) > 0 {
		ruleMs = float64(median(ruleTimes)) / float64(time.Millisecond)
	}
	fmt.Fprintf(out, "rules=%d ruleQueries=%d ruleMs=%.1f\n", rj.n, ruleQueries, ruleMs)
	fmt.Fprintf(out, "stores=%d regions=%d pdRequests=%d promQueries=%d bytesIn=%.0f tickMs=%.1f clientCPUms=%.1f peakRSSMB=%.1f seedPDRequests=%d seedPromQueries=%d seedBytesIn=%.0f seedTickMs=%.1f\n",
		cfg.stores, cfg.regions, op.maxPD, op.maxProm, op.bytesIn, op.ms, op.cpuMS, mb(peak),
		seed.maxPD, seed.maxProm, seed.bytesIn, seed.ms)
	return nil
}

// summary is the per-tick figures of several ticks.
type summary struct {
	maxPD, maxProm     int64
	meanPD, meanProm   float64
	bytesIn, ms, cpuMS float64
}

func summarize(ms []measure) summary {
	var s summary
	if len(ms) == 0 {
		return s
	}
	walls := make([]time.Duration, len(ms))
	cpus := make([]time.Duration, len(ms))
	for i, m := range ms {
		s.maxPD = max(s.maxPD, m.pd.requests)
		s.maxProm = max(s.maxProm, m.prom.requests)
		s.meanPD += float64(m.pd.requests)
		s.meanProm += float64(m.prom.requests)
		s.bytesIn += float64(m.pd.bytesIn + m.prom.bytesIn)
		walls[i], cpus[i] = m.wall, m.cpu
	}
	n := float64(len(ms))
	s.meanPD, s.meanProm, s.bytesIn = s.meanPD/n, s.meanProm/n, s.bytesIn/n
	s.ms = float64(median(walls)) / float64(time.Millisecond)
	s.cpuMS = float64(median(cpus)) / float64(time.Millisecond)
	return s
}

// median returns the middle value (the mean of the two middle ones for an
// even count).
func median(ds []time.Duration) time.Duration {
	ds = slices.Clone(ds)
	slices.Sort(ds)
	n := len(ds)
	if n%2 == 1 {
		return ds[n/2]
	}
	return (ds[n/2-1] + ds[n/2]) / 2
}

func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

func mb(b int64) float64 { return float64(b) / (1 << 20) }

// storesOf reads the stores as PD lists them, for the backfill: setup,
// not measured, through a client of its own.
func storesOf(ctx context.Context, pdURL string) ([]subject.Store, error) {
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	pd, err := pdclient.New(pdclient.Config{Endpoints: []string{pdURL}, HTTPClient: &http.Client{Transport: tr}})
	if err != nil {
		return nil, err
	}
	sub, err := tikv.NewFromClients(pd, nil, nil, tikv.Config{})
	if err != nil {
		return nil, err
	}
	return sub.Stores(ctx)
}

// simMemory asks the simulator for its heap after GC and its peak RSS.
func simMemory(d driver) (heap, rss int64, err error) {
	out, err := d.Do("mem")
	if err != nil {
		return 0, 0, err
	}
	f := strings.Fields(out)
	if len(f) != 2 {
		return 0, 0, fmt.Errorf("%w: mem answered %q", errChild, out)
	}
	heap, err1 := strconv.ParseInt(f[0], 10, 64)
	rss, err2 := strconv.ParseInt(f[1], 10, 64)
	return heap, rss, errors.Join(err1, err2)
}
