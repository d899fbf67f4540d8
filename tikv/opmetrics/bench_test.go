package opmetrics_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kvops/operator/invariant"
	"github.com/kvops/operator/pdclient"
	"github.com/kvops/operator/promclient"
	"github.com/kvops/operator/tikv"
	"github.com/kvops/operator/tikv/opmetrics"
	"github.com/kvops/operator/tikv/tikvtest"
)

// benchStores is the cluster size of the benchmarks: where users outgrow a
// test cluster.
const benchStores = 1000

// withAndWithout runs bench twice in the same run, as sub-benchmarks
// "without" and "with": without any hook, and with every hook set to one
// Metrics registered on a registry, so that their difference is the cost
// of the metrics.
func withAndWithout(b *testing.B, bench func(b *testing.B, m *opmetrics.Metrics)) {
	b.Run("without", func(b *testing.B) { bench(b, nil) })
	b.Run("with", func(b *testing.B) {
		m, err := opmetrics.New(opmetrics.Config{})
		if err != nil {
			b.Fatal(err)
		}
		prometheus.NewRegistry().MustRegister(m)
		bench(b, m)
	})
}

// BenchmarkEvaluate1000Stores is one evaluation of eight invariants that
// each report every one of 1,000 stores, firing (the most alerts there can
// be to count), from findings built once: the evaluator's own cost, with
// and without OnEvaluation.
func BenchmarkEvaluate1000Stores(b *testing.B) {
	withAndWithout(b, func(b *testing.B, m *opmetrics.Metrics) {
		findings := make([]invariant.Finding, benchStores)
		for i := range findings {
			findings[i] = invariant.Finding{Key: fmt.Sprintf("store=%d", i+1), Message: "disk almost full", Value: 0.95}
		}
		invs := make([]invariant.Invariant, 8)
		for i := range invs {
			invs[i] = invariant.Invariant{Name: fmt.Sprintf("inv%d", i), Severity: invariant.SeverityWarning,
				Check: func(context.Context, time.Time) ([]invariant.Finding, error) { return findings, nil }}
		}
		var cfg invariant.Config
		if m != nil {
			cfg.OnEvaluation = m.OnEvaluation
		}
		e, err := invariant.New(invs, cfg)
		if err != nil {
			b.Fatal(err)
		}
		now := t0
		var r invariant.Report
		if err := e.EvaluateInto(context.Background(), now, &r); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			now = now.Add(time.Second)
			if err := e.EvaluateInto(context.Background(), now, &r); err != nil || len(r.Violations) != 8*benchStores {
				b.Fatalf("%d violations, error %v", len(r.Violations), err)
			}
		}
	})
}

// BenchmarkTick1000Stores is one evaluation of every invariant tikv.Subject
// offers from PD's view (its metric invariants need a Prometheus, which
// internal/bench/tick backfills) on a simulated cluster of 1,000 stores and
// 10,000 regions, its PD requests included: what an operator's tick
// costs, with and without the metrics of the evaluator and of PD's
// client.
func BenchmarkTick1000Stores(b *testing.B) {
	c := tikvtest.NewCluster(b, tikvtest.Config{Stores: benchStores, Regions: 10_000, Seed: 1,
		Clock: fixedClock{t0}})
	c.Advance(time.Second)
	withAndWithout(b, func(b *testing.B, m *opmetrics.Metrics) {
		cfg := tikv.Config{PD: pdclient.Config{Endpoints: []string{c.PDURL()}}, DisableMetrics: true, Clock: c.Now}
		var ecfg invariant.Config
		if m != nil {
			cfg.PD.OnRequest = m.OnRequest
			ecfg.OnEvaluation = m.OnEvaluation
		}
		sub, err := tikv.New(cfg)
		if err != nil {
			b.Fatal(err)
		}
		defer sub.Close()
		e, err := invariant.New(sub.Invariants(), ecfg)
		if err != nil {
			b.Fatal(err)
		}
		var r invariant.Report
		if err := e.EvaluateInto(context.Background(), c.Now(), &r); err != nil {
			b.Fatal(err)
		}
		now := c.Now()
		b.ReportAllocs()
		for b.Loop() {
			now = now.Add(time.Second)
			if err := e.EvaluateInto(context.Background(), now, &r); err != nil || len(r.Errors) > 0 {
				b.Fatalf("errors %v, %v", r.Errors, err)
			}
		}
	})
}

type fixedClock struct{ t time.Time }

func (c fixedClock) Now() time.Time { return c.t }

// BenchmarkHooks is what each hook costs a call that reports to it, its
// series existing: OnEvaluation of an evaluation of eight invariants, and
// one PD request or Prometheus query. On a machine shared with other work
// these figures are steadier than the difference of two evaluations.
func BenchmarkHooks(b *testing.B) {
	m, err := opmetrics.New(opmetrics.Config{})
	if err != nil {
		b.Fatal(err)
	}
	prometheus.NewRegistry().MustRegister(m)
	ev := invariant.EvaluationInfo{At: t0, Duration: time.Millisecond}
	for i := range 8 {
		ev.Invariants = append(ev.Invariants, invariant.InvariantInfo{Name: fmt.Sprintf("inv%d", i), Firing: benchStores})
	}
	ri := pdclient.RequestInfo{Method: "GET", Route: "/pd/api/v1/stores", Status: 200, Duration: time.Millisecond}
	qi := promclient.QueryInfo{Path: "/api/v1/query", Status: 200, Duration: time.Millisecond}
	for name, call := range map[string]func(){
		"OnEvaluation/8-invariants": func() { m.OnEvaluation(ev) },
		"OnRequest":                 func() { m.OnRequest(ri) },
		"OnQuery":                   func() { m.OnQuery(qi) },
	} {
		b.Run(name, func(b *testing.B) {
			call()
			b.ReportAllocs()
			for b.Loop() {
				call()
			}
		})
	}
}
