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

	"github.com/kvops/operator/internal/bench/weight/operate"
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
	return operate.Run(ctx, sub.Invariants())
}
