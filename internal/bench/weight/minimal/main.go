// Command minimal is the smallest useful program that imports tikv: it
// builds a Subject with the default configuration (tiup playground's PD and
// Prometheus) and prints the stores and their metrics once. It exists to be
// weighed: go run ./internal/bench/weight builds it stripped and reports its
// size.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/kvops/operator/tikv"
)

func main() {
	if err := run(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, "minimal:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	sub, err := tikv.New(tikv.Config{})
	if err != nil {
		return err
	}
	defer sub.Close()
	ms, err := sub.AllStoreMetrics(ctx)
	if err != nil {
		return err
	}
	for _, m := range ms {
		fmt.Println(m.Store, m.WriteLatencyP99, m.DiskAvailable)
	}
	return nil
}
