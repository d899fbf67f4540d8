package conformance

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kvops/operator/internal/realpd"
	"github.com/kvops/operator/pdclient"
	"github.com/kvops/operator/tikv"
	"github.com/kvops/operator/tikv/tikvtest"
)

// The cluster both backends run: five stores, 200 regions of three
// replicas, 1 TiB disks (pd-simulator's), max-store-down-time 30 s.
const (
	stores  = 5
	regions = 200
	// maxStoreDownTime is PD's max-store-down-time on both backends:
	// short, so that stores go Down within a scenario.
	maxStoreDownTime = 30 * time.Second
)

// sharedPD is the real cluster every real-PD scenario shares, started by
// the first one: three members, so that the PD leader can be killed.
var sharedPD = realpd.NewShared(realpd.Config{Members: 3, Stores: stores, Regions: regions, MaxStoreDownTime: maxStoreDownTime})

// cluster is one backend while a scenario runs on it.
type cluster interface {
	// config returns the base of a Subject's configuration: PD's
	// endpoints and, for tikvtest, its clock.
	config() tikv.Config
	// sleep lets d pass: real time, or tikvtest's clock.
	sleep(ctx context.Context, d time.Duration) error
	now() time.Time
	// pdURL is a PD endpoint for requests the Subject does not make.
	pdURL(t *testing.T) string
	// stopStores stops every store's heartbeats; startStores starts them
	// again and waits until every store is Up.
	stopStores(t *testing.T)
	startStores(t *testing.T)
	// changePDLeader makes PD elect another leader (a real one: kills the
	// leader), and returns what brings the cluster back.
	changePDLeader(t *testing.T) (restore func(t *testing.T))
}

// backend opens a cluster for one scenario, in its initial state: every
// store Up, no scheduler or operator of the suite's, PD's default limits.
type backend struct {
	name string
	open func(t *testing.T) cluster
	// fresh opens a cluster of its own, just born: its stores registered
	// with PD, none heartbeaten yet.
	fresh func(t *testing.T) cluster
}

var backends = []backend{
	{"tikvtest", openSim, freshSim},
	{"realpd", openReal, freshReal},
}

// t0 is tikvtest's start time.
var t0 = time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)

type fixedClock struct{ t time.Time }

func (c fixedClock) Now() time.Time { return c.t }

// simCluster is a fresh tikvtest cluster for each scenario, configured as
// realpd's: pd-simulator's disk size, its stores that never split, and
// the same max-store-down-time.
type simCluster struct {
	c *tikvtest.Cluster
}

func openSim(t *testing.T) cluster { return newSim(t, false) }

func freshSim(t *testing.T) cluster { return newSim(t, true) }

func newSim(t *testing.T, fresh bool) cluster {
	c := tikvtest.NewCluster(t, tikvtest.Config{Stores: stores, Regions: regions, Clock: fixedClock{t0},
		Seed: 1, StoreCapacity: 1 << 40, NoSplits: true, Fresh: fresh})
	s := &simCluster{c: c}
	status, body := raw(t, s.pdURL(t), http.MethodPost, "/pd/api/v1/config", map[string]any{"max-store-down-time": maxStoreDownTime.String()})
	require.Equal(t, http.StatusOK, status, "%s", body)
	c.Advance(time.Second)
	return s
}

func (s *simCluster) config() tikv.Config {
	return tikv.Config{
		PD:    pdclient.Config{Endpoints: []string{s.c.PDURL()}},
		Clock: s.c.Now,
	}
}

func (s *simCluster) sleep(ctx context.Context, d time.Duration) error {
	s.c.Advance(d)
	return ctx.Err()
}

func (s *simCluster) now() time.Time { return s.c.Now() }

func (s *simCluster) pdURL(*testing.T) string { return s.c.PDURL() }

func (s *simCluster) stopStores(t *testing.T) {
	for id := range stores {
		require.NoError(t, s.c.StopStore(storeID(id+1)))
	}
}

func (s *simCluster) startStores(t *testing.T) {
	for id := range stores {
		require.NoError(t, s.c.StartStore(storeID(id+1)))
	}
	s.c.Advance(time.Second)
}

func (s *simCluster) changePDLeader(*testing.T) func(*testing.T) {
	s.c.PDLeaderChange()
	return func(*testing.T) {}
}

// realCluster is the shared real cluster. Each scenario gets it in the
// initial state; what a scenario changed is undone when it ends (reset).
type realCluster struct {
	c *realpd.Cluster
}

func openReal(t *testing.T) cluster {
	c := sharedPD.Get(t)
	r := &realCluster{c: c}
	t.Cleanup(func() { r.reset(t) })
	return r
}

// freshReal starts a one-member cluster of its own and returns as soon as
// the simulator runs.
func freshReal(t *testing.T) cluster {
	c := realpd.Start(t, realpd.Config{Stores: stores, Regions: regions, MaxStoreDownTime: maxStoreDownTime, NoWait: true})
	return &realCluster{c: c}
}

func (r *realCluster) config() tikv.Config {
	return tikv.Config{PD: pdclient.Config{Endpoints: r.c.Endpoints()}}
}

func (r *realCluster) sleep(ctx context.Context, d time.Duration) error {
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-tm.C:
		return nil
	}
}

func (r *realCluster) now() time.Time { return time.Now() }

func (r *realCluster) pdURL(t *testing.T) string {
	l, err := r.c.Leader(context.Background())
	require.NoError(t, err)
	return l.URL()
}

func (r *realCluster) stopStores(t *testing.T) { require.NoError(t, r.c.StopStores()) }

func (r *realCluster) startStores(t *testing.T) {
	require.NoError(t, r.c.StartStores())
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	require.NoError(t, r.c.WaitReady(ctx))
}

func (r *realCluster) changePDLeader(t *testing.T) func(*testing.T) {
	ctx := context.Background()
	// The new leader will judge the stores by the heartbeat PD wrote down
	// when they first heartbeat (it writes the next 5 minutes later): let
	// that be older than max-store-down-time, as tikvtest's is, so that
	// both show the stores Down at 0B, the case store health must hold.
	if wait := time.Until(r.c.ReadyAt().Add(maxStoreDownTime + 10*time.Second)); wait > 0 {
		time.Sleep(wait)
	}
	l, err := r.c.Leader(ctx)
	require.NoError(t, err)
	require.NoError(t, l.Kill())
	return func(t *testing.T) { require.NoError(t, l.Start(ctx)) }
}

// reset brings the shared cluster back to its initial state: stores
// heartbeating and Up, every member running, no evict-leader scheduler, no
// store Offline, no admin operator pending, PD's default limits.
func (r *realCluster) reset(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c := r.c
	if err := c.StartStores(); err != nil {
		t.Errorf("reset: start stores: %v", err)
	}
	for _, m := range c.Members() {
		if !m.Running() {
			if err := m.Start(ctx); err != nil {
				t.Errorf("reset: start %s: %v", m.Name(), err)
			}
		}
	}
	url := r.pdURL(t)
	var schedulers []string
	getJSON(t, url, "/pd/api/v1/schedulers", &schedulers)
	for _, name := range schedulers {
		if strings.HasPrefix(name, "evict-leader-scheduler") {
			status, body := raw(t, url, http.MethodDelete, "/pd/api/v1/schedulers/"+name, nil)
			require.Equal(t, http.StatusOK, status, "reset: remove %s: %s", name, body)
		}
	}
	var ops []struct {
		RegionID uint64 `json:"region_id"`
	}
	getJSON(t, url, "/pd/api/v1/operators?kind=admin&object=true", &ops)
	for _, op := range ops {
		// The operator may have ended meanwhile: any answer will do.
		raw(t, url, http.MethodDelete, fmt.Sprintf("/pd/api/v1/operators/%d", op.RegionID), nil)
	}
	st, err := c.Stores(ctx)
	require.NoError(t, err)
	for _, s := range st {
		if s.State == "Offline" {
			status, body := raw(t, url, http.MethodPost, fmt.Sprintf("/pd/api/v1/store/%d/state?state=Up", s.ID), nil)
			require.Equal(t, http.StatusOK, status, "reset: undrain store %d: %s", s.ID, body)
		}
	}
	// One item at a time, low space before high space: PD checks each
	// against the other as it sets it.
	for _, item := range []map[string]any{
		{"low-space-ratio": 0.8}, {"high-space-ratio": 0.7},
		{"leader-schedule-limit": 4, "region-schedule-limit": 2048, "replica-schedule-limit": 64, "max-store-down-time": maxStoreDownTime.String()},
	} {
		require.NoError(t, c.SetConfig(ctx, item))
	}
	require.NoError(t, c.WaitReady(ctx))
	r.waitIdle(t, ctx)
	r.waitHealthy(t, ctx)
}

// waitIdle waits until PD runs no operator but splits: the peer moves a
// drain started, or the leader moves of a restore, are over. PD's own
// splits (its region labeler's) never end here: pd-simulator never
// carries them out, and PD makes a new one each time one times out.
func (r *realCluster) waitIdle(t *testing.T, ctx context.Context) {
	for {
		var ops []string
		getJSON(t, r.pdURL(t), "/pd/api/v1/operators", &ops)
		ops = slices.DeleteFunc(ops, func(op string) bool { return strings.Contains(op, "split-region {") })
		if len(ops) == 0 {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("reset: PD still runs %d operators: %v", len(ops), ops)
		case <-time.After(time.Second):
		}
	}
}

// waitHealthy waits until the invariants find nothing: PD's schedulers
// have evened out what a scenario left uneven (a drain, an eviction), so
// that the next scenario, or the next run of the suite, starts healthy.
func (r *realCluster) waitHealthy(t *testing.T, ctx context.Context) {
	sub, err := tikv.New(tikv.Config{PD: pdclient.Config{Endpoints: r.c.Endpoints()}, DisableMetrics: true})
	require.NoError(t, err)
	defer sub.PD().CloseIdleConnections()
	var last []string
	for {
		last = last[:0]
		for _, inv := range sub.Invariants() {
			fs, err := inv.Check(ctx, time.Now())
			if err != nil {
				last = append(last, inv.Name+": "+err.Error())
			}
			for _, f := range fs {
				last = append(last, inv.Name+": "+f.Message)
			}
		}
		if len(last) == 0 {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("reset: the cluster is not healthy again: %v", last)
		case <-time.After(time.Second):
		}
	}
}

// rawClient sends the suite's own requests to PD.
var rawClient = &http.Client{Timeout: 10 * time.Second}

// raw sends one request to PD and returns the answer's status and body.
func raw(t *testing.T, base, method, path string, in any) (int, []byte) {
	t.Helper()
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		require.NoError(t, err)
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, base+path, body)
	require.NoError(t, err)
	resp, err := rawClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, b
}

func getJSON(t *testing.T, base, path string, out any) {
	t.Helper()
	status, b := raw(t, base, http.MethodGet, path, nil)
	require.Equal(t, http.StatusOK, status, "GET %s: %s", path, b)
	require.NoError(t, json.Unmarshal(b, out), "GET %s: %s", path, b)
}

// closeIdle closes the suite's idle connections, for goleak.
func closeIdle() { rawClient.CloseIdleConnections() }

// once runs f the first time it is called; for a hook that acts once in
// the middle of an action.
type once struct {
	mu   sync.Mutex
	done bool
}

func (o *once) do(f func()) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if !o.done {
		o.done = true
		f()
	}
}
