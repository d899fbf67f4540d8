package tikvtest

import (
	"encoding/json"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kvops/operator/internal/pdfixture"
	"github.com/kvops/operator/subject"
)

func (cl *client) scheduleConfig() map[string]any {
	cl.t.Helper()
	var m map[string]any
	cl.get("/pd/api/v1/config/schedule", &m)
	return m
}

func (cl *client) leaders(id uint64) int {
	cl.t.Helper()
	return cl.stores()[id].Status.LeaderCount
}

// TestHaltScheduling: PD's kill switch as recorded. Turned on and off
// with the recorded requests and answers, it shows in /config/schedule
// (and /config) only while on; while on, an admin transfer-leader is
// still created and runs, an evict-leader scheduler is still added and
// listed but moves nothing, and neither PD's own evict-slow-store nor a
// drain moves anything; once lifted, all of them go on.
func TestHaltScheduling(t *testing.T) {
	c, cl := newStarted(t)
	c.Advance(time.Second)
	_, on := cl.scheduleConfig()["halt-scheduling"]
	require.False(t, on, "shown only while on")

	replayRecorded(t, cl, "config-halt-scheduling-on")
	sc := cl.scheduleConfig()
	require.Equal(t, "true", sc["halt-scheduling"])
	ex, err := pdfixture.Read(filepath.Join("testdata", "pd-maintenance", "config-schedule-halted.json"))
	require.NoError(t, err)
	var recorded map[string]any
	require.NoError(t, json.Unmarshal(ex.Response.Body, &recorded))
	require.ElementsMatch(t, mapKeys(recorded), mapKeys(sc), "the recorded keys, halt-scheduling among them")
	var full struct {
		Schedule map[string]any `json:"schedule"`
	}
	cl.get("/pd/api/v1/config", &full)
	require.Equal(t, "true", full.Schedule["halt-scheduling"])

	// Admin operators run (recorded: operator-transfer-leader-while-halted,
	// then SUCCESS).
	to := follower(t, c, cl, 9)
	code, _, body := cl.do("POST", "/pd/api/v1/operators", map[string]any{"name": "transfer-leader", "region_id": 9, "to_store_id": to})
	require.Equal(t, http.StatusOK, code, "%s", body)
	require.JSONEq(t, `"The operator is created."`, string(body))
	c.Advance(time.Second)
	now, err := c.RegionLeader(9)
	require.NoError(t, err)
	require.EqualValues(t, to, now, "the admin transfer ran while halted")

	// Schedulers are added, and do nothing.
	replayRecorded(t, cl, "scheduler-add-evict-leader-while-halted") // store 1
	var running []string
	cl.get("/pd/api/v1/schedulers", &running)
	ex, err = pdfixture.Read(filepath.Join("testdata", "pd-maintenance", "schedulers-while-halted.json"))
	require.NoError(t, err)
	var want []string
	require.NoError(t, json.Unmarshal(ex.Response.Body, &want))
	require.ElementsMatch(t, want, running)
	require.NoError(t, c.SetSlowStoreEvicted(3, true))
	cl.mustOK("DELETE", "/pd/api/v1/store/4", nil)
	before := cl.stores()
	for range 60 {
		c.Advance(time.Second)
	}
	after := cl.stores()
	require.Equal(t, before[1].Status.LeaderCount, after[1].Status.LeaderCount, "evict-leader ran while halted")
	require.Equal(t, before[3].Status.LeaderCount, after[3].Status.LeaderCount, "evict-slow-store ran while halted")
	require.Equal(t, before[4].Status.RegionCount, after[4].Status.RegionCount, "the drain moved regions while halted")
	require.Positive(t, after[1].Status.LeaderCount)

	// Values PD refuses change nothing.
	for _, bad := range []map[string]any{
		{"halt-scheduling": false}, {"halt-scheduling": "no"},
		{"halt-scheduling": "false", "leader-schedule-limit": "abc"},
	} {
		code, _, body := cl.do("POST", "/pd/api/v1/config", bad)
		require.Equal(t, http.StatusBadRequest, code, "%v: %s", bad, body)
		require.Equal(t, "true", cl.scheduleConfig()["halt-scheduling"], "%v", bad)
	}

	replayRecorded(t, cl, "config-halt-scheduling-off")
	_, on = cl.scheduleConfig()["halt-scheduling"]
	require.False(t, on)
	for range 30 {
		c.Advance(time.Second)
	}
	after = cl.stores()
	require.Zero(t, after[1].Status.LeaderCount, "evict-leader runs again")
	require.Zero(t, after[3].Status.LeaderCount, "evict-slow-store runs again")
	require.Less(t, after[4].Status.RegionCount, before[4].Status.RegionCount, "the drain goes on")
}

// follower returns a store holding a voter of the region that does not
// lead it.
func follower(t *testing.T, c *Cluster, cl *client, region uint64) uint64 {
	t.Helper()
	leader, err := c.RegionLeader(subject.RegionID(region))
	require.NoError(t, err)
	for _, p := range cl.region(region).Peers {
		if p.StoreID != uint64(leader) {
			return p.StoreID
		}
	}
	t.Fatalf("region %d has no follower", region)
	return 0
}

func mapKeys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// TestStoppingStoreRestarted: PD's evict-stopping-store lets a stopping
// store go once it no longer reports stopping: the store started again
// (a new process) leaves the list at the scheduler's next round, and its
// leaders come back. A scheduler round is what lifts it: not while
// scheduling is halted.
func TestStoppingStoreRestarted(t *testing.T) {
	c, cl := newStarted(t)
	c.Advance(time.Second)
	listed := func() []uint64 {
		t.Helper()
		var l struct {
			Stores []uint64 `json:"evicted-stores"`
		}
		cl.get("/pd/api/v1/scheduler-config/evict-stopping-store-scheduler/list", &l)
		return l.Stores
	}
	require.NoError(t, c.SetStoppingStoreEvicted(2, true))
	for range 5 {
		c.Advance(time.Second)
	}
	require.Zero(t, cl.leaders(2))
	require.NoError(t, c.StopStore(2))
	c.Advance(30 * time.Second)
	require.Equal(t, []uint64{2}, listed(), "stopped, it is still the stopping store")

	cl.mustOK("POST", "/pd/api/v1/config", map[string]any{"halt-scheduling": "true"})
	require.NoError(t, c.StartStore(2))
	c.Advance(5 * time.Second)
	require.Equal(t, []uint64{2}, listed(), "no scheduler round while halted")

	cl.mustOK("POST", "/pd/api/v1/config", map[string]any{"halt-scheduling": "false"})
	c.Advance(time.Second)
	require.Empty(t, listed(), "started again, it no longer reports stopping")
	for range 60 {
		c.Advance(time.Second)
	}
	require.Positive(t, cl.leaders(2), "its leaders come back")
}

// TestTransferToPDEvictedStoreRefused: PD refuses an admin transfer to a
// store its own evict-slow-store or evict-stopping-store evicts, as to one
// of the evict-leader scheduler (PD's leader-target filter:
// slowStoreEvicted, stoppingStoreEvicted in pkg/schedule/filter/filters.go;
// recorded for evict-leader: pd-operators/operator-transfer-to-evicted).
func TestTransferToPDEvictedStoreRefused(t *testing.T) {
	for name, set := range map[string]func(*Cluster, uint64) error{
		"slow":     func(c *Cluster, id uint64) error { return c.SetSlowStoreEvicted(storeID(int(id)), true) },
		"stopping": func(c *Cluster, id uint64) error { return c.SetStoppingStoreEvicted(storeID(int(id)), true) },
	} {
		t.Run(name, func(t *testing.T) {
			c, cl := newStarted(t)
			to := follower(t, c, cl, 9)
			require.NoError(t, set(c, to))
			code, _, body := cl.do("POST", "/pd/api/v1/operators", map[string]any{"name": "transfer-leader", "region_id": 9, "to_store_id": to})
			require.Equal(t, http.StatusInternalServerError, code)
			require.JSONEq(t, `"cannot create operator: target leader is not allowed"`, string(body))
		})
	}
}
