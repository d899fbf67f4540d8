package invariant

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// benchEvaluator returns an evaluator whose invariants together report n
// keys on every call, from findings built once (the check's own cost is not
// the evaluator's), already evaluated once so that every pair is firing.
func benchEvaluator(b *testing.B, invariants, n int, labels bool) *Evaluator {
	b.Helper()
	invs := make([]Invariant, invariants)
	for i := range invs {
		findings := make([]Finding, n/invariants)
		for j := range findings {
			findings[j] = Finding{
				Key:     fmt.Sprintf("store=%d", j),
				Message: "disk almost full",
				Value:   0.95,
			}
			if labels {
				findings[j].Labels = map[string]string{"store": fmt.Sprint(j)}
			}
		}
		invs[i] = Invariant{
			Name:     fmt.Sprintf("inv%d", i),
			Severity: SeverityWarning,
			Labels:   map[string]string{"team": "storage"},
			Check:    func(context.Context, time.Time) ([]Finding, error) { return findings, nil },
		}
	}
	e, err := New(invs, Config{})
	if err != nil {
		b.Fatal(err)
	}
	r, err := e.Evaluate(context.Background(), t0)
	if err != nil || len(r.Violations) != n {
		b.Fatalf("warm-up: %d violations, error %v", len(r.Violations), err)
	}
	return e
}

// BenchmarkEvaluate100k evaluates 100,000 firing keys that do not change
// between calls: "Evaluate" allocates the report's violations (one slice per
// call), "EvaluateInto" reuses the previous report. The keys are spread over
// one or ten invariants, and their findings carry a label map each or none.
func BenchmarkEvaluate100k(b *testing.B) {
	for _, bc := range []struct {
		name       string
		invariants int
		labels     bool
	}{{"1x100000", 1, false}, {"10x10000", 10, false}, {"1x100000/labels", 1, true}} {
		b.Run("Evaluate/"+bc.name, func(b *testing.B) {
			e := benchEvaluator(b, bc.invariants, 100_000, bc.labels)
			now := t0
			b.ReportAllocs()
			defer reportCPU(b)()
			for b.Loop() {
				now = now.Add(time.Second)
				r, err := e.Evaluate(context.Background(), now)
				if err != nil || len(r.Violations) != 100_000 || len(r.Transitions) != 0 {
					b.Fatalf("%d violations, %d transitions, error %v", len(r.Violations), len(r.Transitions), err)
				}
			}
		})
		b.Run("EvaluateInto/"+bc.name, func(b *testing.B) {
			e := benchEvaluator(b, bc.invariants, 100_000, bc.labels)
			benchInto(b, e, func() {}, func(r *Report) {
				if len(r.Violations) != 100_000 || len(r.Transitions) != 0 {
					b.Fatalf("%d violations, %d transitions", len(r.Violations), len(r.Transitions))
				}
			})
		})
	}
}

// benchInto times EvaluateInto on e, one simulated second apart, reusing a
// report filled once before the clock starts. before runs ahead of each
// call, check after it.
func benchInto(b *testing.B, e *Evaluator, before func(), check func(*Report)) {
	b.Helper()
	now := t0
	var r Report
	if err := e.EvaluateInto(context.Background(), now, &r); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	defer reportCPU(b)()
	for b.Loop() {
		before()
		now = now.Add(time.Second)
		if err := e.EvaluateInto(context.Background(), now, &r); err != nil {
			b.Fatal(err)
		}
		check(&r)
	}
}

// BenchmarkEvaluateChurn100k evaluates 100,000 keys of which 1% clear and
// 1% come back on every call (2,000 transitions), shifting every finding's
// position so that no position hint matches: the cost of change, and of a
// map lookup per key.
func BenchmarkEvaluateChurn100k(b *testing.B) {
	const n, churn = 100_000, 1_000
	all := make([]Finding, n+churn)
	for j := range all {
		all[j] = Finding{Key: fmt.Sprintf("store=%d", j), Message: "disk almost full"}
	}
	var call int
	e, err := New([]Invariant{{
		Name: "inv", Severity: SeverityWarning,
		Check: func(context.Context, time.Time) ([]Finding, error) {
			off := churn * (call % 2)
			return all[off : off+n], nil
		},
	}}, Config{})
	if err != nil {
		b.Fatal(err)
	}
	benchInto(b, e, func() { call++ }, func(r *Report) {
		if len(r.Transitions) != 2*churn {
			b.Fatalf("%d transitions, want %d", len(r.Transitions), 2*churn)
		}
	})
}

// reportCPU adds the process's CPU time per operation (all threads, the
// garbage collector's included) to a benchmark's figures: on a machine
// shared with other work, wall time per operation says more about the
// neighbours than about the code. Call the function it returns when the
// loop is done.
func reportCPU(b *testing.B) func() {
	start := cpuTime()
	return func() {
		if b.N > 0 {
			b.ReportMetric(float64(cpuTime()-start)/float64(b.N), "cpu-ns/op")
		}
	}
}

// BenchmarkBaseline100k is the floor any evaluator of 100,000 keys stands
// on, measured in the same run as the others for comparison on a noisy
// machine: look every finding's key up in a map and copy one alert per key
// into a reused slice.
func BenchmarkBaseline100k(b *testing.B) {
	const n = 100_000
	findings := make([]Finding, n)
	m := make(map[string]*entry, n)
	for j := range findings {
		findings[j] = Finding{Key: fmt.Sprintf("store=%d", j), Message: "disk almost full", Value: 0.95}
		m[findings[j].Key] = &entry{key: findings[j].Key, state: StateFiring}
	}
	out := make([]Alert, 0, n)
	b.ReportAllocs()
	defer reportCPU(b)()
	for b.Loop() {
		out = out[:0]
		for i := range findings {
			en := m[findings[i].Key]
			out = append(out, Alert{Key: en.key, State: en.state, Message: findings[i].Message, Value: findings[i].Value, LastSeen: t0})
		}
	}
	if len(out) != n {
		b.Fatalf("%d alerts, want %d", len(out), n)
	}
}
