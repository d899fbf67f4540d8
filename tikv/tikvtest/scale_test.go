package tikvtest

import (
	"encoding/json"
	"net/http"
	"runtime"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/kvops/operator/pdclient"
)

// TestAllRegionsPagesInKeyOrder pages every region through pdclient's
// AllRegions (hex keys, format=hex) after splits, and checks each region
// comes once, in key order, tiling the key space.
func TestAllRegionsPagesInKeyOrder(t *testing.T) {
	c, cl := newStarted(t)
	for _, id := range []uint64{9, 13, 9} {
		cl.mustOK("POST", "/pd/api/v1/operators", map[string]any{"name": "split-region", "region_id": id, "policy": "approximate"})
		c.Advance(1)
	}
	pd, err := pdclient.New(pdclient.Config{Endpoints: []string{c.PDURL()}, HTTPClient: &http.Client{Transport: &http.Transport{}}})
	require.NoError(t, err)
	var got []uint64
	prevEnd := ""
	for r, err := range pd.AllRegions(t.Context(), pdclient.WithPageSize(7)) {
		require.NoError(t, err)
		require.Equal(t, prevEnd, r.StartKey, "region %d does not start where the last one ended", r.ID)
		prevEnd = r.EndKey
		got = append(got, r.ID)
	}
	require.Equal(t, "", prevEnd, "the last region ends the key space")
	var want []uint64
	for _, r := range c.regionsByKey() {
		want = append(want, r.id)
	}
	require.Len(t, want, 203)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("regions (-want +got):\n%s", diff)
	}
}

// TestScanRegionsRange checks end_key and bad hex as PD answers them.
func TestScanRegionsRange(t *testing.T) {
	_, cl := newStarted(t)
	k := func(i int) string { return keyHex(tableKey(i)) }
	tests := []struct {
		name, query string
		status      int
		ids         []uint64
	}{
		{"from a region start", "key=" + k(0) + "&format=hex&limit=3", 200, []uint64{13, 17, 21}},
		{"from inside a region", "key=" + k(0) + "00&format=hex&limit=2", 200, []uint64{13, 17}},
		{"up to an end key", "key=" + k(0) + "&end_key=" + k(2) + "&format=hex&limit=10", 200, []uint64{13, 17}},
		{"end before start", "key=" + k(2) + "&end_key=" + k(0) + "&format=hex", 200, nil},
		{"bad hex", "key=zz&format=hex", 400, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out regionsJSON
			status, _, body := cl.do("GET", "/pd/api/v1/regions/key?"+tt.query, nil)
			require.Equal(t, tt.status, status, "%s", body)
			if status == 200 {
				require.NoError(t, json.Unmarshal(body, &out))
			}
			var ids []uint64
			for _, r := range out.Regions {
				ids = append(ids, r.ID)
			}
			if diff := cmp.Diff(tt.ids, ids); diff != "" {
				t.Errorf("regions (-want +got):\n%s", diff)
			}
		})
	}
}

// TestQuietTickVisitsNoRegion checks that a tick of a healthy cluster
// allocates the same bytes whatever its number of regions: the region
// passes do not run (nor list the regions) when they have nothing to do.
func TestQuietTickVisitsNoRegion(t *testing.T) {
	perTick := func(regions int) uint64 {
		c, err := NewUnstartedCluster(Config{Clock: &fakeClock{t0}, Regions: regions, Seed: 1})
		require.NoError(t, err)
		t.Cleanup(func() { _ = c.Close() })
		c.Advance(1)
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		for range 20 {
			c.Advance(1)
		}
		runtime.ReadMemStats(&after)
		return (after.TotalAlloc - before.TotalAlloc) / 20
	}
	small, large := perTick(100), perTick(20000)
	// 20000 regions listed once would be 160 KB.
	if large > small+4096 {
		t.Errorf("bytes allocated by a quiet tick: %d with 100 regions, %d with 20000", small, large)
	}
}
