package main

import (
	"context"
	"errors"
	"time"

	"github.com/kvops/operator/pdclient"
	"github.com/kvops/operator/promclient"
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
	env.faults = newSchedule(cl)
	return env, nil
}

func (e *simulation) close() {
	e.stop()
	<-e.done
	if e.prom != nil {
		e.prom.Stop()
	}
	_ = e.cluster.Close()
}

// schedule injects the simulated faults at fixed offsets from the start.
type schedule struct {
	steps []step
	next  int
}

type step struct {
	at   time.Duration
	what string
	do   func() error
}

func newSchedule(cl *tikvtest.Cluster) *schedule {
	return &schedule{steps: []step{
		{3 * time.Second, "store 2 stops", func() error { return cl.StopStore(2) }},
		{8 * time.Second, "store 3 turns slow: writes take 300ms", func() error { return cl.SetWriteLatency(3, 300*time.Millisecond) }},
		{12 * time.Second, "store 4's disk fills to 85%", func() error { return cl.SetDiskUsage(4, 0.85) }},
		{35 * time.Second, "store 2 starts again", func() error { return cl.StartStore(2) }},
		{38 * time.Second, "store 3 is fast again", func() error { return cl.SetWriteLatency(3, 0) }},
		{42 * time.Second, "store 4's disk is freed", func() error { return cl.ClearDiskUsage(4) }},
		{60 * time.Second, "the PD leader changes: for a few seconds it reports every store Disconnected at 0B, which must fire nothing", func() error {
			cl.PDLeaderChange()
			return nil
		}},
		{80 * time.Second, "the scenario is over; watching on (Ctrl-C to stop)", func() error { return nil }},
	}}
}

func (s *schedule) due(elapsed time.Duration, out *printer) {
	for s.next < len(s.steps) && s.steps[s.next].at <= elapsed {
		st := s.steps[s.next]
		s.next++
		if err := st.do(); err != nil {
			out.info("fault %q failed: %v", st.what, err)
			continue
		}
		out.fault(time.Now(), st.what)
	}
}
