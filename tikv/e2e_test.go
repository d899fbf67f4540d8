package tikv_test

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/kvops/operator/internal/promtest"
	"github.com/kvops/operator/invariant"
	"github.com/kvops/operator/pdclient"
	"github.com/kvops/operator/promclient"
	"github.com/kvops/operator/subject"
	"github.com/kvops/operator/tikv"
	"github.com/kvops/operator/tikv/tikvtest"
)

var start = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

type fixedClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fixedClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

// cluster is a simulated cluster whose time moves only when the test says
// so, and a Subject over it whose actions advance the simulation while they
// wait.
type cluster struct {
	sim *tikvtest.Cluster
	sub *tikv.Subject
}

func newCluster(t *testing.T, mod func(*tikv.Config)) *cluster {
	t.Helper()
	cl, err := tikvtest.NewUnstartedCluster(tikvtest.Config{Stores: 5, Regions: 60, Clock: &fixedClock{t: start}, Seed: 1})
	require.NoError(t, err)
	require.NoError(t, cl.Start(t.Context()))
	t.Cleanup(func() { _ = cl.Close() })
	cl.Advance(time.Second)
	cfg := tikv.Config{
		PD:             pdclient.Config{Endpoints: []string{cl.PDURL()}},
		DisableMetrics: true,
		Clock:          cl.Now,
		Actions:        tikv.ActionConfig{PollInterval: time.Second},
		Sleep: func(ctx context.Context, d time.Duration) error {
			cl.Advance(d)
			return ctx.Err()
		},
	}
	if mod != nil {
		mod(&cfg)
	}
	sub, err := tikv.New(cfg)
	require.NoError(t, err)
	return &cluster{sim: cl, sub: sub}
}

// evaluate runs the evaluator at the simulation's time and returns the
// transitions as "invariant key: from -> to" strings.
func evaluate(t *testing.T, e *invariant.Evaluator, now time.Time, only string) []string {
	t.Helper()
	rep, err := e.Evaluate(t.Context(), now)
	require.NoError(t, err)
	for _, ce := range rep.Errors {
		if ce.Invariant == only {
			t.Fatalf("check %s failed: %v", ce.Invariant, ce.Err)
		}
	}
	out := []string{}
	for _, tr := range rep.Transitions {
		if tr.Invariant == only {
			out = append(out, fmt.Sprintf("%s %s: %s -> %s", tr.Invariant, tr.Key, tr.From, tr.To))
		}
	}
	return out
}

func evaluator(t *testing.T, sub *tikv.Subject) *invariant.Evaluator {
	t.Helper()
	e, err := invariant.New(sub.Invariants(), invariant.Config{})
	require.NoError(t, err)
	return e
}

func TestStoppedStoreFiresAtOnce(t *testing.T) {
	c := newCluster(t, nil)
	e := evaluator(t, c.sub)
	if got := evaluate(t, e, c.sim.Now(), tikv.InvStoreHealth); len(got) != 0 {
		t.Fatalf("healthy cluster: transitions %v", got)
	}
	require.NoError(t, c.sim.StopStore(2))
	var fired time.Duration
	for elapsed := time.Duration(0); elapsed <= time.Minute; elapsed += time.Second {
		c.sim.Advance(time.Second)
		got := evaluate(t, e, c.sim.Now(), tikv.InvStoreHealth)
		if len(got) == 0 {
			continue
		}
		// Grace 0: the first evaluation that sees it Disconnected fires.
		if diff := cmp.Diff([]string{"store_health store=2: inactive -> firing"}, got); diff != "" {
			t.Fatalf("transitions (-want +got):\n%s", diff)
		}
		fired = elapsed
		break
	}
	if fired == 0 {
		t.Fatal("store 2 never fired")
	}
	st, err := c.sim.StoreState(2)
	require.NoError(t, err)
	require.Equal(t, subject.StateDisconnected, st)
	// PD reports Disconnected after 20 s without a heartbeat; heartbeats
	// come every 10 s, so the store fires 10 to 21 s after it stopped.
	if fired < 10*time.Second || fired > 21*time.Second {
		t.Errorf("fired %v after the stop, want 10s to 21s", fired)
	}
	require.NoError(t, c.sim.StartStore(2))
	var resolved bool
	for range 15 {
		c.sim.Advance(time.Second)
		if got := evaluate(t, e, c.sim.Now(), tikv.InvStoreHealth); len(got) > 0 {
			require.Equal(t, []string{"store_health store=2: firing -> resolved"}, got)
			resolved = true
			break
		}
	}
	require.True(t, resolved, "store 2 did not resolve within 15s of starting again")
}

func TestPDLeaderChangeFiresNothing(t *testing.T) {
	c := newCluster(t, nil)
	e := evaluator(t, c.sub)
	evaluate(t, e, c.sim.Now(), tikv.InvStoreHealth)
	c.sim.PDLeaderChange()
	sawWindow := false
	for range 32 { // the 12 s election, then the stores' heartbeats
		sawWindow = showsLeaderWindow(t, c.sub) || sawWindow
		rep, err := e.Evaluate(t.Context(), c.sim.Now())
		require.NoError(t, err)
		for _, tr := range rep.Transitions {
			t.Errorf("transition during the PD leader change: %s", tr)
		}
		c.sim.Advance(time.Second)
	}
	require.True(t, sawWindow, "the simulation never showed the all-Disconnected 0B window")
	// A store that really stops after the window still fires.
	stopFires(t, c.sim, e, 4)
}

func TestTransferLeader(t *testing.T) {
	c := newCluster(t, nil)
	ctx := t.Context()
	reg, err := c.sub.PD().RegionByID(ctx, firstRegion(t, c))
	require.NoError(t, err)
	to := otherVoter(t, reg)
	res, err := c.sub.TransferLeader(ctx, subject.RegionID(reg.ID), to)
	require.NoError(t, err)
	require.Equal(t, "transfer_leader", res.Action)
	require.Contains(t, res.Summary, fmt.Sprintf("to store %d", to))
	after, err := c.sub.PD().RegionByID(ctx, reg.ID)
	require.NoError(t, err)
	require.Equal(t, uint64(to), after.Leader.StoreID, "the next observation shows the new leader")
	// The same again is a no-op that says so.
	res, err = c.sub.TransferLeader(ctx, subject.RegionID(reg.ID), to)
	require.NoError(t, err)
	require.Contains(t, res.Summary, "already")
}

// TestActionPollIntervalZeroTakesDefault: a zero Actions.PollInterval
// re-reads PD every DefaultActionConfig().PollInterval (500ms), and a set
// one is used as given.
func TestActionPollIntervalZeroTakesDefault(t *testing.T) {
	for _, tc := range []struct {
		set, want time.Duration
	}{
		{0, tikv.DefaultActionConfig().PollInterval},
		{3 * time.Second, 3 * time.Second},
	} {
		var slept []time.Duration
		c := newCluster(t, func(cfg *tikv.Config) {
			cfg.Actions.PollInterval = tc.set
			sleep := cfg.Sleep
			cfg.Sleep = func(ctx context.Context, d time.Duration) error {
				slept = append(slept, d)
				return sleep(ctx, d)
			}
		})
		reg, err := c.sub.PD().RegionByID(t.Context(), firstRegion(t, c))
		require.NoError(t, err)
		_, err = c.sub.TransferLeader(t.Context(), subject.RegionID(reg.ID), otherVoter(t, reg))
		require.NoError(t, err)
		require.NotEmpty(t, slept, "the action waited for PD")
		if diff := cmp.Diff(tc.want, slept[0]); diff != "" {
			t.Errorf("PollInterval %v: first pause (-want +got):\n%s", tc.set, diff)
		}
	}
	require.Equal(t, 500*time.Millisecond, tikv.DefaultActionConfig().PollInterval)
}

func TestActionsRefusedChangeNothing(t *testing.T) {
	c := newCluster(t, nil)
	ctx := t.Context()
	regID := firstRegion(t, c)
	reg, err := c.sub.PD().RegionByID(ctx, regID)
	require.NoError(t, err)
	leader := reg.Leader.StoreID
	var notVoter subject.StoreID
	for id := subject.StoreID(1); id <= 5; id++ {
		if _, ok := peerOn(reg, id); !ok {
			notVoter = id
			break
		}
	}
	require.NotZero(t, notVoter)
	down := otherVoter(t, reg)
	require.NoError(t, c.sim.StopStore(down))
	c.sim.Advance(25 * time.Second)

	// Each refusal matches its sentinel, and its message names what it
	// refused (the region, the store, the value): that a message names
	// what failed is the library's documented promise (RELIABILITY.md);
	// the rest of the wording is not, and is not checked.
	tests := []struct {
		name   string
		act    func() (subject.Result, error)
		target error
		names  string
	}{
		{"missing region", func() (subject.Result, error) { return c.sub.TransferLeader(ctx, 999999, 1) }, subject.ErrNotFound, "999999"},
		{"missing store", func() (subject.Result, error) { return c.sub.TransferLeader(ctx, subject.RegionID(regID), 999) }, subject.ErrNotFound, "999"},
		{"store without a voter", func() (subject.Result, error) { return c.sub.TransferLeader(ctx, subject.RegionID(regID), notVoter) }, subject.ErrPrecondition, notVoter.String()},
		{"down store", func() (subject.Result, error) { return c.sub.TransferLeader(ctx, subject.RegionID(regID), down) }, subject.ErrPrecondition, down.String()},
		{"split of a missing region", func() (subject.Result, error) { return c.sub.SplitRegion(ctx, 999999) }, subject.ErrNotFound, "999999"},
		{"drain of a missing store", func() (subject.Result, error) { return c.sub.DrainStore(ctx, 999) }, subject.ErrNotFound, "999"},
		{"limit out of range", func() (subject.Result, error) {
			return c.sub.SetScheduleLimit(ctx, subject.LeaderLimit, tikv.MaxScheduleLimit+1)
		}, subject.ErrInvalid, strconv.FormatUint(tikv.MaxScheduleLimit+1, 10)},
		{"low space below high space", func() (subject.Result, error) { return c.sub.SetLowSpaceThreshold(ctx, 50) }, subject.ErrInvalid, "50"},
		{"low space out of range", func() (subject.Result, error) { return c.sub.SetLowSpaceThreshold(ctx, 120) }, subject.ErrInvalid, "120"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.act()
			require.Error(t, err)
			require.ErrorIs(t, err, tt.target)
			require.Regexp(t, `\b`+tt.names+`\b`, err.Error(), "the message names what was refused")
		})
	}
	after, err := c.sub.PD().RegionByID(ctx, regID)
	require.NoError(t, err)
	require.Equal(t, leader, after.Leader.StoreID, "a refused action moved the leader")
	require.Equal(t, reg.Epoch, after.Epoch, "a refused action changed the region")
	cfg, err := c.sub.PD().ScheduleConfig(ctx)
	require.NoError(t, err)
	require.NotEqual(t, uint64(tikv.MaxScheduleLimit+1), cfg.LeaderScheduleLimit)
	require.NotEqual(t, 0.5, cfg.LowSpaceRatio)
}

func TestDrainThenUndo(t *testing.T) {
	c := newCluster(t, nil)
	ctx := t.Context()
	res, err := c.sub.DrainStore(ctx, 3)
	require.NoError(t, err)
	require.Contains(t, res.Summary, "Offline")
	st, err := c.sim.StoreState(3)
	require.NoError(t, err)
	require.Equal(t, subject.StateOffline, st)
	res, err = c.sub.DrainStore(ctx, 3)
	require.NoError(t, err, "draining a draining store is harmless")
	require.Contains(t, res.Summary, "already draining")
	res, err = c.sub.UndrainStore(ctx, 3)
	require.NoError(t, err)
	require.Contains(t, res.Summary, "returned store 3 to service")
	stores, err := c.sub.Stores(ctx)
	require.NoError(t, err)
	require.Equal(t, subject.StateUp, stores[2].State, "store 3 after undo")
}

func TestEvictAndRestoreLeadersAreIdempotent(t *testing.T) {
	c := newCluster(t, nil)
	ctx := t.Context()
	for range 2 {
		_, err := c.sub.EvictLeaders(ctx, 1)
		require.NoError(t, err)
	}
	for range 10 {
		c.sim.Advance(time.Second)
	}
	stores, err := c.sub.Stores(ctx)
	require.NoError(t, err)
	require.Zero(t, stores[0].LeaderCount, "store 1 still leads regions after eviction")
	for range 2 {
		_, err := c.sub.RestoreLeaders(ctx, 1)
		require.NoError(t, err)
	}
	scheds, err := c.sub.PD().Schedulers(ctx)
	require.NoError(t, err)
	for _, s := range scheds {
		require.NotContains(t, s, "evict-leader", "scheduler left behind")
	}
}

func TestSplitRegion(t *testing.T) {
	c := newCluster(t, nil)
	ctx := t.Context()
	id := firstRegion(t, c)
	res, err := c.sub.SplitRegion(ctx, subject.RegionID(id))
	require.NoError(t, err)
	require.Len(t, res.Regions, 2, "a split gives two regions over the old range: %+v", res)
	require.Contains(t, res.Regions, subject.RegionID(id))

	res, err = c.sub.SplitRegionWith(ctx, subject.RegionID(id), pdclient.SplitScan)
	require.NoError(t, err)
	require.Len(t, res.Regions, 2, "the scan split of the lower half: %+v", res)

	reg, err := c.sub.PD().RegionByID(ctx, id)
	require.NoError(t, err)
	sreg, err := tikv.RegionFromPD(*reg)
	require.NoError(t, err)
	for _, k := range [][]byte{sreg.StartKey, sreg.EndKey, append(slices.Clone(sreg.EndKey), 0)} {
		_, err = c.sub.SplitRegionWith(ctx, subject.RegionID(id), pdclient.SplitUseKey, k)
		require.ErrorIs(t, err, subject.ErrInvalid, "key %X", k)
	}
	after, err := c.sub.PD().RegionByID(ctx, id)
	require.NoError(t, err)
	require.Equal(t, reg.Epoch, after.Epoch, "a refused split changed the region")
}

func TestScheduleLimitsAndLowSpace(t *testing.T) {
	c := newCluster(t, nil)
	ctx := t.Context()
	for _, k := range []subject.LimitKind{subject.LeaderLimit, subject.RegionLimit, subject.ReplicaLimit} {
		_, err := c.sub.SetScheduleLimit(ctx, k, 7)
		require.NoError(t, err)
	}
	_, err := c.sub.SetLowSpaceThreshold(ctx, 85)
	require.NoError(t, err)
	cfg, err := c.sub.PD().ScheduleConfig(ctx)
	require.NoError(t, err)
	got := []any{cfg.LeaderScheduleLimit, cfg.RegionScheduleLimit, cfg.ReplicaScheduleLimit, cfg.LowSpaceRatio}
	if diff := cmp.Diff([]any{uint64(7), uint64(7), uint64(7), 0.85}, got); diff != "" {
		t.Errorf("config after the actions (-want +got):\n%s", diff)
	}
}

func TestDryRunChangesNothing(t *testing.T) {
	c := newCluster(t, func(cfg *tikv.Config) { cfg.DryRun = true })
	ctx := t.Context()
	id := firstRegion(t, c)
	reg, err := c.sub.PD().RegionByID(ctx, id)
	require.NoError(t, err)
	to := otherVoter(t, reg)
	actions := []func() (subject.Result, error){
		func() (subject.Result, error) { return c.sub.TransferLeader(ctx, subject.RegionID(id), to) },
		func() (subject.Result, error) { return c.sub.SplitRegion(ctx, subject.RegionID(id)) },
		func() (subject.Result, error) { return c.sub.DrainStore(ctx, 2) },
		func() (subject.Result, error) { return c.sub.EvictLeaders(ctx, 2) },
		func() (subject.Result, error) { return c.sub.SetScheduleLimit(ctx, subject.LeaderLimit, 9) },
		func() (subject.Result, error) { return c.sub.SetLowSpaceThreshold(ctx, 90) },
	}
	for _, act := range actions {
		res, err := act()
		require.NoError(t, err)
		require.True(t, res.DryRun)
		require.True(t, strings.HasPrefix(res.Summary, "would "), "summary %q", res.Summary)
	}
	c.sim.Advance(5 * time.Second)
	after, err := c.sub.PD().RegionByID(ctx, id)
	require.NoError(t, err)
	require.Equal(t, reg.Leader, after.Leader)
	require.Equal(t, reg.Epoch, after.Epoch)
	st, err := c.sim.StoreState(2)
	require.NoError(t, err)
	require.Equal(t, subject.StateUp, st)
	scheds, err := c.sub.PD().Schedulers(ctx)
	require.NoError(t, err)
	for _, s := range scheds {
		require.NotContains(t, s, "evict-leader")
	}
}

// storeHistory is OpenMetrics text of the simulated stores' TiKV metrics
// over the hour before now, one sample every 15 s, for a real Prometheus
// to serve from a backfilled TSDB: every store writes 1000 times an
// interval in (2 ms, 4 ms], except store 2 from slowFrom to slowTo, whose
// writes take (256 ms, 512 ms]; store 3 restarts at restartAt; disk sizes
// and leader and region counts are steady.
func storeHistory(t *testing.T, cl *tikvtest.Cluster, now, slowFrom, slowTo, restartAt time.Time) string {
	t.Helper()
	bounds := []string{"0.001", "0.002", "0.004", "0.008", "0.016", "0.032", "0.064", "0.128", "0.256", "0.512", "1.024", "+Inf"}
	const fastFrom, slowFromBucket = 2, 9 // the first bucket counting fast (≤ 4 ms) and slow (≤ 512 ms) writes
	var b strings.Builder
	for _, f := range []string{"tikv_storage_engine_async_request_duration_seconds histogram", "tikv_store_size_bytes gauge",
		"tikv_raftstore_region_count gauge", "process_start_time_seconds gauge"} {
		name, typ, _ := strings.Cut(f, " ")
		fmt.Fprintf(&b, "# TYPE %s %s\n", name, typ)
		for id := subject.StoreID(1); id <= 3; id++ {
			addr, err := cl.StatusAddress(id)
			require.NoError(t, err)
			base := fmt.Sprintf(`instance=%q,job="tikv"`, addr)
			var fast, slow float64 // writes so far
			for at := now.Add(-time.Hour); !at.After(now); at = at.Add(15 * time.Second) {
				ts := at.Unix()
				switch name {
				case "tikv_storage_engine_async_request_duration_seconds":
					if id == 2 && at.After(slowFrom) && !at.After(slowTo) {
						slow += 1000
					} else {
						fast += 1000
					}
					for i, le := range bounds {
						n := 0.0
						if i >= fastFrom {
							n += fast
						}
						if i >= slowFromBucket {
							n += slow
						}
						fmt.Fprintf(&b, "%s_bucket{%s,type=\"write\",le=%q} %g %d\n", name, base, le, n, ts)
					}
					fmt.Fprintf(&b, "%s_count{%s,type=\"write\"} %g %d\n", name, base, fast+slow, ts)
				case "tikv_store_size_bytes":
					fmt.Fprintf(&b, "%s{%s,type=\"capacity\"} 1e12 %d\n%s{%s,type=\"available\"} 6e11 %d\n", name, base, ts, name, base, ts)
				case "tikv_raftstore_region_count":
					fmt.Fprintf(&b, "%s{%s,type=\"leader\"} 10 %d\n%s{%s,type=\"region\"} 30 %d\n", name, base, ts, name, base, ts)
				case "process_start_time_seconds":
					started := now.Add(-2 * time.Hour)
					if id == 3 && !at.Before(restartAt) {
						started = restartAt
					}
					fmt.Fprintf(&b, "%s{%s} %d %d\n", name, base, started.Unix(), ts)
				}
			}
		}
	}
	b.WriteString("# EOF\n")
	return b.String()
}

// TestLatencyRiseFiresAfterGrace runs a real Prometheus over a TSDB
// backfilled with the simulated stores' metrics (storeHistory), and judges
// at explicit times while Prometheus is queried at fixed times of that
// history: store 2's write latency rises, fires after its grace and
// resolves; store 3's restart fires at once. The data is backfilled, not
// scraped: the grace and the judgement are what is tested, and scraping
// is (promclient's TestStoreMetricsScraped, examples/watch); waiting for
// live scrapes took most of this test's time, and a scrape that timed out
// on a loaded machine made its series stale and the readings unknown.
func TestLatencyRiseFiresAfterGrace(t *testing.T) {
	promtest.Require(t)
	cl := runningCluster(t, 3)
	now := time.Now().Truncate(time.Minute)
	normalAt, slowAt, recoveredAt, restartAt := now.Add(-45*time.Minute), now.Add(-30*time.Minute), now.Add(-15*time.Minute), now.Add(-5*time.Minute)
	dir := t.TempDir()
	promtest.Backfill(t, dir, storeHistory(t, cl, now, now.Add(-40*time.Minute), now.Add(-25*time.Minute), now.Add(-8*time.Minute)))
	p := promtest.Start(t, promtest.WithDataDir(dir))

	th := tikv.DefaultThresholds()
	th.WriteLatencyGrace = 30 * time.Second
	var queryAt atomic.Pointer[time.Time] // when Prometheus is queried
	pc := promclient.DefaultConfig()
	pc.Address, pc.Clock = p.URL, func() time.Time { return *queryAt.Load() }
	sub, err := tikv.New(tikv.Config{PD: pdclient.Config{Endpoints: []string{cl.PDURL()}}, Prometheus: pc, Thresholds: &th})
	require.NoError(t, err)
	e := evaluator(t, sub)
	p99 := func(at time.Time) float64 {
		t.Helper()
		queryAt.Store(&at)
		m, err := sub.StoreMetrics(t.Context(), 2)
		require.NoError(t, err)
		v, ok := m.WriteLatencyP99.Get()
		require.True(t, ok, "store 2's p99 at %v: %v", at, m.WriteLatencyP99)
		return v
	}

	require.Less(t, p99(normalAt), 0.1)
	require.Empty(t, evaluate(t, e, start, tikv.InvWriteLatency))

	require.Greater(t, p99(slowAt), 0.1)
	require.Equal(t, []string{"write_latency_p99 store=2: inactive -> pending"}, evaluate(t, e, start.Add(time.Minute), tikv.InvWriteLatency))
	require.Empty(t, evaluate(t, e, start.Add(time.Minute+29*time.Second), tikv.InvWriteLatency))
	require.Equal(t, []string{"write_latency_p99 store=2: pending -> firing"}, evaluate(t, e, start.Add(time.Minute+30*time.Second), tikv.InvWriteLatency))

	require.Less(t, p99(recoveredAt), 0.1)
	require.Equal(t, []string{"write_latency_p99 store=2: firing -> resolved"}, evaluate(t, e, start.Add(2*time.Minute), tikv.InvWriteLatency))

	// Every store's metrics in one call, matched to PD's stores by status
	// address.
	all, err := sub.AllStoreMetrics(t.Context())
	require.NoError(t, err)
	require.Len(t, all, 3)
	for i, m := range all {
		require.Equal(t, subject.StoreID(i+1), m.Store)
		want, err := cl.StatusAddress(m.Store)
		require.NoError(t, err)
		require.Equal(t, want, m.Instance)
		for name, v := range map[string]subject.Value{"disk capacity": m.DiskCapacity, "disk available": m.DiskAvailable, "leaders": m.LeaderCount, "regions": m.RegionCount} {
			require.True(t, v.Known(), "store %d %s: %v", m.Store, name, v)
		}
	}
	_, err = sub.StoreMetrics(t.Context(), 99)
	require.ErrorIs(t, err, subject.ErrNotFound)

	// A restart fires at once.
	require.Empty(t, evaluate(t, e, start.Add(2*time.Minute+30*time.Second), tikv.InvStoreRestart))
	queryAt.Store(&restartAt)
	require.Equal(t, []string{"store_restart store=3: inactive -> firing"}, evaluate(t, e, start.Add(3*time.Minute), tikv.InvStoreRestart))
}

func firstRegion(t *testing.T, c *cluster) uint64 {
	t.Helper()
	for r, err := range c.sub.PD().AllRegions(t.Context()) {
		require.NoError(t, err)
		return r.ID
	}
	t.Fatal("no regions")
	return 0
}

func peerOn(r *pdclient.Region, store subject.StoreID) (pdclient.Peer, bool) {
	for _, p := range r.Peers {
		if p.StoreID == uint64(store) {
			return p, true
		}
	}
	return pdclient.Peer{}, false
}

func otherVoter(t *testing.T, r *pdclient.Region) subject.StoreID {
	t.Helper()
	for _, p := range r.Peers {
		if p.StoreID != r.Leader.StoreID && p.RoleName == "Voter" {
			return subject.StoreID(p.StoreID)
		}
	}
	t.Fatalf("region %d has no other voter", r.ID)
	return 0
}
