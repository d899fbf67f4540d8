package pdclient

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"
)

// TestRequestShapes checks the requests of the methods no recorded
// exchange covers: method, path with query, and JSON body, as PD's
// handlers read them. The double answers with a recorded success of the
// same endpoint.
func TestRequestShapes(t *testing.T) {
	tests := []struct {
		name     string
		call     func(ctx context.Context, c *Client) error
		answer   string // a recorded exchange whose response is served
		method   string
		uri      string
		wantBody string // JSON, "" for none
	}{
		{"AllStores", func(ctx context.Context, c *Client) error { _, err := c.AllStores(ctx); return err },
			"stores", "GET", "/pd/api/v1/stores?state=0&state=1&state=2", ""},
		{"Stores offline", func(ctx context.Context, c *Client) error { _, err := c.Stores(ctx, MetaStateOffline); return err },
			"stores", "GET", "/pd/api/v1/stores?state=1", ""},
		{"SetStoreState Offline", func(ctx context.Context, c *Client) error { return c.SetStoreState(ctx, 4, "Offline") },
			"store-4-cancel-delete", "POST", "/pd/api/v1/store/4/state?state=Offline", ""},
		{"SetStoreLimit", func(ctx context.Context, c *Client) error { return c.SetStoreLimit(ctx, 2, RemovePeerLimit, 30) },
			"store-1-weight", "POST", "/pd/api/v1/store/2/limit", `{"rate":30,"type":"remove-peer"}`},
		{"SetStoreLimit both", func(ctx context.Context, c *Client) error { return c.SetStoreLimit(ctx, 2, "", 30) },
			"store-1-weight", "POST", "/pd/api/v1/store/2/limit", `{"rate":30}`},
		{"TransferRegion", func(ctx context.Context, c *Client) error {
			return c.TransferRegion(ctx, 9, []uint64{1, 2, 3}, []string{"leader", "voter", "learner"})
		}, "operator-transfer-leader", "POST", "/pd/api/v1/operators",
			`{"name":"transfer-region","region_id":9,"to_store_ids":[1,2,3],"peer_roles":["leader","voter","learner"]}`},
		{"TransferPeer", func(ctx context.Context, c *Client) error { return c.TransferPeer(ctx, 9, 3, 4) },
			"operator-transfer-leader", "POST", "/pd/api/v1/operators", `{"name":"transfer-peer","region_id":9,"from_store_id":3,"to_store_id":4}`},
		{"AddPeer", func(ctx context.Context, c *Client) error { return c.AddPeer(ctx, 9, 4) },
			"operator-transfer-leader", "POST", "/pd/api/v1/operators", `{"name":"add-peer","region_id":9,"store_id":4}`},
		{"RemovePeer", func(ctx context.Context, c *Client) error { return c.RemovePeer(ctx, 9, 4) },
			"operator-transfer-leader", "POST", "/pd/api/v1/operators", `{"name":"remove-peer","region_id":9,"store_id":4}`},
		{"SplitRegion usekey", func(ctx context.Context, c *Client) error {
			return c.SplitRegion(ctx, 9, SplitUseKey, "7800000000000000FB", "7800000100000000FB")
		}, "operator-split-region", "POST", "/pd/api/v1/operators",
			`{"name":"split-region","region_id":9,"policy":"usekey","keys":["7800000000000000FB","7800000100000000FB"]}`},
		{"SplitRegion scan", func(ctx context.Context, c *Client) error { return c.SplitRegion(ctx, 9, SplitScan) },
			"operator-split-region", "POST", "/pd/api/v1/operators", `{"name":"split-region","region_id":9,"policy":"scan"}`},
		{"MergeRegion", func(ctx context.Context, c *Client) error { return c.MergeRegion(ctx, 13, 9) },
			"operator-transfer-leader", "POST", "/pd/api/v1/operators", `{"name":"merge-region","source_region_id":13,"target_region_id":9}`},
		{"ScatterRegion", func(ctx context.Context, c *Client) error { return c.ScatterRegion(ctx, 9) },
			"operator-transfer-leader", "POST", "/pd/api/v1/operators", `{"name":"scatter-region","region_id":9}`},
		{"OperatorRecords from", func(ctx context.Context, c *Client) error {
			_, err := c.OperatorRecords(ctx, time.Unix(1795782900, 0))
			return err
		}, "operator-records", "GET", "/pd/api/v1/operators/records?from=1795782900", ""},
		{"GrantLeader", func(ctx context.Context, c *Client) error { return c.GrantLeader(ctx, 2) },
			"scheduler-add-evict-leader", "POST", "/pd/api/v1/schedulers", `{"name":"grant-leader-scheduler","store_id":2}`},
		{"CreateScheduler", func(ctx context.Context, c *Client) error {
			return c.CreateScheduler(ctx, "scatter-range-scheduler", map[string]any{"start_key": "", "end_key": "", "range_name": "t 1"})
		}, "scheduler-add-evict-leader", "POST", "/pd/api/v1/schedulers",
			`{"name":"scatter-range-scheduler","start_key":"","end_key":"","range_name":"t 1"}`},
		{"DeleteScheduler escapes", func(ctx context.Context, c *Client) error { return c.DeleteScheduler(ctx, "a/b c") },
			"scheduler-delete-evict-leader", "DELETE", "/pd/api/v1/schedulers/a%2Fb%20c", ""},
		{"SetScheduleConfig", func(ctx context.Context, c *Client) error {
			return c.SetScheduleConfig(ctx, map[string]any{"max-snapshot-count": 32})
		}, "config-set-leader-limit", "POST", "/pd/api/v1/config/schedule", `{"max-snapshot-count":32}`},
		{"SetReplicationConfig", func(ctx context.Context, c *Client) error {
			return c.SetReplicationConfig(ctx, map[string]any{"location-labels": "zone,host"})
		}, "config-set-leader-limit", "POST", "/pd/api/v1/config/replicate", `{"location-labels":"zone,host"}`},
		{"SetHighSpaceRatio", func(ctx context.Context, c *Client) error { return c.SetHighSpaceRatio(ctx, 0.6) },
			"config-set-leader-limit", "POST", "/pd/api/v1/config", `{"high-space-ratio":0.6}`},
		{"SetMaxStoreDownTime", func(ctx context.Context, c *Client) error { return c.SetMaxStoreDownTime(ctx, 30*time.Minute) },
			"config-set-max-down", "POST", "/pd/api/v1/config", `{"max-store-down-time":"30m0s"}`},
		{"ScanRegions range", func(ctx context.Context, c *Client) error {
			_, err := c.ScanRegions(ctx, "7480", "7490", 5)
			return err
		}, "regions-key-limit5", "GET", "/pd/api/v1/regions/key?key=7480&end_key=7490&format=hex&limit=5", ""},
		{"RegionByKey first", func(ctx context.Context, c *Client) error {
			_, err := c.RegionByKey(ctx, "")
			return err
		}, "regions-key-limit5", "GET", "/pd/api/v1/regions/key?key=&limit=1", ""},
		{"TopRegions readflow", func(ctx context.Context, c *Client) error {
			_, err := c.TopRegions(ctx, TopReadFlow, 3)
			return err
		}, "regions-writeflow-top3", "GET", "/pd/api/v1/regions/readflow?limit=3", ""},
		{"CheckRegions offline", func(ctx context.Context, c *Client) error {
			_, err := c.CheckRegions(ctx, CheckOfflinePeer)
			return err
		}, "regions-check-miss-peer", "GET", "/pd/api/v1/regions/check/offline-peer", ""},
	}
	// The recorded page holds 5 regions, more than the 1 asked for:
	// refused, not collected.
	wantErrs := map[string]error{"RegionByKey first": ErrBadResponse}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ex := loadExchange(t, "pd", tt.answer)
			var gotMethod, gotURI string
			var gotBody []byte
			srv := newHTTPServer(t, func(w http.ResponseWriter, r *http.Request) {
				gotMethod, gotURI = r.Method, r.URL.RequestURI()
				gotBody, _ = io.ReadAll(r.Body)
				ex.respond(t, w)
			})
			c := newTestClient(t, srv.URL)
			err := tt.call(t.Context(), c)
			if want := wantErrs[tt.name]; want != nil {
				require.ErrorIs(t, err, want)
			} else {
				require.NoError(t, err)
			}
			require.Equal(t, tt.method, gotMethod)
			require.Equal(t, tt.uri, gotURI)
			if tt.wantBody == "" {
				require.Empty(t, gotBody)
				return
			}
			var want, got any
			require.NoError(t, json.Unmarshal([]byte(tt.wantBody), &want))
			require.NoError(t, json.Unmarshal(gotBody, &got), string(gotBody))
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("body (-want +got):\n%s", d)
			}
		})
	}
}
