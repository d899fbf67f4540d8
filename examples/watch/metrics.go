package main

import (
	"context"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/kvops/operator/invariant"
	"github.com/kvops/operator/tikv"
	"github.com/kvops/operator/tikv/opmetrics"
)

// metricsServer serves the operator's own metrics (package
// tikv/opmetrics), with the Go runtime's and the process's, on a
// registry of its own at /metrics. A nil *metricsServer serves nothing
// and instruments nothing.
type metricsServer struct {
	m    *opmetrics.Metrics
	addr string // where it listens, host:port
	srv  *http.Server
	done chan struct{}
}

// startMetrics listens on addr (port 0 picks a free one; addr then says
// which) and serves the metrics until close.
func startMetrics(addr string) (*metricsServer, error) {
	m, err := opmetrics.New(opmetrics.Config{})
	if err != nil {
		return nil, err
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(m, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	s := &metricsServer{m: m, addr: l.Addr().String(), done: make(chan struct{}),
		srv: &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}}
	go func() {
		defer close(s.done)
		_ = s.srv.Serve(l) // ErrServerClosed once close shuts it down; it closes l
	}()
	return s, nil
}

// instrument sets the hooks of the subject's clients.
func (s *metricsServer) instrument(cfg *tikv.Config) {
	if s == nil {
		return
	}
	cfg.PD.OnRequest = s.m.OnRequest
	cfg.Prometheus.OnQuery = s.m.OnQuery
}

// onEvaluation is the evaluator's hook, nil without metrics.
func (s *metricsServer) onEvaluation() func(invariant.EvaluationInfo) {
	if s == nil {
		return nil
	}
	return s.m.OnEvaluation
}

// close stops serving, letting a scrape under way finish for a moment.
func (s *metricsServer) close() {
	if s == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := s.srv.Shutdown(ctx); err != nil {
		_ = s.srv.Close()
	}
	<-s.done
}
