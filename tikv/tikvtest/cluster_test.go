package tikvtest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/kvops/operator/subject"
)

func TestStoppedStoreGoesDisconnectedThenDown(t *testing.T) {
	tests := []struct {
		name    string
		maxDown string // "" keeps PD's default of 30m
		checks  []struct {
			after time.Duration // since the store's last heartbeat
			want  string
		}
	}{
		{name: "default max-store-down-time", checks: []struct {
			after time.Duration
			want  string
		}{
			{19 * time.Second, "Up"}, {20 * time.Second, "Up"}, {21 * time.Second, "Disconnected"},
			{29*time.Minute + 59*time.Second, "Disconnected"}, {30*time.Minute + time.Second, "Down"},
		}},
		{name: "max-store-down-time 40s", maxDown: "40s", checks: []struct {
			after time.Duration
			want  string
		}{
			{15 * time.Second, "Up"}, {21 * time.Second, "Disconnected"}, {39 * time.Second, "Disconnected"}, {41 * time.Second, "Down"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, cl := newStarted(t)
			if tt.maxDown != "" {
				cl.mustOK("POST", "/pd/api/v1/config", map[string]any{"max-store-down-time": tt.maxDown})
			}
			c.Advance(5 * time.Second)
			require.NoError(t, c.StopStore(3))
			last := time.Unix(0, cl.stores()[3].Store.LastHeartbeat)
			require.False(t, last.IsZero())
			for _, ck := range tt.checks {
				c.Tick(last.Add(ck.after))
				st := cl.stores()[3]
				require.Equal(t, ck.want, st.Store.StateName, "at last heartbeat + %v", ck.after)
				require.Equal(t, last.UnixNano(), st.Store.LastHeartbeat, "a stopped store does not heartbeat")
				for id, s := range cl.stores() {
					if id != 3 {
						require.Equal(t, "Up", s.Store.StateName, "store %d", id)
					}
				}
				var down struct {
					Count   int          `json:"count"`
					Regions []regionView `json:"regions"`
				}
				cl.get("/pd/api/v1/regions/check/down-peer", &down)
				if ck.want == "Down" {
					require.Equal(t, cl.stores()[3].Status.RegionCount, down.Count, "every region with a peer on the down store")
					require.GreaterOrEqual(t, down.Regions[0].DownPeers[0].DownSeconds, uint64(ck.after.Seconds())-1)
				} else {
					require.Zero(t, down.Count)
				}
				var check struct {
					Count int `json:"count"`
				}
				cl.get("/pd/api/v1/stores/check?state=down", &check)
				require.Equal(t, map[bool]int{true: 1, false: 0}[ck.want == "Down"], check.Count)
			}
			// The stopped store lost its leaders to the other voters.
			require.Zero(t, cl.stores()[3].Status.LeaderCount)
			total := 0
			for _, s := range cl.stores() {
				total += s.Status.LeaderCount
			}
			require.Equal(t, 200, total, "every region still has a leader")

			require.NoError(t, c.StartStore(3))
			require.Equal(t, "Up", cl.stateNames()[3])
		})
	}
}

// TestPDLeaderChange: as the real PD of testdata/realpd, PD answers
// nothing but its local paths for 12 s, then the new leader shows every
// store with the heartbeat PD last wrote down and 0B sizes, until the
// store's next heartbeat.
func TestPDLeaderChange(t *testing.T) {
	c, cl := newStarted(t)
	// An odd second: the stores heartbeat on even ones, so none does at
	// the very end of the election.
	c.Advance(13 * time.Second)
	var leader struct {
		Name string `json:"name"`
	}
	cl.get("/pd/api/v1/leader", &leader)
	require.Equal(t, "pd1", leader.Name)

	c.PDLeaderChange()
	for _, d := range []time.Duration{0, 11 * time.Second} {
		c.Advance(d)
		code, hdr, body := cl.do("GET", "/pd/api/v1/stores", nil)
		require.Equal(t, http.StatusInternalServerError, code)
		require.Equal(t, "text/plain; charset=utf-8", hdr.Get("Content-Type"))
		require.Equal(t, "[PD:apiutil:ErrRedirect]redirect failed\n", string(body))
		code, _, body = cl.do("GET", "/pd/api/v1/config", nil)
		require.Equal(t, http.StatusInternalServerError, code, "a follower's own /config merges the dead leader's")
		require.True(t, json.Valid(body), "%s", body)
		for _, local := range []string{"/pd/api/v1/health", "/pd/api/v1/ping", "/pd/api/v1/version", "/pd/api/v1/status"} {
			code, _, _ = cl.do("GET", local, nil)
			require.Equal(t, http.StatusOK, code, "%s is answered by the member itself", local)
		}
	}
	c.Advance(time.Second)
	cl.get("/pd/api/v1/leader", &leader)
	require.Equal(t, "pd2", leader.Name)
	// The heartbeat PD wrote down is older than 20 s: Disconnected.
	for id, s := range cl.stores() {
		require.Equal(t, "Disconnected", s.Store.StateName, "store %d", id)
		require.Equal(t, []string{"0B", "0B", "0B"}, []string{s.Status.Capacity, s.Status.Available, s.Status.UsedSize})
		require.Positive(t, s.Status.RegionCount, "counts come from region heartbeats and stay")
		require.Equal(t, t0.Add(-initialPersistAge).UnixNano(), s.Store.LastHeartbeat, "store %d", id)
	}
	ups := 0
	for range 5 {
		c.Advance(2 * time.Second)
		n := 0
		for _, s := range cl.stores() {
			if s.Store.StateName == "Up" {
				n++
				require.NotEqual(t, "0B", s.Status.Capacity)
			}
		}
		require.GreaterOrEqual(t, n, ups, "stores come back one after another")
		ups = n
	}
	require.Equal(t, 5, ups, "every store heartbeats within 10 s of the election")

	// With max-store-down-time shorter than the age of what PD wrote
	// down, the new leader shows the stores Down (recorded:
	// realpd/stores-follower-after-election-down).
	cl.mustOK("POST", "/pd/api/v1/config", map[string]any{"max-store-down-time": "30s"})
	c.Advance(5 * time.Minute)
	c.Advance(time.Minute)      // PD writes the heartbeats down again,
	c.Advance(30 * time.Second) // and they age past max-store-down-time
	c.PDLeaderChange()
	c.Advance(12 * time.Second)
	for id, s := range cl.stores() {
		require.Equal(t, "Down", s.Store.StateName, "store %d", id)
		require.Equal(t, "0B", s.Status.Capacity)
	}

	// A stopped store stays unreported after a leader change.
	c.Advance(time.Minute)
	require.NoError(t, c.StopStore(2))
	c.PDLeaderChange()
	c.Advance(22 * time.Second)
	all := cl.stores()
	require.Contains(t, []string{"Disconnected", "Down"}, all[2].Store.StateName, "by the heartbeat PD wrote down")
	require.Equal(t, "0B", all[2].Status.Capacity, "never reported to the new leader")
	require.Equal(t, "Up", all[1].Store.StateName)
}

func TestTransferLeader(t *testing.T) {
	c, cl := newStarted(t)
	before := cl.region(9)
	require.Equal(t, uint64(1), before.Leader.StoreID)

	require.Equal(t, `"The operator is created."`,
		string(cl.mustOK("POST", "/pd/api/v1/operators", map[string]any{"name": "transfer-leader", "region_id": 9, "to_store_id": 5})))
	var ops []string
	cl.get("/pd/api/v1/operators", &ops)
	require.Len(t, ops, 1)
	require.Contains(t, ops[0], "admin-transfer-leader {transfer leader: store 1 to 5}")
	require.Equal(t, uint64(1), cl.region(9).Leader.StoreID, "operators run on the next tick")

	c.Advance(time.Second)
	after := cl.region(9)
	require.Equal(t, uint64(5), after.Leader.StoreID)
	require.Equal(t, before.Epoch, after.Epoch, "a leader transfer does not change the epoch")
	cl.get("/pd/api/v1/operators", &ops)
	require.Empty(t, ops)
	var status string
	cl.get("/pd/api/v1/operators/9", &status)
	require.True(t, strings.HasPrefix(status, "status: SUCCESS"), status)

	leader, err := c.RegionLeader(9)
	require.NoError(t, err)
	require.Equal(t, subject.StoreID(5), leader)

	log5, err := c.StoreLog(5)
	require.NoError(t, err)
	require.Contains(t, string(log5), `["became leader at term 7"] [term=7] [raft_id=6] [region_id=9]`)
	log1, err := c.StoreLog(1)
	require.NoError(t, err)
	require.Contains(t, string(log1), `["became follower at term 7"] [term=7] [raft_id=7] [region_id=9]`)
	require.Contains(t, string(c.PDLog()), `["leader changed"] [region-id=9] [from=1] [to=5]`)
}

func TestSplitRegion(t *testing.T) {
	c, cl := newStarted(t)
	before := cl.region(9)
	cl.mustOK("POST", "/pd/api/v1/operators", map[string]any{"name": "split-region", "region_id": 9, "policy": "approximate"})
	c.Advance(time.Second)
	var count struct {
		Count int `json:"count"`
	}
	cl.get("/pd/api/v1/regions/count", &count)
	require.Equal(t, 201, count.Count)
	lower := cl.region(9)
	require.Equal(t, before.Epoch.Version+1, lower.Epoch.Version)
	require.Equal(t, before.StartKey, lower.StartKey)
	require.Less(t, lower.EndKey, before.EndKey)

	var byKey struct {
		Regions []regionView `json:"regions"`
	}
	cl.get("/pd/api/v1/regions/key?key=&limit=2", &byKey)
	require.Len(t, byKey.Regions, 2)
	upper := byKey.Regions[1]
	require.Equal(t, lower.EndKey, upper.StartKey, "the new region covers the upper half")
	require.Equal(t, before.EndKey, upper.EndKey)
	require.Equal(t, before.Epoch.Version+1, upper.Epoch.Version)
	require.Equal(t, lower.Leader.StoreID, upper.Leader.StoreID)
}

func TestSplitKey(t *testing.T) {
	tests := []struct{ start, end []byte }{
		{nil, []byte{0x74}},
		{[]byte{0x74}, []byte{0x74, 0x00, 0x01}},
		{[]byte{0x74, 0xff}, nil},
		{nil, nil},
		{[]byte("a"), []byte("b")},
	}
	for _, tt := range tests {
		k := splitKey(tt.start, tt.end)
		if bytes.Compare(k, tt.start) <= 0 || (tt.end != nil && bytes.Compare(k, tt.end) >= 0) {
			t.Errorf("splitKey(%x, %x) = %x, not strictly between", tt.start, tt.end, k)
		}
	}
}

func TestDrainThenCancelReturnsToUp(t *testing.T) {
	c, cl := newStarted(t)
	start := cl.stores()[4].Status.RegionCount
	require.Equal(t, `"The store is set as Offline."`, string(cl.mustOK("DELETE", "/pd/api/v1/store/4", nil)))
	st := cl.stores()[4]
	require.Equal(t, "Offline", st.Store.StateName)
	require.Equal(t, 2, st.Store.NodeState)
	var offline struct {
		Count int `json:"count"`
	}
	cl.get("/pd/api/v1/regions/check/offline-peer", &offline)
	require.Equal(t, start, offline.Count)

	for range 3 {
		c.Advance(time.Second)
	}
	mid := cl.stores()[4].Status.RegionCount
	require.Less(t, mid, start, "regions move off an Offline store")

	cl.mustOK("POST", "/pd/api/v1/store/4/state?state=Up", nil)
	c.Advance(time.Second) // finishes the moves in flight
	st = cl.stores()[4]
	require.Equal(t, "Up", st.Store.StateName)
	require.Equal(t, 1, st.Store.NodeState)
	settled := st.Status.RegionCount
	for range 3 {
		c.Advance(time.Second)
	}
	require.Equal(t, settled, cl.stores()[4].Status.RegionCount, "a cancelled drain moves nothing more")
	require.Positive(t, settled)
	peers, leaders := 0, 0
	for id, s := range cl.stores() {
		require.Zero(t, s.Status.LearnerCount, "store %d: every move finished", id)
		peers += s.Status.RegionCount
		leaders += s.Status.LeaderCount
	}
	require.Equal(t, 600, peers, "three replicas of 200 regions")
	require.Equal(t, 200, leaders, "one leader per region")
}

func TestDrainToTombstone(t *testing.T) {
	c, cl := newStarted(t)
	cl.mustOK("DELETE", "/pd/api/v1/store/2", nil)
	for range 100 {
		c.Advance(time.Second)
		if st, _ := c.StoreState(2); st == subject.StateTombstone {
			break
		}
	}
	state, err := c.StoreState(2)
	require.NoError(t, err)
	require.Equal(t, subject.StateTombstone, state)
	_, ok := cl.stores()[2]
	require.False(t, ok, "GET /stores leaves Tombstone stores out")
	var all struct {
		Stores []storeView `json:"stores"`
	}
	cl.get("/pd/api/v1/stores?state=2", &all)
	require.Len(t, all.Stores, 1)
	require.Equal(t, "Tombstone", all.Stores[0].Store.StateName)
	var regions struct {
		Regions []regionView `json:"regions"`
	}
	cl.get("/pd/api/v1/regions", &regions)
	for _, r := range regions.Regions {
		require.Len(t, r.Peers, 3, "region %d keeps three replicas", r.ID)
		for _, p := range r.Peers {
			require.NotEqual(t, uint64(2), p.StoreID)
		}
	}
	require.Contains(t, string(c.PDLog()), `["store has been Tombstone"] [store-id=2]`)
	code, _, _ := cl.do("POST", "/pd/api/v1/store/2/state?state=Up", nil)
	require.Equal(t, http.StatusGone, code)
}

func TestEvictLeaderScheduler(t *testing.T) {
	c, cl := newStarted(t)
	add := map[string]any{"name": "evict-leader-scheduler", "store_id": 1}
	require.Equal(t, `"The scheduler is created."`, string(cl.mustOK("POST", "/pd/api/v1/schedulers", add)))
	require.Equal(t, `"The scheduler has been applied to the store."`, string(cl.mustOK("POST", "/pd/api/v1/schedulers", add)))
	var names []string
	cl.get("/pd/api/v1/schedulers", &names)
	require.Contains(t, names, "evict-leader-scheduler")

	require.Positive(t, cl.stores()[1].Status.LeaderCount)
	ticks := 0
	for cl.stores()[1].Status.LeaderCount > 0 && ticks < 20 {
		c.Advance(time.Second)
		ticks++
	}
	require.Zero(t, cl.stores()[1].Status.LeaderCount)
	require.Greater(t, ticks, 1, "leaders leave over a few ticks")

	// A leader transfer to the evicted store is refused.
	code, _, body := cl.do("POST", "/pd/api/v1/operators", map[string]any{"name": "transfer-leader", "region_id": 13, "to_store_id": 1})
	require.Equal(t, http.StatusInternalServerError, code, string(body))

	code, _, body = cl.do("DELETE", "/pd/api/v1/schedulers/evict-leader-scheduler-1", nil)
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, "null", string(body))
	code, _, body = cl.do("DELETE", "/pd/api/v1/schedulers/evict-leader-scheduler-1", nil)
	require.Equal(t, http.StatusNotFound, code)
	require.Equal(t, "null", string(body))
	cl.get("/pd/api/v1/schedulers", &names)
	require.NotContains(t, names, "evict-leader-scheduler")
}

// regionsSnapshot is the /regions answer without down_seconds (which grow
// with time), to show nothing changed.
func regionsSnapshot(cl *client) []regionView {
	var out struct {
		Regions []regionView `json:"regions"`
	}
	cl.get("/pd/api/v1/regions", &out)
	for i := range out.Regions {
		out.Regions[i].DownPeers = nil
	}
	return out.Regions
}

func TestRefusedActionsChangeNothing(t *testing.T) {
	tests := []struct {
		name     string
		prepare  func(c *Cluster)
		method   string
		path     string
		body     any
		wantCode int
		wantBody string
	}{
		{"transfer to a missing region", nil, "POST", "/pd/api/v1/operators",
			map[string]any{"name": "transfer-leader", "region_id": 999999, "to_store_id": 1},
			500, `"[PD:region:ErrRegionNotFound]region 999999 not found"`},
		{"transfer to a down store", func(c *Cluster) {
			_ = c.StopStore(5)
			c.Advance(31 * time.Minute)
		}, "POST", "/pd/api/v1/operators",
			map[string]any{"name": "transfer-leader", "region_id": 9, "to_store_id": 5},
			500, `"cannot create operator: target leader is not allowed"`},
		{"transfer to a store without a peer", nil, "POST", "/pd/api/v1/operators",
			map[string]any{"name": "transfer-leader", "region_id": 9, "to_store_id": 4},
			500, `"region has no voter in store 4"`},
		{"split a missing region", nil, "POST", "/pd/api/v1/operators",
			map[string]any{"name": "split-region", "region_id": 424242, "policy": "approximate"},
			500, `"[PD:region:ErrRegionNotFound]region 424242 not found"`},
		{"drain a missing store", nil, "DELETE", "/pd/api/v1/store/999", nil,
			404, `"[PD:core:ErrStoreNotFound]store 999 not found"`},
		{"evict leaders of a missing store", nil, "POST", "/pd/api/v1/schedulers",
			map[string]any{"name": "evict-leader-scheduler", "store_id": 999},
			500, `"\"[PD:core:ErrStoreNotFound]store 999 not found\"\n"`},
		{"malformed body", nil, "POST", "/pd/api/v1/operators", []byte(`{"name":`),
			400, `{"code":"input","data":{"Offset":8},"msg":"unexpected end of JSON input"}`},
		{"config: a bad key among good ones", nil, "POST", "/pd/api/v1/config",
			map[string]any{"leader-schedule-limit": 16, "nope": 1},
			400, `"config item nope not found"`},
		{"config: low below high", nil, "POST", "/pd/api/v1/config",
			map[string]any{"low-space-ratio": 0.5},
			400, `"low-space-ratio should be larger than high-space-ratio"`},
		{"config: bad duration", nil, "POST", "/pd/api/v1/config",
			map[string]any{"max-store-down-time": "soon"},
			400, `"time: invalid duration \"soon\""`},
		{"config: negative limit", nil, "POST", "/pd/api/v1/config",
			map[string]any{"region-schedule-limit": -1},
			400, `"json: cannot unmarshal number -1 into Go struct field ScheduleConfig.region-schedule-limit of type uint64"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, cl := newStarted(t)
			if tt.prepare != nil {
				tt.prepare(c)
			}
			regions := regionsSnapshot(cl)
			config := string(cl.mustOK("GET", "/pd/api/v1/config", nil))
			code, _, body := cl.do(tt.method, tt.path, tt.body)
			require.Equal(t, tt.wantCode, code)
			require.Equal(t, tt.wantBody, string(body))
			c.Advance(time.Second)
			if diff := cmp.Diff(regions, regionsSnapshot(cl)); diff != "" {
				t.Errorf("regions changed (-before +after):\n%s", diff)
			}
			require.Equal(t, config, string(cl.mustOK("GET", "/pd/api/v1/config", nil)), "config changed")
			var ops []string
			cl.get("/pd/api/v1/operators", &ops)
			require.Empty(t, ops)
			var sched []string
			cl.get("/pd/api/v1/schedulers", &sched)
			require.NotContains(t, sched, "evict-leader-scheduler")
		})
	}
}

func TestConfigChangesStick(t *testing.T) {
	_, cl := newStarted(t)
	cl.mustOK("POST", "/pd/api/v1/config", map[string]any{
		"leader-schedule-limit": 8, "region-schedule-limit": 1024, "replica-schedule-limit": 32,
		"low-space-ratio": 0.9, "high-space-ratio": 0.6, "max-store-down-time": "40s",
	})
	var sched map[string]any
	cl.get("/pd/api/v1/config/schedule", &sched)
	got := map[string]any{}
	for _, k := range []string{"leader-schedule-limit", "region-schedule-limit", "replica-schedule-limit", "low-space-ratio", "high-space-ratio", "max-store-down-time"} {
		got[k] = sched[k]
	}
	want := map[string]any{
		"leader-schedule-limit": 8.0, "region-schedule-limit": 1024.0, "replica-schedule-limit": 32.0,
		"low-space-ratio": 0.9, "high-space-ratio": 0.6, "max-store-down-time": "40s",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("config/schedule (-want +got):\n%s", diff)
	}
	var all struct {
		Schedule map[string]any `json:"schedule"`
	}
	require.NoError(t, json.Unmarshal(cl.mustOK("GET", "/pd/api/v1/config", nil), &all))
	require.Equal(t, "40s", all.Schedule["max-store-down-time"])
}

func TestDiskUsage(t *testing.T) {
	c, cl := newStarted(t)
	require.NoError(t, c.SetDiskUsage(3, 0.95))
	st := cl.stores()[3]
	require.Equal(t, "100GiB", st.Status.Capacity)
	require.Equal(t, "5GiB", st.Status.Available)
	require.Equal(t, "95GiB", st.Status.UsedSize)
	require.NoError(t, c.ClearDiskUsage(3))
	require.Equal(t, "11.25GiB", cl.stores()[3].Status.UsedSize, "120 peers of 96 MiB")
	require.ErrorIs(t, c.SetDiskUsage(3, 1.5), ErrBadArgument)
	require.ErrorIs(t, c.SetDiskUsage(9, 0.5), ErrNoStore)
}

func TestHotWriteRegions(t *testing.T) {
	c, cl := newStarted(t)
	require.NoError(t, c.SetWriteRate(13, 1<<20))
	c.Advance(time.Second)
	var hot map[string]map[string]struct {
		Count int              `json:"regions_count"`
		Stats []map[string]any `json:"statistics"`
	}
	cl.get("/pd/api/v1/hotspot/regions/write", &hot)
	leaders := 0
	for store, hs := range hot["as_leader"] {
		leaders += hs.Count
		for _, st := range hs.Stats {
			var keys []string
			for k := range st {
				keys = append(keys, k)
			}
			// The element fields PD's source gives (shared fixtures README).
			want := []string{"anti_count", "flow_bytes", "flow_cpu", "flow_keys", "flow_query", "hot_degree",
				"is_leader", "is_learner", "last_update_time", "region_id", "store_id", "stores"}
			if diff := cmp.Diff(want, keys, cmpSorted); diff != "" {
				t.Errorf("store %s: statistics element keys (-want +got):\n%s", store, diff)
			}
			require.Equal(t, 13.0, st["region_id"])
			_, err := time.Parse(time.RFC3339, st["last_update_time"].(string))
			require.NoError(t, err)
		}
	}
	require.Equal(t, 1, leaders)
	peers := 0
	for _, hs := range hot["as_peer"] {
		peers += hs.Count
	}
	require.Equal(t, 3, peers)

	var flow struct {
		Regions []regionView `json:"regions"`
	}
	cl.get("/pd/api/v1/regions/writeflow?limit=1", &flow)
	require.Equal(t, uint64(13), flow.Regions[0].ID)
}

var cmpSorted = cmp.Transformer("sort", func(in []string) []string {
	out := append([]string(nil), in...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
})

func TestBadArguments(t *testing.T) {
	_, err := NewUnstartedCluster(Config{Stores: -1})
	require.ErrorIs(t, err, ErrBadArgument)
	c, err := NewUnstartedCluster(Config{Clock: &fakeClock{t0}})
	require.NoError(t, err)
	defer func() { require.NoError(t, c.Close()) }()
	for name, err := range map[string]error{
		"stop":     c.StopStore(0),
		"start":    c.StartStore(6),
		"restart":  c.RestartStore(42),
		"latency":  c.SetWriteLatency(7, time.Second),
		"rate":     c.SetWriteRate(1, 5),
		"negative": c.SetWriteLatency(1, -time.Second),
	} {
		if !errors.Is(err, ErrNoStore) && !errors.Is(err, ErrNoRegion) && !errors.Is(err, ErrBadArgument) {
			t.Errorf("%s: error %v matches none of the sentinels", name, err)
		}
	}
	_, err = c.RegionLeader(1)
	require.ErrorIs(t, err, ErrNoRegion)
	require.Empty(t, c.PDURL(), "nothing listens before Start")
	require.Empty(t, c.ScrapeTargets())
	require.NoError(t, c.Close())
	require.ErrorIs(t, c.Start(t.Context()), ErrStarted)
}

func TestTickIgnoresThePast(t *testing.T) {
	c, err := NewUnstartedCluster(Config{Clock: &fakeClock{t0}, Regions: 10})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, c.Close()) })
	c.Advance(time.Minute)
	c.Tick(t0)
	require.Equal(t, t0.Add(time.Minute), c.Now())
}

func TestLogDir(t *testing.T) {
	dir := t.TempDir()
	c, err := NewUnstartedCluster(Config{Clock: &fakeClock{t0}, LogDir: dir, Regions: 20})
	require.NoError(t, err)
	require.NoError(t, c.StopStore(2))
	c.Advance(15 * time.Second)
	require.NoError(t, c.Close())
	for _, name := range []string{"pd.log", "tikv-1.log", "tikv-5.log"} {
		b := readFile(t, dir, name)
		require.NotEmpty(t, b, name)
		for _, line := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
			require.Regexp(t, `^\[2026/11/27 12:00:\d\d\.\d{3} \+00:00\] \[(INFO|WARN)\] \[[a-z_.]+:\d+\] \[.+\]`, line, name)
		}
	}
	mem, err := c.StoreLog(1)
	require.NoError(t, err)
	require.Equal(t, string(mem), string(readFile(t, dir, "tikv-1.log")))
	require.Contains(t, string(readFile(t, dir, "tikv-1.log")), "became leader", "store 2's leaders moved")
}

func readFile(t *testing.T, dir, name string) []byte {
	t.Helper()
	b, err := osReadFile(dir + "/" + name)
	require.NoError(t, err)
	return b
}

func TestSmallClusters(t *testing.T) {
	for _, n := range []int{1, 2} {
		t.Run(fmt.Sprint(n, " stores"), func(t *testing.T) {
			c, err := NewUnstartedCluster(Config{Clock: &fakeClock{t0}, Stores: n, Regions: 10})
			require.NoError(t, err)
			t.Cleanup(func() { require.NoError(t, c.Close()) })
			h := c.PDHandler()
			require.NoError(t, c.StopStore(1))
			c.Advance(31 * time.Minute)
			for _, path := range []string{"/pd/api/v1/stores", "/pd/api/v1/regions", "/pd/api/v1/regions/check/miss-peer",
				"/pd/api/v1/regions/check/down-peer", "/pd/api/v1/hotspot/regions/write", "/pd/api/v1/hotspot/stores"} {
				rec := newRecorder()
				h.ServeHTTP(rec, mustRequest(t, "GET", path))
				require.Equal(t, http.StatusOK, rec.Code, path)
				require.True(t, json.Valid(rec.Body.Bytes()), path)
			}
			c.mu.Lock()
			first := c.regionsByKey()[0].id
			c.mu.Unlock()
			leader, err := c.RegionLeader(subject.RegionID(first))
			require.NoError(t, err)
			// No majority of the region's voters runs (one of one, one of
			// two): no one is elected, and PD keeps showing the last leader
			// it heard of.
			require.Equal(t, subject.StoreID(1), leader)
		})
	}
}

// TestFresh: a fresh cluster lists each store Down, with the recorded
// shape of a store that registered and never heartbeated, until its first
// heartbeat at its own phase.
func TestFresh(t *testing.T) {
	c, cl := newStartedWith(t, Config{Fresh: true})
	for id, s := range cl.stores() {
		require.Equal(t, "Down", s.Store.StateName, "store %d", id)
		require.Zero(t, s.Store.LastHeartbeat, "store %d: no last_heartbeat", id)
		require.Equal(t, "0B", s.Status.Capacity)
	}
	code, _, body := cl.do("GET", "/pd/api/v1/store/3", nil)
	require.Equal(t, http.StatusOK, code)
	var raw map[string]map[string]any
	require.NoError(t, json.Unmarshal(body, &raw))
	require.NotContains(t, raw["store"], "node_state")
	require.Equal(t, "1970-01-01T00:00:00Z", raw["status"]["start_ts"])
	// The stores' first heartbeats come 2 s apart, the first at the start.
	ups := 0
	for range 4 {
		c.Advance(2 * time.Second)
		n := 0
		for _, name := range cl.stateNames() {
			if name == "Up" {
				n++
			}
		}
		require.Greater(t, n, ups, "more stores heartbeat every 2 s")
		ups = n
	}
	require.Equal(t, 5, ups)
}
