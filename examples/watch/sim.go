package main

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/kvops/operator/pdclient"
	"github.com/kvops/operator/promclient"
	"github.com/kvops/operator/subject"
	"github.com/kvops/operator/tikv"
	"github.com/kvops/operator/tikv/tikvtest"
)

// simulation is a simulated cluster, ticking in real time, and the
// Prometheus scraping it, if one could be started.
type simulation struct {
	cluster *tikvtest.Cluster
	prom    *tikvtest.Prometheus
	cfg     tikv.Config
	faults  *schedule
	stop    context.CancelFunc
	done    chan error
}

func startSimulation(ctx context.Context, out *printer) (*simulation, error) {
	cl, err := tikvtest.NewUnstartedCluster(tikvtest.Config{Stores: 5, Regions: 200})
	if err != nil {
		return nil, err
	}
	if err := cl.Start(ctx); err != nil {
		return nil, err
	}
	runCtx, stop := context.WithCancel(ctx)
	env := &simulation{cluster: cl, stop: stop, done: make(chan error, 1)}
	env.faults = newSchedule(runCtx, cl)
	go func() { env.done <- cl.Run(runCtx, 500*time.Millisecond) }()

	env.cfg.PD = pdclient.DefaultConfig()
	env.cfg.PD.Endpoints = []string{cl.PDURL()}
	env.cfg.Prometheus = promclient.DefaultConfig()
	env.cfg.Prometheus.RateWindow = 10 * time.Second

	// A real Prometheus scraping every store under job "tikv", which
	// TiKV's CPU and restart queries select.
	prom, err := cl.StartPrometheus(ctx, time.Second)
	switch {
	case errors.Is(err, tikvtest.ErrNoPrometheus):
		out.info("simulated cluster of 5 stores, PD at %s; no prometheus on PATH, so only PD's view is judged (apt-get install prometheus for metrics)", cl.PDURL())
		env.cfg.DisableMetrics = true
	case err != nil:
		env.close()
		return nil, err
	default:
		env.prom = prom
		env.cfg.Prometheus.Address = prom.URL
		out.info("simulated cluster of 5 stores, PD at %s; Prometheus at %s scraping its metrics every second", cl.PDURL(), prom.URL)
	}
	return env, nil
}

func (e *simulation) close() {
	e.stop()
	e.faults.wait() // an action under way ends with the simulation's context
	<-e.done
	if e.prom != nil {
		e.prom.Stop()
	}
	_ = e.cluster.Close()
}

// schedule injects the simulated faults at fixed offsets from the start,
// and makes the operator act: an action runs in the background, its
// progress shown while it waits, its outcome printed when it ends.
type schedule struct {
	steps []step
	next  int
	ctx   context.Context // the simulation's: it ends an action under way
	acts  sync.WaitGroup
	last  chan struct{} // closed when the last action started has ended
}

type step struct {
	at   time.Duration
	what string
	do   func() error
	// act, instead of do, is an action of the operator's.
	act func(ctx context.Context, sub subject.Actor) (subject.Result, error)
}

// newSchedule is tikvtest's demo scenario, whose faults the simulated
// cluster suffers, with the operator's own actions at their times.
func newSchedule(ctx context.Context, cl *tikvtest.Cluster) *schedule {
	var steps []step
	for _, st := range tikvtest.DemoScenario() {
		steps = append(steps, step{at: st.At, what: st.What, do: func() error { return st.Do(cl) }})
	}
	steps = append(steps,
		step{at: 45 * time.Second, what: "the operator evicts store 5's leaders (its progress shows while PD moves them)",
			act: func(ctx context.Context, sub subject.Actor) (subject.Result, error) { return sub.EvictLeaders(ctx, 5) }},
		step{at: 52 * time.Second, what: "the operator lets store 5 lead again",
			act: func(ctx context.Context, sub subject.Actor) (subject.Result, error) {
				return sub.RestoreLeaders(ctx, 5)
			}},
		step{at: 80 * time.Second, what: "the scenario is over; watching on (Ctrl-C to stop)", do: func() error { return nil }},
	)
	slices.SortStableFunc(steps, func(a, b step) int { return cmp.Compare(a.at, b.at) })
	return &schedule{ctx: ctx, steps: steps}
}

// due runs the steps due at elapsed; sub acts for the operator. The
// actions run in the background, one after the other, so that watching
// goes on while they wait.
func (s *schedule) due(elapsed time.Duration, sub subject.Actor, out *printer) {
	for s.next < len(s.steps) && s.steps[s.next].at <= elapsed {
		st := s.steps[s.next]
		s.next++
		if st.act != nil {
			out.acting(time.Now(), st.what)
			prev, done := s.last, make(chan struct{})
			s.last = done
			s.acts.Add(1)
			go func() {
				defer s.acts.Done()
				defer close(done)
				if prev != nil {
					<-prev // the previous action first
				}
				res, err := st.act(subject.WithProgress(s.ctx, out.progress), sub)
				out.action(time.Now(), res, err)
			}()
			continue
		}
		if err := st.do(); err != nil {
			out.info("fault %q failed: %v", st.what, err)
			continue
		}
		out.fault(time.Now(), st.what)
	}
}

// wait returns once the action under way, if any, has ended.
func (s *schedule) wait() { s.acts.Wait() }
