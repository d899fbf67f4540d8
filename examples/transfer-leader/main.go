// Command transfer-leader moves a region's leader to another store through
// PD, checking first that the target store is Up and holds a voter of the
// region, and waiting until PD shows the new leader.
//
// With no -pd flag it runs against a simulated cluster and picks a region
// and a target itself:
//
//	go run ./examples/transfer-leader
//
// Against a real cluster, naming the region and the target store (add
// -dry-run to see what would be done without doing it):
//
//	go run ./examples/transfer-leader -pd http://127.0.0.1:2379 -region 9 -to 4
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/kvops/operator/pdclient"
	"github.com/kvops/operator/subject"
	"github.com/kvops/operator/tikv"
	"github.com/kvops/operator/tikv/tikvtest"
)

func main() {
	pd := flag.String("pd", "", "PD endpoints, comma-separated; empty uses a simulated cluster")
	region := flag.Uint64("region", 0, "the region whose leader to move (default: one the simulated cluster picks)")
	to := flag.Uint64("to", 0, "the store to move it to (default: another voter of the region)")
	dryRun := flag.Bool("dry-run", false, "check and report, change nothing")
	timeout := flag.Duration("timeout", 30*time.Second, "how long to wait for the new leader")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	if err := run(ctx, os.Stdout, *pd, subject.RegionID(*region), subject.StoreID(*to), *dryRun); err != nil {
		fmt.Fprintln(os.Stderr, "transfer-leader:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, w io.Writer, pd string, region subject.RegionID, to subject.StoreID, dryRun bool) error {
	cfg := tikv.Config{DryRun: dryRun, DisableMetrics: true, PD: pdclient.DefaultConfig()}
	if pd == "" {
		cl, err := tikvtest.NewUnstartedCluster(tikvtest.Config{Stores: 5, Regions: 50})
		if err != nil {
			return err
		}
		if err := cl.Start(ctx); err != nil {
			return err
		}
		defer cl.Close()
		runCtx, stopSim := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- cl.Run(runCtx, 200*time.Millisecond) }()
		defer func() { stopSim(); <-done }()
		cfg.PD.Endpoints = []string{cl.PDURL()}
		fmt.Fprintf(w, "simulated cluster: PD at %s\n", cl.PDURL())
	} else {
		cfg.PD.Endpoints = strings.Split(pd, ",")
	}
	sub, err := tikv.New(cfg)
	if err != nil {
		return err
	}
	defer sub.Close()
	if region == 0 || to == 0 {
		if region, to, err = pick(ctx, w, sub, region); err != nil {
			return err
		}
	}
	res, err := sub.TransferLeader(ctx, region, to)
	switch {
	case errors.Is(err, subject.ErrNotFound):
		return fmt.Errorf("no such region or store: %w", err)
	case errors.Is(err, subject.ErrPrecondition):
		return fmt.Errorf("refused, nothing changed: %w", err)
	case err != nil:
		return err
	}
	b, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return err
	}
	fmt.Fprintln(w, string(b))
	if dryRun {
		return nil
	}
	reg, err := sub.PD().RegionByID(ctx, uint64(region))
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "PD now shows region %d led from store %d\n", region, reg.Leader.StoreID)
	return nil
}

// pick chooses a region (the one given, or the first one PD lists) and a
// voter of it on another Up store.
func pick(ctx context.Context, w io.Writer, sub *tikv.Subject, region subject.RegionID) (subject.RegionID, subject.StoreID, error) {
	pd := sub.PD()
	var reg *pdclient.Region
	if region != 0 {
		r, err := pd.RegionByID(ctx, uint64(region))
		if err != nil {
			return 0, 0, err
		}
		reg = r
	} else {
		for r, err := range pd.AllRegions(ctx, pdclient.WithPageSize(1)) {
			if err != nil {
				return 0, 0, err
			}
			reg = &r
			break
		}
		if reg == nil {
			return 0, 0, errors.New("the cluster has no regions")
		}
	}
	for _, p := range reg.Peers {
		if p.StoreID != reg.Leader.StoreID && p.RoleName == "Voter" {
			fmt.Fprintf(w, "moving the leader of region %d from store %d to store %d\n", reg.ID, reg.Leader.StoreID, p.StoreID)
			return subject.RegionID(reg.ID), subject.StoreID(p.StoreID), nil
		}
	}
	return 0, 0, fmt.Errorf("region %d has no other voter to lead it", reg.ID)
}
