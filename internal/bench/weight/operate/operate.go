// Package operate is the loop of a new user's small operator, as README's
// Usage shows it, shared by the programs internal/bench/weight weighs: an
// evaluator over the invariants, ticking every 15 s, printing what changed.
package operate

import (
	"context"
	"fmt"
	"time"

	"github.com/kvops/operator/invariant"
)

// Run evaluates invs every 15 s until ctx ends, printing each transition
// and each check that could not be made.
func Run(ctx context.Context, invs []invariant.Invariant) error {
	eval, err := invariant.New(invs, invariant.Config{})
	if err != nil {
		return err
	}
	tick := time.NewTicker(15 * time.Second)
	defer tick.Stop()
	for {
		report, err := eval.Evaluate(ctx, time.Now())
		if err != nil {
			return err
		}
		for _, tr := range report.Transitions {
			fmt.Println(tr)
		}
		for _, ce := range report.Errors {
			fmt.Println("cannot check", ce.Invariant, "- its state is kept:", ce.Err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}
