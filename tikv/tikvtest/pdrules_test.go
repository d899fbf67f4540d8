package tikvtest_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/kvops/operator/invariant"
	"github.com/kvops/operator/pdclient"
	"github.com/kvops/operator/promclient"
	"github.com/kvops/operator/promclient/rules"
	"github.com/kvops/operator/subject"
	"github.com/kvops/operator/tikv/tikvtest"
)

// TestPDRulesFire judges PD's official alert rules (testdata/pd.rules.yml,
// unmodified) over 12 minutes of a simulated cluster recorded in
// 15-second scrapes of its stores and PD members: a store stops (it is
// disconnected, then down, its regions with a down peer), the PD leader
// changes, every disk fills. The rules those faults concern fire; the ones
// whose series no PD serves say so at their first evaluation, instead of
// reading as healthy; the rest stay quiet. Deterministic, and fast: the
// history is backfilled, nothing waits for a scrape.
func TestPDRulesFire(t *testing.T) {
	c := tikvtest.NewCluster(t, tikvtest.Config{Stores: 5, Regions: 60, Seed: 1,
		Clock: fixedClock{h0}, RecordMetrics: 15 * time.Second})
	pd, err := pdclient.New(pdclient.Config{Endpoints: []string{c.PDURL()}})
	require.NoError(t, err)
	defer pd.CloseIdleConnections()
	// Down after 2 minutes without a heartbeat rather than PD's 30.
	require.NoError(t, pd.SetMaxStoreDownTime(context.Background(), 2*time.Minute))
	faults := map[time.Duration]func(){
		time.Minute:     func() { require.NoError(t, c.StopStore(5)) },
		5 * time.Minute: c.PDLeaderChange,
		8 * time.Minute: func() {
			for id := range 5 {
				require.NoError(t, c.SetDiskUsage(subject.StoreID(id+1), 0.9))
			}
		},
	}
	const span = 12 * time.Minute
	for c.Now().Before(h0.Add(span)) {
		if f := faults[c.Now().Sub(h0)]; f != nil {
			f()
		}
		c.Advance(15 * time.Second)
	}
	p := tikvtest.NewBackfilledPrometheus(t, c.History())

	prom, err := promclient.New(promclient.Config{Address: p.URL})
	require.NoError(t, err)
	defer prom.CloseIdleConnections()
	set, err := rules.Load(rules.Config{Prometheus: prom, Placeholders: map[string]string{"ENV_LABELS_ENV": "test"}},
		"testdata/pd.rules.yml")
	require.NoError(t, err)
	require.Len(t, set.Invariants(), 19)
	e, err := invariant.New(set.Invariants(), invariant.Config{})
	require.NoError(t, err)

	fired := map[string]bool{}
	var noSeries []string
	for now := h0.Add(15 * time.Second); !now.After(h0.Add(span)); now = now.Add(15 * time.Second) {
		rep, err := e.Evaluate(context.Background(), now)
		require.NoError(t, err)
		for _, ce := range rep.Errors {
			var nse *rules.NoSeriesError
			require.True(t, errors.As(ce.Err, &nse), "%s at %v: %v", ce.Invariant, now.Sub(h0), ce.Err)
			noSeries = append(noSeries, ce.Invariant)
		}
		for _, tr := range rep.Transitions {
			if tr.To == invariant.StateFiring {
				fired[tr.Invariant] = true
				require.Equal(t, "test", tr.Alert.Labels["env"], "the placeholder replaced")
			}
		}
	}
	got := slices.Sorted(func(yield func(string) bool) {
		for name := range fired {
			if !yield(name) {
				return
			}
		}
	})
	want := []string{
		"alert.rules/PD_cluster_down_store_nums",
		"alert.rules/PD_cluster_lost_connect_store_nums",
		"alert.rules/PD_cluster_low_space",
		"alert.rules/PD_cluster_store_space_used_more_than_80%",
		"alert.rules/PD_down_peer_region_nums",
		"alert.rules/PD_leader_change",
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("fired (-want +got):\n%s", d)
	}
	slices.Sort(noSeries)
	// No PD serves these: a TiDB-side histogram; a type written with
	// underscores where PD's are hyphenated (miss-peer-region-count); and
	// instances matched by a name containing "pd", which Prometheus'
	// host:port instance label is not.
	wantNoSeries := []string{
		"alert.rules/PD_miss_peer_region_count",
		"alert.rules/PD_tidb_handle_requests_duration",
		"alert.rules/pd_etcd_quota",
	}
	if d := cmp.Diff(wantNoSeries, noSeries); d != "" {
		t.Errorf("rules whose series exist nowhere, said once each (-want +got):\n%s", d)
	}
}
