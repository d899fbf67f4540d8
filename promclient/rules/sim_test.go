package rules_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kvops/operator/internal/promtest"
	"github.com/kvops/operator/invariant"
	"github.com/kvops/operator/pdclient"
	"github.com/kvops/operator/promclient"
	"github.com/kvops/operator/promclient/rules"
	"github.com/kvops/operator/subject"
	"github.com/kvops/operator/tikv"
	"github.com/kvops/operator/tikv/tikvtest"
)

// simRules is a rule over a metric the simulator exports, in TiKV's
// style: a store with less than 20% of its disk free.
const simRules = `groups:
- name: sim
  interval: 1s
  rules:
  - alert: TiKV_disk_low
    expr: sum(tikv_store_size_bytes{type="available"}) by (instance) / sum(tikv_store_size_bytes{type="capacity"}) by (instance) < 0.2
    for: 2s
    labels:
      level: critical
    annotations:
      summary: '{{ $labels.instance }} has {{ $value | humanizePercentage }} of its disk free'
`

// TestRuleOnSimulatedCluster: a real Prometheus scrapes the simulated
// cluster; a rule on its disk metrics fires when a store's disk fills,
// maps to that store through PD's status address, and resolves when the
// disk is freed. Polling is bounded and ends as soon as the real
// Prometheus has the answer.
func TestRuleOnSimulatedCluster(t *testing.T) {
	promtest.Require(t)
	cl, err := tikvtest.NewUnstartedCluster(tikvtest.Config{Stores: 3, Regions: 30})
	require.NoError(t, err)
	require.NoError(t, cl.Start(t.Context()))
	runCtx, stop := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- cl.Run(runCtx, 200*time.Millisecond) }()
	t.Cleanup(func() {
		stop()
		require.NoError(t, <-done)
		require.NoError(t, cl.Close())
	})
	p := promtest.Start(t, promtest.WithScrape("tikv", time.Second, cl.ScrapeTargets()...))
	p.WaitFor(t, `count(tikv_store_size_bytes{type="capacity"}) == 3`, time.Minute)

	pcfg := promclient.DefaultConfig()
	pcfg.Address = p.URL
	prom, err := promclient.New(pcfg)
	require.NoError(t, err)
	set, err := rules.Parse(rules.Config{Prometheus: prom}, "tikvtest.yml", []byte(simRules))
	require.NoError(t, err)
	ev, err := invariant.New(set.Invariants(), invariant.Config{})
	require.NoError(t, err)

	dcfg := pdclient.DefaultConfig()
	dcfg.Endpoints = []string{cl.PDURL()}
	sub, err := tikv.New(tikv.Config{PD: dcfg, DisableMetrics: true})
	require.NoError(t, err)
	stores, err := sub.Stores(t.Context())
	require.NoError(t, err)

	// until evaluates every rule interval until a transition to state
	// arrives, for at most a minute.
	until := func(state invariant.State) invariant.Transition {
		t.Helper()
		deadline := time.Now().Add(time.Minute)
		for time.Now().Before(deadline) {
			rep, err := ev.Evaluate(t.Context(), time.Now())
			require.NoError(t, err)
			require.Empty(t, rep.Errors)
			for _, tr := range rep.Transitions {
				if tr.To == state {
					return tr
				}
			}
			time.Sleep(set.Interval()) // the rule's interval: the next evaluation
		}
		t.Fatalf("no transition to %v within a minute", state)
		return invariant.Transition{}
	}

	rep, err := ev.Evaluate(t.Context(), time.Now())
	require.NoError(t, err)
	require.Empty(t, rep.Violations, "a healthy cluster fires nothing")

	require.NoError(t, cl.SetDiskUsage(2, 0.9))
	fired := until(invariant.StateFiring)
	inst, err := cl.StatusAddress(2)
	require.NoError(t, err)
	require.Equal(t, inst, fired.Alert.Labels["instance"])
	require.Equal(t, invariant.SeverityCritical, fired.Alert.Severity)
	require.Equal(t, inst+" has 10% of its disk free", fired.Alert.Message)
	id, ok := tikv.StoreOfIn(fired.Alert, stores)
	require.True(t, ok)
	require.Equal(t, subject.StoreID(2), id)

	require.NoError(t, cl.ClearDiskUsage(2))
	resolved := until(invariant.StateResolved)
	require.Equal(t, fired.Key, resolved.Key)
}
