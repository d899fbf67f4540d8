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
	"time"

	"github.com/kvops/operator/invariant"
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
	eval, err := invariant.New(append(sub.Invariants(), set.Invariants()...))
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
