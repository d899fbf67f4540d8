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
	eval, err := invariant.New([]invariant.Invariant{storeUp})
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
// that a finding already pending keeps its clock: it fires when its grace
// period is up, counted from before the restart.
func ExampleEvaluator_Restore() {
	diskFull := func(context.Context, time.Time) ([]invariant.Finding, error) {
		return []invariant.Finding{{Key: "store=1", Message: "disk 97% full", Value: 0.97}}, nil
	}
	invariants := []invariant.Invariant{{
		Name: "disk_full", Check: diskFull, Grace: 5 * time.Minute, Severity: invariant.SeverityWarning,
	}}
	start := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

	before, err := invariant.New(invariants)
	if err != nil {
		fmt.Println(err)
		return
	}
	if _, err := before.Evaluate(context.Background(), start); err != nil {
		fmt.Println(err)
		return
	}
	saved, err := before.Export()
	if err != nil {
		fmt.Println(err)
		return
	}

	// The process restarts three minutes later, then five.
	after, err := invariant.New(invariants)
	if err != nil {
		fmt.Println(err)
		return
	}
	if _, err := after.Restore(saved); err != nil {
		fmt.Println(err)
		return
	}
	for _, at := range []time.Duration{3 * time.Minute, 5 * time.Minute} {
		report, err := after.Evaluate(context.Background(), start.Add(at))
		if err != nil {
			fmt.Println(err)
			return
		}
		for _, v := range report.Violations {
			fmt.Printf("%v: %s %s %v since %s\n", at, v.Invariant, v.Key, v.State, v.FirstSeen.Format("15:04"))
		}
	}
	// Output:
	// 3m0s: disk_full store=1 pending since 12:00
	// 5m0s: disk_full store=1 firing since 12:00
}

// A saved state names the cluster it judged: restored into the evaluator of
// another cluster (a fresh one behind the same addresses), it is refused,
// so that the old cluster's alerts are not applied to the new one's stores.
func ExampleWithIdentity() {
	storeDown := func(context.Context, time.Time) ([]invariant.Finding, error) {
		return []invariant.Finding{{Key: "store=1", Message: "store 1 is Down"}}, nil
	}
	invariants := []invariant.Invariant{{Name: "store_health", Check: storeDown, Severity: invariant.SeverityCritical}}
	old, err := invariant.New(invariants, invariant.WithIdentity("7712828691867624985"))
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

	fresh, err := invariant.New(invariants, invariant.WithIdentity("7301238834312271012"))
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
