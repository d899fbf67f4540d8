package tikv_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/kvops/operator/subject"
)

func TestRegionLookups(t *testing.T) {
	c := newCluster(t, nil)
	ctx := t.Context()
	all, err := c.sub.RangeRegions(ctx, nil, nil, subject.MaxRegionsPerCall)
	require.NoError(t, err)
	require.Len(t, all, 60, "the simulated cluster's regions")
	for i := 1; i < len(all); i++ {
		require.True(t, bytes.Equal(all[i-1].EndKey, all[i].StartKey), "regions %d and %d are not adjacent", all[i-1].ID, all[i].ID)
	}

	one, err := c.sub.Region(ctx, all[7].ID)
	require.NoError(t, err)
	require.Equal(t, all[7], one)
	leader, err := c.sim.RegionLeader(one.ID)
	require.NoError(t, err)
	require.Equal(t, leader, one.Leader.Store)

	// A range from inside region 7 to inside region 9 covers 7, 8 and 9.
	start := append(bytes.Clone(all[7].StartKey), 0)
	end := append(bytes.Clone(all[9].StartKey), 0)
	part, err := c.sub.RangeRegions(ctx, start, end, 10)
	require.NoError(t, err)
	require.Equal(t, []subject.RegionID{all[7].ID, all[8].ID, all[9].ID}, ids(part))
	limited, err := c.sub.RangeRegions(ctx, nil, nil, 3)
	require.NoError(t, err)
	require.Equal(t, ids(all[:3]), ids(limited))

	onStore, err := c.sub.StoreRegions(ctx, 2, 5)
	require.NoError(t, err)
	require.Len(t, onStore, 5)
	for _, r := range onStore {
		_, ok := r.PeerOn(2)
		require.True(t, ok, "region %d has no peer on store 2", r.ID)
	}

	for _, tc := range []struct {
		name string
		err  error
		want error
	}{
		{"region 0", func() error { _, err := c.sub.Region(ctx, 0); return err }(), subject.ErrInvalid},
		{"missing region", func() error { _, err := c.sub.Region(ctx, 99999); return err }(), subject.ErrNotFound},
		{"store 0", func() error { _, err := c.sub.StoreRegions(ctx, 0, 1); return err }(), subject.ErrInvalid},
		{"missing store", func() error { _, err := c.sub.StoreRegions(ctx, 42, 1); return err }(), subject.ErrNotFound},
		{"no limit", func() error { _, err := c.sub.StoreRegions(ctx, 1, 0); return err }(), subject.ErrInvalid},
		{"limit too high", func() error { _, err := c.sub.RangeRegions(ctx, nil, nil, subject.MaxRegionsPerCall+1); return err }(), subject.ErrInvalid},
	} {
		if !errors.Is(tc.err, tc.want) {
			t.Errorf("%s: err = %v, want %v", tc.name, tc.err, tc.want)
		}
	}
}

func ids(rs []subject.Region) []subject.RegionID {
	out := make([]subject.RegionID, len(rs))
	for i, r := range rs {
		out[i] = r.ID
	}
	return out
}
