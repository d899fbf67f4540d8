package invariant_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/kvops/operator/invariant"
)

// A store goes down: its finding is pending, fires once it has lasted the
// grace period, and resolves when the store comes back.
func Example() {
	down := map[string]bool{}
	storeUp := invariant.Invariant{
		Name:     "store_up",
		Severity: invariant.SeverityCritical,
		Grace:    time.Minute,
		Check: func(context.Context, time.Time) ([]invariant.Finding, error) {
			var out []invariant.Finding
			for _, key := range []string{"store=1", "store=4"} {
				if down[key] {
					out = append(out, invariant.Finding{Key: key, Message: key + " is down"})
				}
			}
			return out, nil
		},
	}
	eval, err := invariant.New([]invariant.Invariant{storeUp}, invariant.Config{})
	if err != nil {
		fmt.Println(err)
		return
	}

	start := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	tick := func(at time.Duration) {
		report, err := eval.Evaluate(context.Background(), start.Add(at))
		if err != nil {
			fmt.Println(err)
			return
		}
		for _, tr := range report.Transitions {
			fmt.Printf("%v %v\n", at, tr)
		}
	}

	tick(0)
	down["store=4"] = true
	tick(30 * time.Second) // store 4 is down: pending
	tick(60 * time.Second) // 30s into its grace period: still pending
	tick(90 * time.Second) // a minute: firing
	down["store=4"] = false
	tick(120 * time.Second) // back: resolved
	// Output:
	// 30s store_up store=4: inactive -> pending
	// 1m30s store_up store=4: pending -> firing
	// 2m0s store_up store=4: firing -> resolved
}

// An operator that restarts saves its evaluator's state and restores it, so
// that a finding already pending keeps its clock across the restart. As in
// Prometheus, the time the operator was down does not count, and a pair
// restored late in its grace period waits Config.ForGracePeriod (10m) from
// the first look after the restart: it is seen again before it fires.
func ExampleEvaluator_Restore() {
	diskFull := func(context.Context, time.Time) ([]invariant.Finding, error) {
		return []invariant.Finding{{Key: "store=1", Message: "disk 97% full", Value: 0.97}}, nil
	}
	invariants := []invariant.Invariant{{
		Name: "disk_full", Check: diskFull, Grace: 15 * time.Minute, Severity: invariant.SeverityWarning,
	}}
	start := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

	before, err := invariant.New(invariants, invariant.Config{})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, at := range []time.Duration{0, 10 * time.Minute} {
		if _, err := before.Evaluate(context.Background(), start.Add(at)); err != nil {
			fmt.Println(err)
			return
		}
	}
	saved, err := before.Export()
	if err != nil {
		fmt.Println(err)
		return
	}

	// The process stops after its look at 12:10 and is back at 12:14,
	// with 5 minutes of the grace period left.
	after, err := invariant.New(invariants, invariant.Config{})
	if err != nil {
		fmt.Println(err)
		return
	}
	if _, err := after.Restore(saved); err != nil {
		fmt.Println(err)
		return
	}
	for _, at := range []time.Duration{14 * time.Minute, 20 * time.Minute, 24 * time.Minute} {
		report, err := after.Evaluate(context.Background(), start.Add(at))
		if err != nil {
			fmt.Println(err)
			return
		}
		for _, v := range report.Violations {
			fmt.Printf("12:%d: %s %s %v since %s\n", at/time.Minute, v.Invariant, v.Key, v.State, v.FirstSeen.Format("15:04"))
		}
	}
	// Output:
	// 12:14: disk_full store=1 pending since 12:09
	// 12:20: disk_full store=1 pending since 12:09
	// 12:24: disk_full store=1 firing since 12:09
}

// A saved state names the cluster it judged: restored into the evaluator of
// another cluster (a fresh one behind the same addresses), it is refused,
// so that the old cluster's alerts are not applied to the new one's stores.
func ExampleConfig_identity() {
	storeDown := func(context.Context, time.Time) ([]invariant.Finding, error) {
		return []invariant.Finding{{Key: "store=1", Message: "store 1 is Down"}}, nil
	}
	invariants := []invariant.Invariant{{Name: "store_health", Check: storeDown, Severity: invariant.SeverityCritical}}
	old, err := invariant.New(invariants, invariant.Config{Identity: "7712828691867624985"})
	if err != nil {
		fmt.Println(err)
		return
	}
	if _, err := old.Evaluate(context.Background(), time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)); err != nil {
		fmt.Println(err)
		return
	}
	saved, err := old.Export()
	if err != nil {
		fmt.Println(err)
		return
	}

	fresh, err := invariant.New(invariants, invariant.Config{Identity: "7301238834312271012"})
	if err != nil {
		fmt.Println(err)
		return
	}
	_, err = fresh.Restore(saved)
	var ie *invariant.IdentityError
	fmt.Println(errors.As(err, &ie), errors.Is(err, invariant.ErrState), len(fresh.Alerts()))
	fmt.Println(err)
	// Output:
	// true true 0
	// invariant: restore: state saved for "7712828691867624985", this evaluator judges "7301238834312271012": saved state belongs to another identity
}
