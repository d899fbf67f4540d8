package main

import (
	"context"
	"fmt"

	"github.com/kvops/operator/pdclient"
	"github.com/kvops/operator/promclient"
	"github.com/kvops/operator/subject"
	"github.com/kvops/operator/tikv"
)

// seedTick is one evaluation as the design this library replaces made it,
// through the same clients:
//
//   - cluster metrics as the seed's get_cluster_metrics read them: the
//     store list, then every region, paged through AllRegions, to count
//     each store's leaders;
//   - store metrics store by store, each after re-reading the store list,
//     with one Prometheus query per metric family for that store alone
//     (OneStoreMetrics).
//
// It returns the leaders counted and the metrics read, so that the work
// is checked rather than thrown away.
func seedTick(ctx context.Context, pd *pdclient.Client, prom *promclient.Client) (leaders map[uint64]int, metrics []subject.StoreMetrics, err error) {
	stores, err := pd.AllStores(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("seed: stores: %w", err)
	}
	leaders = map[uint64]int{}
	for r, err := range pd.AllRegions(ctx) {
		if err != nil {
			return nil, nil, fmt.Errorf("seed: regions: %w", err)
		}
		if r.Leader.StoreID != 0 {
			leaders[r.Leader.StoreID]++
		}
	}
	// The store list in the shared vocabulary, as the seed re-read it:
	// GET /stores, converted.
	sub, err := tikv.NewFromClients(pd, prom, nil, tikv.Config{})
	if err != nil {
		return nil, nil, fmt.Errorf("seed: %w", err)
	}
	for _, want := range stores {
		again, err := sub.Stores(ctx)
		if err != nil {
			return nil, nil, fmt.Errorf("seed: stores: %w", err)
		}
		for _, st := range again {
			if uint64(st.ID) != want.Meta.ID {
				continue
			}
			m, _, err := prom.OneStoreMetrics(ctx, st)
			if err != nil {
				return nil, nil, fmt.Errorf("seed: store %d metrics: %w", st.ID, err)
			}
			metrics = append(metrics, m)
		}
	}
	return leaders, metrics, nil
}
