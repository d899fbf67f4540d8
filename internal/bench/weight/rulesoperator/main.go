// Command rulesoperator is the small operator of ../operator judging
// Prometheus rule files too (package promclient/rules), as examples/watch
// does with -rules: what adding rule files costs a user's program. It
// exists to be weighed: go run ./internal/bench/weight builds it stripped
// and reports its size.
//
//	go run ./internal/bench/weight/rulesoperator tikv.rules.yml ...
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"

	"github.com/kvops/operator/internal/bench/weight/operate"
	"github.com/kvops/operator/promclient"
	"github.com/kvops/operator/promclient/rules"
	"github.com/kvops/operator/tikv"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "rulesoperator:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, files []string) error {
	sub, err := tikv.New(tikv.Config{})
	if err != nil {
		return err
	}
	defer sub.Close()
	prom, err := promclient.New(promclient.Config{})
	if err != nil {
		return err
	}
	set, err := rules.Load(rules.Config{Prometheus: prom}, files...)
	if err != nil {
		return err
	}
	return operate.Run(ctx, append(sub.Invariants(), set.Invariants()...))
}
