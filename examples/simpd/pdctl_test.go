package main

import (
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"
)

// do sends one request to the simpd process and returns the status,
// content type and body.
func do(t *testing.T, method, url, body string) (int, string, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url, strings.NewReader(body))
	require.NoError(t, err)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, resp.Header.Get("Content-Type"), b
}

// storesBody is GET /stores' shape, the fields pd-ctl's users read.
type storesBody struct {
	Count  int `json:"count"`
	Stores []struct {
		Store struct {
			ID            uint64 `json:"id"`
			Address       string `json:"address"`
			StatusAddress string `json:"status_address"`
			StateName     string `json:"state_name"`
			Version       string `json:"version"`
		} `json:"store"`
		Status struct {
			Capacity    string `json:"capacity"`
			LeaderCount int    `json:"leader_count"`
			RegionCount int    `json:"region_count"`
		} `json:"status"`
	} `json:"stores"`
}

type regionBody struct {
	ID     uint64 `json:"id"`
	Leader struct {
		StoreID uint64 `json:"store_id"`
	} `json:"leader"`
	Peers []struct {
		StoreID uint64 `json:"store_id"`
	} `json:"peers"`
}

// TestServesWhatPDCtlReads starts the simpd program and asks it, over
// HTTP, what pd-ctl's commands ask PD (tools/pd-ctl/pdctl/command in
// tikv/pd: each command is one plain HTTP request to the path given),
// asserting PD's status codes and shapes. pd-ctl itself is not on this
// machine (../shared/realpd has pd-server and pd-simulator only).
func TestServesWhatPDCtlReads(t *testing.T) {
	p, ready := startSimpd(t, "-scenario", "none", "-no-prometheus", "-stores", "5", "-regions", "200")
	require.Len(t, ready.Stores, 5)
	require.Len(t, ready.PDMetrics, 3)
	require.Empty(t, ready.Prometheus, "-no-prometheus")
	pd := ready.PD
	status, _, b := do(t, "GET", pd+"/pd/api/v1/regions", "")
	require.Equal(t, http.StatusOK, status, "%s", b)
	var all struct {
		Regions []regionBody `json:"regions"`
	}
	require.NoError(t, json.Unmarshal(b, &all), "%s", b)
	require.NotEmpty(t, all.Regions)
	first := all.Regions[len(all.Regions)/2]
	region := strconv.FormatUint(first.ID, 10)

	for _, tc := range []struct {
		pdctl        string // the pd-ctl command
		method, path string
		body         string
		ctype        string // of a body checked: application/json by default
		check        func(t *testing.T, b []byte)
	}{
		{pdctl: "(not pd-ctl: clients and tiup read GET /version)", method: "GET", path: "/pd/api/v1/version", check: func(t *testing.T, b []byte) {
			var v map[string]string
			require.NoError(t, json.Unmarshal(b, &v))
			require.Equal(t, "v8.5.0", v["version"])
		}},
		{pdctl: "ping", method: "GET", path: "/pd/api/v1/ping"},
		{pdctl: "store", method: "GET", path: "/pd/api/v1/stores", check: func(t *testing.T, b []byte) {
			var s storesBody
			require.NoError(t, json.Unmarshal(b, &s))
			require.Equal(t, 5, s.Count)
			var ids []uint64
			leaders, regions := 0, 0
			for i, st := range s.Stores {
				ids = append(ids, st.Store.ID)
				require.Equal(t, "Up", st.Store.StateName)
				require.Equal(t, ready.Stores[st.Store.ID], st.Store.StatusAddress, "status_address is the store's metrics endpoint")
				require.NotEmpty(t, st.Store.Address, "store %d", i)
				require.NotEmpty(t, st.Status.Capacity)
				leaders += st.Status.LeaderCount
				regions += st.Status.RegionCount
			}
			require.Equal(t, []uint64{1, 2, 3, 4, 5}, ids)
			require.Equal(t, 200, leaders, "one leader per region")
			require.Equal(t, 600, regions, "three replicas per region")
		}},
		{pdctl: "store --state Up", method: "GET", path: "/pd/api/v1/stores?state=0", check: func(t *testing.T, b []byte) {
			var s storesBody
			require.NoError(t, json.Unmarshal(b, &s))
			require.Equal(t, 5, s.Count)
		}},
		{pdctl: "store 3", method: "GET", path: "/pd/api/v1/store/3", check: func(t *testing.T, b []byte) {
			var s struct {
				Store struct {
					ID uint64 `json:"id"`
				} `json:"store"`
			}
			require.NoError(t, json.Unmarshal(b, &s))
			require.Equal(t, uint64(3), s.Store.ID)
		}},
		{pdctl: "store limit", method: "GET", path: "/pd/api/v1/stores/limit"},
		{pdctl: "region", method: "GET", path: "/pd/api/v1/regions", ctype: "application/octet-stream", check: func(t *testing.T, b []byte) {
			var r struct {
				Count   int          `json:"count"`
				Regions []regionBody `json:"regions"`
			}
			require.NoError(t, json.Unmarshal(b, &r))
			require.Equal(t, 200, r.Count)
			require.Len(t, r.Regions, 200)
			for _, reg := range r.Regions {
				require.Len(t, reg.Peers, 3, "region %d", reg.ID)
				require.True(t, slices.ContainsFunc(reg.Peers, func(p struct {
					StoreID uint64 `json:"store_id"`
				}) bool {
					return p.StoreID == reg.Leader.StoreID
				}), "region %d's leader is one of its peers", reg.ID)
			}
		}},
		{pdctl: "region " + region, method: "GET", path: "/pd/api/v1/region/id/" + region, ctype: "application/octet-stream", check: func(t *testing.T, b []byte) {
			var r regionBody
			require.NoError(t, json.Unmarshal(b, &r))
			require.Equal(t, first.ID, r.ID)
			require.Len(t, r.Peers, 3)
		}},
		{pdctl: "scheduler show", method: "GET", path: "/pd/api/v1/schedulers", check: func(t *testing.T, b []byte) {
			var s []string
			require.NoError(t, json.Unmarshal(b, &s))
			require.Contains(t, s, "balance-leader-scheduler")
			require.NotContains(t, s, "evict-leader-scheduler")
		}},
		{pdctl: "config show", method: "GET", path: "/pd/api/v1/config", check: func(t *testing.T, b []byte) {
			// pd-ctl keeps "replication" and "schedule", minus a few keys.
			var c struct {
				Replication struct {
					MaxReplicas int `json:"max-replicas"`
				} `json:"replication"`
				Schedule map[string]any `json:"schedule"`
			}
			require.NoError(t, json.Unmarshal(b, &c))
			require.Equal(t, 3, c.Replication.MaxReplicas)
			require.Equal(t, float64(4), c.Schedule["leader-schedule-limit"])
		}},
		{pdctl: "config show schedule", method: "GET", path: "/pd/api/v1/config/schedule", check: func(t *testing.T, b []byte) {
			var c map[string]any
			require.NoError(t, json.Unmarshal(b, &c))
			require.Equal(t, float64(4), c["leader-schedule-limit"])
		}},
		{pdctl: "config show replication", method: "GET", path: "/pd/api/v1/config/replicate"},
		{pdctl: "member", method: "GET", path: "/pd/api/v1/members", check: func(t *testing.T, b []byte) {
			var m struct {
				Members []struct {
					ClientURLs []string `json:"client_urls"`
				} `json:"members"`
			}
			require.NoError(t, json.Unmarshal(b, &m))
			require.Len(t, m.Members, 3)
			for _, mem := range m.Members {
				require.Equal(t, []string{pd}, mem.ClientURLs, "a client learning the members comes back here")
			}
		}},
		{pdctl: "health", method: "GET", path: "/pd/api/v1/health"},
		{pdctl: "cluster", method: "GET", path: "/pd/api/v1/cluster"},
		{pdctl: "operator show", method: "GET", path: "/pd/api/v1/operators"},
		{pdctl: "scheduler add evict-leader-scheduler 1", method: "POST", path: "/pd/api/v1/schedulers",
			body: `{"name":"evict-leader-scheduler","store_id":1}`},
		{pdctl: "scheduler show (after add)", method: "GET", path: "/pd/api/v1/schedulers", check: func(t *testing.T, b []byte) {
			var s []string
			require.NoError(t, json.Unmarshal(b, &s))
			require.Contains(t, s, "evict-leader-scheduler")
		}},
		{pdctl: "scheduler config evict-leader-scheduler", method: "GET", path: "/pd/api/v1/scheduler-config/evict-leader-scheduler/list", check: func(t *testing.T, b []byte) {
			var c struct {
				StoreIDWithRanges map[string]any `json:"store-id-ranges"`
			}
			require.NoError(t, json.Unmarshal(b, &c))
			require.Contains(t, c.StoreIDWithRanges, "1")
		}},
		{pdctl: "scheduler remove evict-leader-scheduler", method: "DELETE", path: "/pd/api/v1/schedulers/evict-leader-scheduler"},
	} {
		t.Run(tc.pdctl, func(t *testing.T) {
			status, ctype, b := do(t, tc.method, pd+tc.path, tc.body)
			require.Equal(t, http.StatusOK, status, "%s", b)
			if tc.check != nil {
				want := tc.ctype
				if want == "" {
					want = "application/json"
				}
				require.True(t, strings.HasPrefix(ctype, want), "content type %q, want %s", ctype, want)
				tc.check(t, b)
			}
		})
	}

	// Each request that changed PD is a line of simpd's, after the
	// ready line, in order.
	p.await(t, 0, "the DELETE's line", func(l string) bool { return strings.Contains(l, `"method":"DELETE"`) })
	var changes []requestLine
	for _, l := range p.Lines()[1:] {
		if event(l) == "request" {
			var r requestLine
			require.NoError(t, json.Unmarshal([]byte(l), &r))
			changes = append(changes, r)
		}
	}
	want := []requestLine{
		{Event: "request", Method: "POST", Path: "/pd/api/v1/schedulers", Status: 200},
		{Event: "request", Method: "DELETE", Path: "/pd/api/v1/schedulers/evict-leader-scheduler", Status: 200},
	}
	if diff := cmp.Diff(want, changes); diff != "" {
		t.Errorf("request lines (-want +got):\n%s", diff)
	}
}

// TestControlAPI: the control API stops and starts a store (its metrics
// endpoint refusing connections meanwhile), refuses an unknown store and
// action with PD-independent JSON errors, and each call is a line.
func TestControlAPI(t *testing.T) {
	p, ready := startSimpd(t, "-scenario", "none", "-no-prometheus", "-stores", "3", "-regions", "30")
	metrics := "http://" + ready.Stores[2] + "/metrics"
	for _, tc := range []struct {
		method, path string
		status       int
		metricsUp    bool // store 2's endpoint answers afterwards
	}{
		{"POST", "/simpd/v1/stores/2/stop", http.StatusOK, false},
		{"POST", "/simpd/v1/stores/2/stop", http.StatusOK, false}, // stopping a stopped store does nothing
		{"POST", "/simpd/v1/stores/2/start", http.StatusOK, true},
		{"POST", "/simpd/v1/stores/2/restart", http.StatusOK, true},
		{"POST", "/simpd/v1/stores/9/stop", http.StatusNotFound, true},
		{"POST", "/simpd/v1/stores/x/stop", http.StatusBadRequest, true},
		{"POST", "/simpd/v1/stores/2/fly", http.StatusNotFound, true},
		{"POST", "/simpd/v1/stores/2/stuck-leaders?count=-1", http.StatusBadRequest, true},
		{"POST", "/simpd/v1/stores/2/stuck-leaders?count=2", http.StatusOK, true},
		{"GET", "/simpd/v1/stores/2/stop", http.StatusNotFound, true},
		{"GET", "/simpd/v1/nothing", http.StatusNotFound, true},
	} {
		status, ctype, b := do(t, tc.method, ready.PD+tc.path, "")
		require.Equal(t, tc.status, status, "%s %s: %s", tc.method, tc.path, b)
		require.Equal(t, "application/json", ctype)
		var body map[string]any
		require.NoError(t, json.Unmarshal(b, &body), "%s", b)
		if status == http.StatusOK {
			require.Equal(t, map[string]any{"ok": true}, body)
		} else {
			require.NotEmpty(t, body["error"])
		}
		resp, err := http.Get(metrics)
		if err == nil {
			resp.Body.Close()
		}
		require.Equal(t, tc.metricsUp, err == nil, "after %s %s, store 2's metrics endpoint answers: %v", tc.method, tc.path, err)
	}
	status, _, b := do(t, "GET", ready.PD+"/simpd/v1/status", "")
	require.Equal(t, http.StatusOK, status)
	var st struct {
		readyLine
		Now string `json:"now"`
	}
	require.NoError(t, json.Unmarshal(b, &st))
	require.Equal(t, ready.PD, st.PD)
	require.NotEmpty(t, st.Now)

	p.await(t, 0, "the status request's line", func(l string) bool { return strings.Contains(l, `"path":"/simpd/v1/status"`) })
	controls := 0
	for _, l := range p.Lines() {
		if event(l) == "control" {
			controls++
		}
	}
	require.Equal(t, 12, controls, "one line per control request:\n%s", joinLines(p.Lines()))
}
