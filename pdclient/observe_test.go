package pdclient

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/stretchr/testify/require"
)

func TestRouteOf(t *testing.T) {
	for _, tt := range []struct{ path, want string }{
		{"/pd/api/v1/stores?state=0&state=1", "/pd/api/v1/stores"},
		{"/pd/api/v1/store/4", "/pd/api/v1/store/{id}"},
		{"/pd/api/v1/store/4/state?state=Offline", "/pd/api/v1/store/{id}/state"},
		{"/pd/api/v1/operators/9", "/pd/api/v1/operators/{region_id}"},
		{"/pd/api/v1/operators/records?from=1795782900", "/pd/api/v1/operators/records"},
		{"/pd/api/v1/operators?object=true", "/pd/api/v1/operators"},
		{"/pd/api/v1/region/key/74%2F80?format=hex", "/pd/api/v1/region/key/{key}"},
		{"/pd/api/v1/regions/key?key=&format=hex&limit=5", "/pd/api/v1/regions/key"},
		{"/pd/api/v1/regions/store/1?limit=3", "/pd/api/v1/regions/store/{id}"},
		{"/pd/api/v1/schedulers/evict-leader-scheduler-4", "/pd/api/v1/schedulers/{name}"},
		{"/pd/api/v1/scheduler-config/evict-leader-scheduler/list", "/pd/api/v1/scheduler-config/evict-leader-scheduler/list"},
		// Unknown paths, and paths PD would not route, never become a
		// label of their own.
		{"/pd/api/v1/store/4/", RouteOther},
		{"/pd/api/v1/store//state", RouteOther},
		{"/pd/api/v1/stores/4/whatever", RouteOther},
		{"/pd/api/v1/", RouteOther},
		{"/pd/api/v2/maintenance", "/pd/api/v2/maintenance"},
		{"/pd/api/v2/maintenance/restart", "/pd/api/v2/maintenance/{task_type}"},
		{"/pd/api/v2/maintenance/tikv_restart/kvops-1", "/pd/api/v2/maintenance/{task_type}/{task_id}"},
		{"/pd/api/v2/maintenance/a/b/c", RouteOther},
		{"/pd/api/v2/keyspaces", RouteOther},
		{"/metrics", RouteOther},
	} {
		if got := routeOf(tt.path); got != tt.want {
			t.Errorf("routeOf(%q) = %q, want %q", tt.path, got, tt.want)
		}
	}
	require.Zero(t, testing.AllocsPerRun(100, func() { routeOf("/pd/api/v1/store/4/state?state=Up") }))
}

// TestOnRequestRoutes: every method's requests are reported with a
// route template of PD's router, never RouteOther and never the concrete
// path, with the answer's status.
func TestOnRequestRoutes(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// An answer every method can read or reject: only the route
		// matters here.
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte("null"))
	}))
	defer srv.Close()
	var mu sync.Mutex
	seen := map[string]string{} // route by method and concrete path
	c, err := New(Config{Endpoints: []string{srv.URL}, OnRequest: func(ri RequestInfo) {
		mu.Lock()
		defer mu.Unlock()
		seen[ri.Method+" "+ri.Route] = ""
		if ri.Status != http.StatusOK || ri.Endpoint != srv.URL {
			t.Errorf("%s %s: status %d from %s", ri.Method, ri.Route, ri.Status, ri.Endpoint)
		}
	}})
	require.NoError(t, err)
	defer c.CloseIdleConnections()
	ctx := context.Background()
	calls := []func() error{
		func() error { _, err := c.Health(ctx); return err },
		func() error { return c.Ping(ctx) },
		func() error { _, err := c.Members(ctx); return err },
		func() error { _, err := c.Leader(ctx); return err },
		func() error { _, err := c.Version(ctx); return err },
		func() error { _, err := c.Status(ctx); return err },
		func() error { _, err := c.Cluster(ctx); return err },
		func() error { _, err := c.ClusterStatus(ctx); return err },
		func() error { _, err := c.Config(ctx); return err },
		func() error { _, err := c.ScheduleConfig(ctx); return err },
		func() error { return c.SetLeaderScheduleLimit(ctx, 4) },
		func() error { _, err := c.ReplicationConfig(ctx); return err },
		func() error { return c.SetReplicationConfig(ctx, map[string]any{"max-replicas": 3}) },
		func() error { return c.SetScheduleConfig(ctx, map[string]any{"leader-schedule-limit": 4}) },
		func() error { _, err := c.Operators(ctx); return err },
		func() error { _, err := c.Operator(ctx, 9); return err },
		func() error { _, err := c.PendingOperators(ctx); return err },
		func() error { _, err := c.OperatorRecords(ctx, time.Unix(1795782900, 0)); return err },
		func() error { return c.CancelOperator(ctx, 9) },
		func() error { return c.TransferLeader(ctx, 9, 2) },
		func() error { _, err := c.Schedulers(ctx); return err },
		func() error { return c.EvictLeader(ctx, 4) },
		func() error { return c.RemoveEvictLeader(ctx, 4) },
		func() error { _, err := c.EvictLeaderConfig(ctx); return err },
		func() error { _, err := c.RegionByID(ctx, 9); return err },
		func() error { _, err := c.RegionByKey(ctx, "7480"); return err },
		func() error { _, err := c.RegionCount(ctx); return err },
		func() error { _, err := c.Regions(ctx); return err },
		func() error { _, err := c.ScanRegions(ctx, "", "", 5); return err },
		func() error { _, err := c.RegionsByStore(ctx, 1, 3); return err },
		func() error { _, err := c.TopRegions(ctx, TopWriteFlow, 3); return err },
		func() error { _, err := c.CheckRegions(ctx, CheckDownPeer); return err },
		func() error { _, err := c.HotWriteRegions(ctx); return err },
		func() error { _, err := c.HotReadRegions(ctx); return err },
		func() error { _, err := c.HotStores(ctx); return err },
		func() error { _, err := c.AllStores(ctx); return err },
		func() error { _, err := c.StoresInState(ctx, "Down"); return err },
		func() error { _, err := c.Store(ctx, 1); return err },
		func() error { return c.SetStoreState(ctx, 4, "Up") },
		func() error { return c.DeleteStore(ctx, 4) },
		func() error { return c.SetStoreLabels(ctx, 1, map[string]string{"zone": "a"}) },
		func() error { return c.SetStoreWeight(ctx, 1, 1, 1) },
		func() error { return c.SetStoreLimit(ctx, 1, AddPeerLimit, 15) },
		func() error { _, err := c.StoreLimits(ctx); return err },
		func() error { return c.SetHaltScheduling(ctx, true) },
		func() error { return c.StartMaintenance(ctx, "tikv_restart", "1", "d") },
		func() error { return c.FinishMaintenance(ctx, "tikv_restart", "1") },
		func() error { _, err := c.MaintenanceTasks(ctx); return err },
		func() error { _, err := c.MaintenanceTaskOf(ctx, "tikv_restart"); return err },
	}
	for _, call := range calls {
		_ = call() // "null" is not every answer's shape; the route is what is checked
	}
	var got []string
	for k := range seen {
		got = append(got, k)
	}
	slices.Sort(got)
	want := []string{
		"DELETE /pd/api/v1/operators/{region_id}", "DELETE /pd/api/v1/schedulers/{name}", "DELETE /pd/api/v1/store/{id}",
		"GET /pd/api/v1/cluster", "GET /pd/api/v1/cluster/status", "GET /pd/api/v1/config", "GET /pd/api/v1/config/replicate",
		"GET /pd/api/v1/config/schedule", "GET /pd/api/v1/health", "GET /pd/api/v1/hotspot/regions/read",
		"GET /pd/api/v1/hotspot/regions/write", "GET /pd/api/v1/hotspot/stores", "GET /pd/api/v1/leader",
		"GET /pd/api/v1/members", "GET /pd/api/v1/operators", "GET /pd/api/v1/operators/records",
		"GET /pd/api/v1/operators/{region_id}", "GET /pd/api/v1/ping", "GET /pd/api/v1/region/id/{id}",
		"GET /pd/api/v1/region/key/{key}", "GET /pd/api/v1/regions", "GET /pd/api/v1/regions/check/down-peer",
		"GET /pd/api/v1/regions/count", "GET /pd/api/v1/regions/key", "GET /pd/api/v1/regions/store/{id}",
		"GET /pd/api/v1/regions/writeflow", "GET /pd/api/v1/scheduler-config/evict-leader-scheduler/list",
		"GET /pd/api/v1/schedulers", "GET /pd/api/v1/status", "GET /pd/api/v1/store/{id}", "GET /pd/api/v1/stores",
		"GET /pd/api/v1/stores/check", "GET /pd/api/v1/stores/limit", "GET /pd/api/v1/version",
		"POST /pd/api/v1/config", "POST /pd/api/v1/config/replicate", "POST /pd/api/v1/config/schedule",
		"POST /pd/api/v1/operators", "POST /pd/api/v1/schedulers", "POST /pd/api/v1/store/{id}/label",
		"POST /pd/api/v1/store/{id}/limit", "POST /pd/api/v1/store/{id}/state", "POST /pd/api/v1/store/{id}/weight",
		"DELETE /pd/api/v2/maintenance/{task_type}/{task_id}", "GET /pd/api/v2/maintenance",
		"GET /pd/api/v2/maintenance/{task_type}", "PUT /pd/api/v2/maintenance/{task_type}/{task_id}",
	}
	slices.Sort(want)
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("routes (-want +got):\n%s", d)
	}
	for _, r := range got {
		require.NotContains(t, r, RouteOther)
		_, path, _ := strings.Cut(r, " ")
		rest := strings.TrimPrefix(strings.TrimPrefix(path, apiPrefix), apiV2Prefix)
		require.False(t, strings.ContainsAny(rest, "0123456789"), "a concrete id in route %q", r)
	}
}

// TestOnRequestFailover: a client of two members reports each exchange,
// the member list it asks for first included: the member that dropped
// the connection with no status and a TransportError, the other's 404
// with an APIError, then the request itself, answered by the member that
// answered.
func TestOnRequestFailover(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == apiPrefix+"/members" {
			http.Error(w, "no members here", http.StatusNotFound)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"version":"v8.5.0"}`))
	}))
	defer srv.Close()
	// A member that drops every connection without answering.
	drop := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			_ = conn.Close()
		}
	}))
	defer drop.Close()

	var got []RequestInfo
	var mu sync.Mutex
	c, err := New(Config{Endpoints: []string{drop.URL, srv.URL}, OnRequest: func(ri RequestInfo) {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, ri)
	}})
	require.NoError(t, err)
	defer c.CloseIdleConnections()
	_, err = c.Version(context.Background())
	require.NoError(t, err)

	want := []RequestInfo{
		{Method: "GET", Route: apiPrefix + "/members", Endpoint: drop.URL},
		{Method: "GET", Route: apiPrefix + "/members", Endpoint: srv.URL, Status: http.StatusNotFound},
		{Method: "GET", Route: apiPrefix + "/version", Endpoint: srv.URL, Status: http.StatusOK},
	}
	if d := cmp.Diff(want, got, cmpopts.IgnoreFields(RequestInfo{}, "Err", "Duration")); d != "" {
		t.Fatalf("exchanges (-want +got):\n%s", d)
	}
	var te *TransportError
	var ae *APIError
	require.True(t, errors.As(got[0].Err, &te), "want a TransportError, got %v", got[0].Err)
	require.True(t, errors.As(got[1].Err, &ae), "want an APIError, got %v", got[1].Err)
	require.NoError(t, got[2].Err)
	for _, ri := range got {
		require.Positive(t, ri.Duration)
	}
}
