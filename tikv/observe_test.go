package tikv_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/stretchr/testify/require"

	"github.com/kvops/operator/subject"
	"github.com/kvops/operator/tikv"
)

func TestStoresAndClusterMetrics(t *testing.T) {
	c := newCluster(t, nil)
	ctx := t.Context()
	stores, err := c.sub.Stores(ctx)
	require.NoError(t, err)
	require.Len(t, stores, 5)
	for i, s := range stores {
		require.Equal(t, subject.StoreID(i+1), s.ID, "stores in id order")
		require.Equal(t, subject.StateUp, s.State)
		want, err := c.sim.StatusAddress(s.ID)
		require.NoError(t, err)
		require.Equal(t, want, s.StatusAddress, "status address is the metrics instance")
		require.NotZero(t, s.Capacity)
	}
	m, err := c.sub.ClusterMetrics(ctx)
	require.NoError(t, err)
	require.Equal(t, 60, m.RegionCount)
	require.Equal(t, map[subject.StoreState]int{subject.StateUp: 5}, m.Stores)
	leaders, peers := 0, 0
	for id := subject.StoreID(1); id <= 5; id++ {
		leaders += m.Leaders[id]
		peers += m.Regions[id]
		require.Equal(t, stores[id-1].LeaderCount, m.Leaders[id])
	}
	require.Equal(t, 60, leaders, "every region has one leader")
	require.Equal(t, 180, peers, "every region has three peers")
	require.Equal(t, c.sim.Now(), m.At)
}

func TestHotRegions(t *testing.T) {
	c := newCluster(t, nil)
	ctx := t.Context()
	id := subject.RegionID(firstRegion(t, c))
	require.NoError(t, c.sim.SetWriteRate(id, 1<<20))
	c.sim.Advance(time.Minute)
	hot, err := c.sub.HotWriteRegions(ctx)
	require.NoError(t, err)
	require.NotEmpty(t, hot)
	require.Equal(t, id, hot[0].Region, "the hottest region first: %+v", hot)
	require.Greater(t, hot[0].BytesPerSec, float64(64<<10))
	for i := 1; i < len(hot); i++ {
		require.GreaterOrEqual(t, hot[i-1].BytesPerSec, hot[i].BytesPerSec, "hottest first")
	}
	read, err := c.sub.HotReadRegions(ctx)
	require.NoError(t, err)
	require.Empty(t, read, "nothing reads in the simulation")
}

func TestObservationsWithoutMetricsOrLogs(t *testing.T) {
	c := newCluster(t, nil)
	ctx := t.Context()
	_, err := c.sub.StoreMetrics(ctx, 1)
	require.ErrorIs(t, err, subject.ErrNotSupported)
	_, err = c.sub.AllStoreMetrics(ctx)
	require.ErrorIs(t, err, subject.ErrNotSupported)
	_, err = c.sub.LeadershipChanges(ctx, start)
	require.ErrorIs(t, err, subject.ErrNotSupported)
	for _, inv := range c.sub.Invariants() {
		require.NotContains(t, []string{tikv.InvWriteLatency, tikv.InvDiskUsage, tikv.InvCPUUsage, tikv.InvStoreRestart}, inv.Name,
			"an invariant that needs Prometheus without one")
	}
}

func TestRegionPeersFireWhenAStoreIsDown(t *testing.T) {
	th := tikv.DefaultThresholds()
	th.PeerGrace = 30 * time.Second
	c := newCluster(t, func(cfg *tikv.Config) { cfg.Thresholds = &th })
	ctx := t.Context()
	require.NoError(t, c.sub.PD().SetMaxStoreDownTime(ctx, time.Minute))
	e := evaluator(t, c.sub)
	require.NoError(t, c.sim.StopStore(5))
	var got []string
	for range 150 {
		c.sim.Advance(time.Second)
		got = append(got, evaluate(t, e, c.sim.Now(), tikv.InvRegionPeers)...)
	}
	require.Equal(t, []string{
		"region_peers down-peer: inactive -> pending",
		"region_peers down-peer: pending -> firing",
	}, got)
	st, err := c.sim.StoreState(5)
	require.NoError(t, err)
	require.Equal(t, subject.StateDown, st)
}

func TestActionsAreLoggedBeforeAndAfter(t *testing.T) {
	var buf bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	c := newCluster(t, func(cfg *tikv.Config) { cfg.Logger = logger })
	ctx := t.Context()
	reg, err := c.sub.PD().RegionByID(ctx, firstRegion(t, c))
	require.NoError(t, err)
	_, err = c.sub.TransferLeader(ctx, subject.RegionID(reg.ID), otherVoter(t, reg))
	require.NoError(t, err)
	_, err = c.sub.TransferLeader(ctx, 999999, 1)
	require.Error(t, err)
	var msgs []string
	for line := range strings.SplitSeq(strings.TrimSpace(buf.String()), "\n") {
		var rec map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &rec))
		require.Equal(t, "transfer_leader", rec["action"], "record %s", line)
		msgs = append(msgs, rec["msg"].(string))
	}
	// At Debug, each read of the transfer's wait is logged with its
	// progress: one before PD moved the leader, one after.
	require.Equal(t, []string{"action starting", "action waiting", "action waiting", "action done", "action starting", "action failed"}, msgs)
}

// TestCapabilitiesDescribeEverything checks that every method of the
// subject.Observer and subject.Actor interfaces has its description, under
// its snake_case name, and that the whole marshals to JSON.
func TestCapabilitiesDescribeEverything(t *testing.T) {
	c := newCluster(t, func(cfg *tikv.Config) {
		cfg.DisableMetrics = false
		cfg.Logs = tikv.NewFileLogSource(t.TempDir() + "/tikv.log")
	})
	caps := c.sub.Capabilities()
	have := map[string]bool{}
	for _, a := range caps.Actions {
		have[a.Name] = true
		require.NotEmpty(t, a.Description, a.Name)
		for _, p := range a.Params {
			require.Contains(t, []string{"integer", "number", "string", "boolean"}, p.Type, "%s.%s", a.Name, p.Name)
		}
		if a.Undo != "" {
			_, ok := caps.Action(a.Undo)
			require.True(t, ok, "%s is undone by %s, which is not listed", a.Name, a.Undo)
		}
	}
	for _, o := range caps.Observations {
		have[o.Name] = true
		require.NotEmpty(t, o.Description, o.Name)
	}
	for _, typ := range []reflect.Type{reflect.TypeFor[subject.Actor](), reflect.TypeFor[subject.Observer]()} {
		for m := range typ.Methods() {
			require.True(t, have[snake(m.Name)], "%s.%s has no capability %q", typ.Name(), m.Name, snake(m.Name))
		}
	}
	invs := map[string]bool{}
	for _, inv := range c.sub.Invariants() {
		invs[inv.Name] = true
	}
	for _, slo := range caps.SLOs {
		require.True(t, invs[slo.Name], "SLO %s has no invariant", slo.Name)
		delete(invs, slo.Name)
	}
	require.Empty(t, invs, "invariants evaluated but not listed as SLOs")
	for _, a := range caps.Actions {
		require.NotNil(t, a.Input, "%s has no input schema", a.Name)
		require.False(t, a.Annotations.ReadOnly, "%s", a.Name)
	}
	for _, o := range caps.Observations {
		require.NotNil(t, o.Output, "%s has no output schema", o.Name)
		require.True(t, o.Annotations.ReadOnly, "%s", o.Name)
	}
	b, err := json.Marshal(caps)
	require.NoError(t, err)
	var back subject.Capabilities
	require.NoError(t, json.Unmarshal(b, &back))
	b2, err := json.Marshal(back)
	require.NoError(t, err)
	require.JSONEq(t, string(b), string(b2), "capabilities do not survive a JSON round trip")
}

func snake(s string) string {
	var b strings.Builder
	for i, r := range s {
		if unicode.IsUpper(r) {
			if i > 0 {
				b.WriteByte('_')
			}
			r = unicode.ToLower(r)
		}
		b.WriteRune(r)
	}
	return b.String()
}

func TestCapabilitiesListOnlyWhatTheSubjectCanDo(t *testing.T) {
	c := newCluster(t, nil) // no Prometheus, no log source
	caps := c.sub.Capabilities()
	for _, o := range caps.Observations {
		require.NotContains(t, []string{"store_metrics", "all_store_metrics", "leadership_changes"}, o.Name)
	}
	var slos []string
	for _, s := range caps.SLOs {
		slos = append(slos, s.Name)
	}
	require.Equal(t, []string{tikv.InvStoreHealth, tikv.InvLowSpace, tikv.InvRegionPeers, tikv.InvLeaderImbalance}, slos,
		"the SLOs are the invariants that need PD only")
	require.Len(t, caps.Actions, 10, "actions need PD only; reconcile_evictions needs a ledger")
}
