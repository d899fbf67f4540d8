package rules_test

import (
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kvops/operator/invariant"
	"github.com/kvops/operator/promclient/rules"
)

// countingTransport counts the requests sent to Prometheus.
type countingTransport struct {
	next http.RoundTripper
	n    atomic.Int64
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return c.next.RoundTrip(r)
}

// fortyRules is a 40-rule file: the eight TiKV-modelled expressions of
// testdata/tikv.rules.yml, each at five thresholds, with TiKV's labels and
// templated annotations.
func fortyRules(tb testing.TB) string {
	exprs := []string{
		`process_resident_memory_bytes{job=~"tikv"} - (process_resident_memory_bytes{job=~"tikv"} offset 5m) > %d*1024*1024*1024`,
		`delta(tikv_engine_write_stall[10m]) > %d`,
		`histogram_quantile(0.99, sum(rate(tikv_raftstore_log_lag_bucket[1m])) by (le, instance)) > %d000`,
		`sum(rate(tikv_channel_full_total[10m])) by (type, instance) > %d / 100`,
		`histogram_quantile(0.99, sum(rate(tikv_scheduler_latch_wait_duration_seconds_bucket[1m])) by (le, instance, type)) > %d / 4`,
		`delta(tikv_pd_heartbeat_tick_total{type="leader"}[30s]) < -%d`,
		`count((sum(tikv_store_size_bytes{type="available"}) by (instance) / sum(tikv_store_size_bytes{type="capacity"}) by (instance) < 0.%d) and (sum(tikv_raftstore_snapshot_traffic_total{type="applying"}) by (instance) > 0)) > 0`,
		`changes(process_start_time_seconds{job="tikv"}[5m]) > %d - 1`,
	}
	var b strings.Builder
	b.WriteString("groups:\n- name: forty\n  interval: 15s\n  rules:\n")
	n := 0
	for level := 1; level <= 5; level++ {
		for i, e := range exprs {
			fmt.Fprintf(&b, "  - alert: Rule_%d_%d\n    expr: '%s'\n    for: 1m\n    labels:\n      env: bench\n      level: %s\n    annotations:\n      summary: 'rule %d on {{ $labels.instance }}'\n      description: 'instance: {{ $labels.instance }}, values: {{ $value | humanize }}'\n",
				i, level, fmt.Sprintf(e, level+1), []string{"critical", "warning"}[level%2], n)
			n++
		}
	}
	if n != 40 {
		tb.Fatalf("%d rules, want 40", n)
	}
	return b.String()
}

// BenchmarkEvaluateFortyRules evaluates a 40-rule file once per op against
// a real Prometheus over the TiKV test series: "quiet" when nothing fires
// (4m in), "firing" when many do (12m in: 30 alerts pending or firing,
// each a finding whose labels and annotations are templated). The
// baseline, "queries-only", sends the 40 expressions through
// promclient.Client.Query and does nothing else.
// Reported per op: queries sent, time, allocations.
func BenchmarkEvaluateFortyRules(b *testing.B) {
	rt := &countingTransport{next: http.DefaultTransport}
	prom := backfilled(b, unitTestGroup(b, "testdata/tikv.test.yml"), rt)
	set, err := rules.Parse(rules.Config{Prometheus: prom}, "forty.yml", []byte(fortyRules(b)))
	if err != nil {
		b.Fatal(err)
	}
	invs := set.Invariants()
	for _, bc := range []struct {
		name string
		at   time.Duration
	}{{"quiet", 4 * time.Minute}, {"firing", 12 * time.Minute}} {
		b.Run(bc.name, func(b *testing.B) {
			ev, err := invariant.New(invs, invariant.Config{})
			if err != nil {
				b.Fatal(err)
			}
			at := epoch.Add(bc.at)
			// Warm up: the state the op then finds unchanged.
			rep, err := ev.Evaluate(b.Context(), at)
			if err != nil || len(rep.Errors) > 0 {
				b.Fatal(err, rep.Errors)
			}
			b.ReportAllocs()
			start := rt.n.Load()
			var r invariant.Report
			for b.Loop() {
				if err := ev.EvaluateInto(b.Context(), at, &r); err != nil || len(r.Errors) > 0 {
					b.Fatal(err, r.Errors)
				}
			}
			b.ReportMetric(float64(rt.n.Load()-start)/float64(b.N), "queries/op")
			b.ReportMetric(float64(len(r.Violations)), "alerts")
		})
	}
	b.Run("queries-only", func(b *testing.B) {
		b.ReportAllocs()
		at := epoch.Add(12 * time.Minute)
		start := rt.n.Load()
		for b.Loop() {
			for _, g := range set.Groups() {
				for _, r := range g.Rules {
					if _, _, err := prom.Query(b.Context(), r.Expr, at); err != nil {
						b.Fatal(err)
					}
				}
			}
		}
		b.ReportMetric(float64(rt.n.Load()-start)/float64(b.N), "queries/op")
	})
}
