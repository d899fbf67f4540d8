package tikvtest

import (
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/kvops/operator/internal/pdfixture"
	"github.com/kvops/operator/subject"
)

// TestPDEvictingSchedulers: PD's own evict-slow-store and
// evict-stopping-store schedulers, as the simulator runs them, answer
// their config lists with the recorded shapes, name the store they evict,
// empty it of leaders and keep leaders off it, and evict one store each at
// a time.
func TestPDEvictingSchedulers(t *testing.T) {
	for _, tt := range []struct {
		fixture, path, list string
		set                 func(c *Cluster, id subject.StoreID, on bool) error
	}{
		{"scheduler-evict-slow-config.json", "/pd/api/v1/scheduler-config/evict-slow-store-scheduler/list", "evict-stores", (*Cluster).SetSlowStoreEvicted},
		{"scheduler-evict-stopping-config.json", "/pd/api/v1/scheduler-config/evict-stopping-store-scheduler/list", "evicted-stores", (*Cluster).SetStoppingStoreEvicted},
	} {
		t.Run(tt.list, func(t *testing.T) {
			ex, err := pdfixture.Read(filepath.Join("testdata", "pd-maintenance", tt.fixture))
			require.NoError(t, err)
			require.Equal(t, tt.path, ex.Request.Path)
			c, cl := newStarted(t)
			c.Advance(time.Second)
			listed := func() []uint64 {
				t.Helper()
				code, hdr, body := cl.do("GET", tt.path, nil)
				require.Equal(t, ex.Response.Status, code)
				require.Equal(t, ex.Response.ContentType, hdr.Get("Content-Type"))
				var got, want any
				require.NoError(t, json.Unmarshal(body, &got))
				require.NoError(t, json.Unmarshal(ex.Response.Body, &want))
				// The recording's list is empty: compare the shape of
				// everything but the list, then read the list.
				var m map[string]json.RawMessage
				require.NoError(t, json.Unmarshal(body, &m))
				var ids []uint64
				require.NoError(t, json.Unmarshal(m[tt.list], &ids))
				require.NotNil(t, ids, "%s is a list, never null", tt.list)
				got.(map[string]any)[tt.list] = []any{}
				if diff := cmp.Diff(shape(want, false), shape(got, true)); diff != "" {
					t.Errorf("shape differs from the recording (-recorded +sim):\n%s", diff)
				}
				return ids
			}
			require.Empty(t, listed())

			require.NoError(t, tt.set(c, 2, true))
			require.Equal(t, []uint64{2}, listed())
			for range 5 {
				c.Advance(time.Second)
			}
			require.Zero(t, cl.stores()[2].Status.LeaderCount, "the evicted store still leads")
			for range 60 {
				c.Advance(time.Second)
			}
			require.Zero(t, cl.stores()[2].Status.LeaderCount, "balance-leader gave leaders back to an evicted store")

			err = tt.set(c, 3, true)
			require.ErrorIs(t, err, ErrBadArgument, "a second store while one is evicted")
			require.Equal(t, []uint64{2}, listed())
			require.ErrorIs(t, tt.set(c, 9, true), ErrNoStore)

			require.NoError(t, tt.set(c, 2, false))
			require.Empty(t, listed())
			for range 60 {
				c.Advance(time.Second)
			}
			require.Positive(t, cl.stores()[2].Status.LeaderCount, "leaders come back once the eviction ends")
		})
	}
}

// TestDefaultSchedulersRecorded: GET /schedulers lists PD's default
// schedulers, the two evicting ones among them, as recorded.
func TestDefaultSchedulersRecorded(t *testing.T) {
	ex, err := pdfixture.Read(filepath.Join("testdata", "pd-maintenance", "schedulers-default.json"))
	require.NoError(t, err)
	var want []string
	require.NoError(t, json.Unmarshal(ex.Response.Body, &want))
	_, cl := newStarted(t)
	var got []string
	cl.get(ex.Request.Path, &got)
	require.ElementsMatch(t, want, got)
}

// TestLeaderlessStoreRecordsNoWrites: a store that leads no region records
// no write (clients write to leaders), so its write histogram stops
// moving, as a real TiKV's does; the others go on. The simulator used to
// record writes on every running store, which hid that an evicted store's
// p99 reads NaN.
func TestLeaderlessStoreRecordsNoWrites(t *testing.T) {
	c, cl := newStarted(t)
	c.Advance(time.Second)
	cl.mustOK("POST", "/pd/api/v1/schedulers", map[string]any{"name": "evict-leader-scheduler", "store_id": 2})
	for range 5 {
		c.Advance(time.Second)
	}
	require.Zero(t, cl.stores()[2].Status.LeaderCount, "precondition: store 2 leads nothing")
	writes := func() map[subject.StoreID]uint64 {
		t.Helper()
		out := map[subject.StoreID]uint64{}
		for id := subject.StoreID(1); id <= 5; id++ {
			fams, err := scrape(t, cl, c, id)
			require.NoError(t, err)
			out[id] = histogram(t, fams, "tikv_storage_engine_async_request_duration_seconds", "write").GetSampleCount()
		}
		return out
	}
	before := writes()
	c.Advance(15 * time.Second)
	after := writes()
	require.Equal(t, before[2], after[2], "store 2 leads no region but recorded writes")
	for _, id := range []subject.StoreID{1, 3, 4, 5} {
		require.Greater(t, after[id], before[id], "store %d leads regions and records writes", id)
	}
	// In proportion to its leaders: a store's share of the cluster's
	// writes is its share of the leaders, within rounding.
	st := cl.stores()
	var leaders, total float64
	for _, id := range []subject.StoreID{1, 3, 4, 5} {
		leaders += float64(st[uint64(id)].Status.LeaderCount)
		total += float64(after[id] - before[id])
	}
	for _, id := range []subject.StoreID{1, 3, 4, 5} {
		share, want := float64(after[id]-before[id])/total, float64(st[uint64(id)].Status.LeaderCount)/leaders
		require.InDelta(t, want, share, 0.01, "store %d", id)
	}
}
