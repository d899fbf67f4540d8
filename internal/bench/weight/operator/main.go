// Command operator is a new user's small operator, as README's Usage
// shows it: a Subject, its invariants, an evaluator ticking every 15 s,
// and the transitions printed. It exists to be weighed next to
// rulesoperator, the same with Prometheus rule files: go run
// ./internal/bench/weight builds both stripped and reports their sizes.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"time"

	"github.com/kvops/operator/invariant"
	"github.com/kvops/operator/tikv"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "operator:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	sub, err := tikv.New(tikv.Config{})
	if err != nil {
		return err
	}
	defer sub.Close()
	eval, err := invariant.New(sub.Invariants())
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
