package opmetrics_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kvops/operator/invariant"
	"github.com/kvops/operator/tikv/opmetrics"
)

// An evaluator's metrics, on the caller's own registry: one invariant
// firing, another whose check failed. A program serves reg with
// promhttp.HandlerFor; here the registry is read directly.
func Example() {
	m, err := opmetrics.New(opmetrics.Config{})
	if err != nil {
		fmt.Println(err)
		return
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(m)

	e, err := invariant.New([]invariant.Invariant{
		{Name: "disk_usage", Severity: invariant.SeverityWarning,
			Check: func(context.Context, time.Time) ([]invariant.Finding, error) {
				return []invariant.Finding{{Key: "store=4", Message: "disk 91% full"}}, nil
			}},
		{Name: "write_latency", Severity: invariant.SeverityCritical,
			Check: func(context.Context, time.Time) ([]invariant.Finding, error) {
				return nil, errors.New("prometheus is unreachable")
			}},
	}, invariant.Config{OnEvaluation: m.OnEvaluation})
	if err != nil {
		fmt.Println(err)
		return
	}
	if _, err := e.Evaluate(context.Background(), time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)); err != nil {
		fmt.Println(err)
		return
	}

	mfs, err := reg.Gather()
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, mf := range mfs {
		if !slices.Contains([]string{"kvops_operator_evaluations_total", "kvops_operator_evaluation_failures_total",
			"kvops_operator_alerts", "kvops_operator_check_errors_total"}, mf.GetName()) {
			continue
		}
		for _, s := range mf.GetMetric() {
			var labels []string
			for _, l := range s.GetLabel() {
				labels = append(labels, l.GetName()+"="+l.GetValue())
			}
			v := s.GetGauge().GetValue() + s.GetCounter().GetValue()
			fmt.Printf("%s{%s} %g\n", mf.GetName(), strings.Join(labels, ","), v)
		}
	}
	// Output:
	// kvops_operator_alerts{invariant=disk_usage,state=firing} 1
	// kvops_operator_alerts{invariant=disk_usage,state=pending} 0
	// kvops_operator_alerts{invariant=write_latency,state=firing} 0
	// kvops_operator_alerts{invariant=write_latency,state=pending} 0
	// kvops_operator_check_errors_total{invariant=disk_usage} 0
	// kvops_operator_check_errors_total{invariant=write_latency} 1
	// kvops_operator_evaluation_failures_total{} 1
	// kvops_operator_evaluations_total{} 1
}
