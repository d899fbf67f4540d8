// Command watch watches a TiKV cluster: it prints the stores and every
// invariant transition (pending -> firing -> resolved) as it happens.
//
// With no -pd flag it starts a simulated five-store cluster and, when a
// prometheus binary is on the PATH, a real Prometheus scraping it. It then
// injects faults on a schedule (a store stops, another turns slow, a disk
// fills, the PD leader changes, then each recovers), with grace periods of
// a few seconds, so that within about a minute you see invariants go
// pending, fire and resolve. Midway the operator evicts a store's leaders
// and then restores them: while the eviction waits, its progress (leaders
// left, time against the bound) is one line redrawn under the others on a
// terminal, plain lines otherwise, and objects of type "progress" with
// -json:
//
//	go run ./examples/watch
//
// Against a real cluster (tiup playground's defaults shown):
//
//	go run ./examples/watch -pd http://127.0.0.1:2379 -prometheus http://127.0.0.1:9090
//
// A cluster without Prometheus is judged on PD's view alone with
// -no-prometheus: the four metric invariants (write latency, disk, CPU,
// restarts) are left out instead of failing on every tick.
//
// -json prints one JSON object per line instead of text, for other
// programs to read. -rules FILE (repeatable, or comma-separated) adds the
// alerting rules of Prometheus rule files, such as TiKV's tikv.rules.yml
// and PD's pd.rules.yml, to what is watched: they are judged in process
// through the same Prometheus.
//
// -alertmanager URL (or several, comma-separated) sends the alerts to
// Alertmanager's API v2 as Prometheus does: firing ones when they fire and
// every minute after, resolved ones when they resolve. See package
// invariant/alertmanager.
//
// -metrics-addr 127.0.0.1:PORT serves the operator's own metrics at
// http://127.0.0.1:PORT/metrics, for a Prometheus to scrape: its
// evaluations, alerts by state, check errors, PD requests and Prometheus
// queries (package tikv/opmetrics), with the Go runtime's and the
// process's.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/kvops/operator/invariant"
	"github.com/kvops/operator/invariant/alertmanager"
	"github.com/kvops/operator/pdclient"
	"github.com/kvops/operator/promclient"
	"github.com/kvops/operator/promclient/rules"
	"github.com/kvops/operator/tikv"
)

type options struct {
	pd           string
	prometheus   string
	noPrometheus bool
	interval     time.Duration
	grace        time.Duration
	writeLatency time.Duration
	disk         float64
	cpu          float64
	duration     time.Duration
	json         bool
	rules        fileList
	alertmanager string
	metricsAddr  string
}

// fileList is a repeatable flag of file names; each value may also list
// several, comma-separated.
type fileList []string

func (l *fileList) String() string { return strings.Join(*l, ",") }

func (l *fileList) Set(v string) error {
	for f := range strings.SplitSeq(v, ",") {
		if f != "" {
			*l = append(*l, f)
		}
	}
	return nil
}

func main() {
	var o options
	flag.StringVar(&o.pd, "pd", "", "PD endpoints, comma-separated; empty watches a simulated cluster")
	flag.StringVar(&o.prometheus, "prometheus", "", "Prometheus address (default http://127.0.0.1:9090 with -pd; a local prometheus started for the simulated cluster)")
	flag.BoolVar(&o.noPrometheus, "no-prometheus", false, "with -pd: read no metrics, leave out the invariants that need them")
	flag.DurationVar(&o.interval, "interval", 0, "how often to evaluate (default 1s simulated, 15s real)")
	flag.DurationVar(&o.grace, "grace", 0, "grace period of the latency, disk and CPU invariants (default 5s simulated; 60s, 5m and 2m real)")
	flag.DurationVar(&o.writeLatency, "write-latency", 100*time.Millisecond, "highest acceptable p99 write latency")
	flag.Float64Var(&o.disk, "disk", 0.70, "highest acceptable fraction of a disk in use")
	flag.Float64Var(&o.cpu, "cpu", 0.70, "highest acceptable fraction of a store's CPU quota in use")
	flag.DurationVar(&o.duration, "duration", 0, "stop after this long (default: until interrupted)")
	flag.BoolVar(&o.json, "json", false, "print JSON lines instead of text")
	flag.Var(&o.rules, "rules", "Prometheus rule `FILE`s whose alerting rules are judged too (repeatable, or comma-separated)")
	flag.StringVar(&o.alertmanager, "alertmanager", "", "Alertmanager `URL`s, comma-separated, to send the alerts to")
	flag.StringVar(&o.metricsAddr, "metrics-addr", "", "serve the operator's own metrics at http://`ADDR`/metrics (host:port)")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if o.duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.duration)
		defer cancel()
	}
	if err := run(ctx, o, os.Stdout); err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
		fmt.Fprintln(os.Stderr, "watch:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, o options, stdout io.Writer) error {
	out := newPrinter(stdout, o.json)
	w, err := setup(ctx, o, out)
	if err != nil {
		return err
	}
	defer w.close()
	if w.alerts != nil {
		done := make(chan struct{})
		go func() { defer close(done); _ = w.alerts.Run(ctx) }()
		defer func() {
			<-done
			// What the last evaluation queued still goes out.
			fctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := w.alerts.Flush(fctx); err != nil {
				out.info("%v", err)
			}
		}()
	}
	return watch(ctx, w.sub, w.eval, w.alerts, w.interval, w.faults, out)
}

// watcher is what run watches with: the subject, its evaluator and, for a
// simulated cluster, the fault schedule.
type watcher struct {
	sub      *tikv.Subject
	eval     *invariant.Evaluator
	alerts   *alertmanager.Sender // nil without -alertmanager
	metrics  *metricsServer       // nil without -metrics-addr
	interval time.Duration
	faults   *schedule
	close    func()
}

// setup builds the subject and the evaluator the options ask for, starting
// a simulated cluster when o.pd is empty.
func setup(ctx context.Context, o options, out *printer) (*watcher, error) {
	th := tikv.DefaultThresholds()
	th.WriteLatencyP99, th.DiskUsage, th.CPUUsage = o.writeLatency, o.disk, o.cpu

	w := &watcher{close: func() {}}
	var cfg tikv.Config
	if o.pd == "" {
		if o.noPrometheus {
			return nil, errors.New("-no-prometheus needs -pd: the simulated cluster starts its own Prometheus when one is installed")
		}
		env, err := startSimulation(ctx, out)
		if err != nil {
			return nil, err
		}
		w.close = env.close
		cfg = env.cfg
		w.faults = env.faults
		w.interval = cmpOr(o.interval, time.Second)
		grace := cmpOr(o.grace, 5*time.Second)
		th.WriteLatencyGrace, th.DiskGrace, th.CPUGrace = grace, grace, grace
		th.LowSpaceGrace, th.PeerGrace, th.RestartHold = grace, grace, 2*grace
		th.LeaderImbalanceGrace = 6 * grace
	} else {
		cfg.PD = pdclient.DefaultConfig()
		cfg.PD.Endpoints = strings.Split(o.pd, ",")
		w.interval = cmpOr(o.interval, 15*time.Second)
		if o.grace > 0 {
			th.WriteLatencyGrace, th.DiskGrace, th.CPUGrace = o.grace, o.grace, o.grace
		}
		if o.noPrometheus {
			cfg.DisableMetrics = true
			out.info("watching the cluster at PD %s, without metrics (-no-prometheus): only PD's view is judged", o.pd)
		} else {
			cfg.Prometheus = promclient.DefaultConfig()
			if o.prometheus != "" {
				cfg.Prometheus.Address = o.prometheus
			}
			out.info("watching the cluster at PD %s, metrics from Prometheus at %s", o.pd, cfg.Prometheus.Address)
		}
	}
	cfg.Thresholds = &th
	if o.metricsAddr != "" {
		ms, err := startMetrics(o.metricsAddr)
		if err != nil {
			w.close()
			return nil, err
		}
		closeEnv := w.close
		w.close = func() { ms.close(); closeEnv() }
		ms.instrument(&cfg)
		w.metrics = ms
		out.info("serving the operator's own metrics at http://%s/metrics", ms.addr)
	}
	sub, err := tikv.New(cfg)
	if err != nil {
		w.close()
		return nil, err
	}
	invs := sub.Invariants()
	if len(o.rules) > 0 {
		ruleInvs, err := loadRules(cfg, o.rules)
		if err != nil {
			w.close()
			return nil, err
		}
		out.info("judging %d alerting rules from %s", len(ruleInvs), strings.Join(o.rules, ", "))
		invs = append(invs, ruleInvs...)
	}
	eval, err := invariant.New(invs, invariant.Config{OnEvaluation: w.metrics.onEvaluation()})
	if err != nil {
		w.close()
		return nil, err
	}
	w.sub, w.eval = sub, eval
	closeEnv := w.close
	w.close = func() {
		_ = sub.Close() // its background reads end before the cluster does
		closeEnv()
	}
	if o.alertmanager != "" {
		w.alerts, err = alertmanager.New(alertmanager.Config{URLs: strings.Split(o.alertmanager, ","), EvaluationInterval: w.interval})
		if err != nil {
			w.close()
			return nil, err
		}
		out.info("sending alerts to Alertmanager at %s", o.alertmanager)
	}
	return w, nil
}

// loadRules reads the rule files into invariants that query the Prometheus
// the subject reads its metrics from.
func loadRules(cfg tikv.Config, files []string) ([]invariant.Invariant, error) {
	if cfg.DisableMetrics {
		return nil, errors.New("-rules needs Prometheus, and there is none")
	}
	pc := cfg.Prometheus
	if pc.Address == "" {
		pc.Address = promclient.DefaultConfig().Address
	}
	prom, err := promclient.New(pc)
	if err != nil {
		return nil, err
	}
	set, err := rules.Load(rules.Config{Prometheus: prom}, files...)
	if err != nil {
		return nil, err
	}
	return set.Invariants(), nil
}

func cmpOr(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

// watch evaluates the invariants every interval and prints what changed.
// With alerts, it hands the alerts to the sender after each evaluation and
// prints each new send error.
func watch(ctx context.Context, sub *tikv.Subject, eval *invariant.Evaluator, alerts *alertmanager.Sender, interval time.Duration, faults *schedule, out *printer) error {
	start := time.Now()
	tick := time.NewTicker(interval)
	defer tick.Stop()
	lastStores := ""
	lastErrs := map[string]string{}
	lastSendErrs := map[string]string{}
	for {
		now := time.Now()
		if faults != nil {
			faults.due(now.Sub(start), sub, out)
		}
		if stores, err := sub.Stores(ctx); err == nil {
			if line := storesLine(stores); line != lastStores {
				out.stores(now, stores)
				lastStores = line
			}
		}
		rep, err := eval.Evaluate(ctx, now)
		if err != nil {
			return err
		}
		for _, tr := range rep.Transitions {
			out.transition(tr)
		}
		if alerts != nil {
			alerts.Update(now, eval.Alerts())
			for _, st := range alerts.Stats() {
				msg := ""
				if st.Failing {
					msg = st.LastError.Error()
				}
				if msg != "" && msg != lastSendErrs[st.URL] {
					out.info("%s (%d alerts waiting)", msg, st.Queued)
				}
				lastSendErrs[st.URL] = msg
			}
		}
		seen := map[string]bool{}
		for _, ce := range rep.Errors {
			seen[ce.Invariant] = true
			if msg := ce.Err.Error(); lastErrs[ce.Invariant] != msg {
				out.checkError(now, ce)
				lastErrs[ce.Invariant] = msg
			}
		}
		for name := range lastErrs {
			if !seen[name] {
				delete(lastErrs, name)
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}
