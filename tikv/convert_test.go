package tikv_test

import (
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/kvops/operator/internal/pdfixture"
	"github.com/kvops/operator/pdclient"
	"github.com/kvops/operator/subject"
	"github.com/kvops/operator/tikv"
)

// recordedBody returns the body of a recorded PD answer in
// testdata/convert.
func recordedBody(t *testing.T, name string) []byte {
	t.Helper()
	ex, err := pdfixture.Read(filepath.Join("testdata", "convert", name+".json"))
	require.NoError(t, err)
	b, err := ex.ResponseBody()
	require.NoError(t, err)
	return b
}

// recordedPDStores decodes a recorded /stores or /store/{id} answer.
func recordedPDStores(t *testing.T, name string) []pdclient.Store {
	t.Helper()
	b := recordedBody(t, name)
	if strings.HasPrefix(name, "store-") {
		var s pdclient.Store
		require.NoError(t, json.Unmarshal(b, &s))
		return []pdclient.Store{s}
	}
	var a struct {
		Stores []pdclient.Store `json:"stores"`
	}
	require.NoError(t, json.Unmarshal(b, &a))
	return a.Stores
}

// TestStoreFromPD converts a recorded store to the shared vocabulary.
func TestStoreFromPD(t *testing.T) {
	ss := recordedPDStores(t, "stores-evicting")
	require.NotEmpty(t, ss)
	require.EqualValues(t, 5, ss[0].Meta.ID)
	got, err := tikv.StoreFromPD(ss[0])
	require.NoError(t, err)
	hb := time.Date(2026, 11, 27, 12, 36, 26, 563680990, time.UTC)
	want := subject.Store{ID: 5, Address: "mock:://tikv-5:5", Version: "v8.5.0", State: subject.StateUp,
		NodeState: subject.NodeServing, Capacity: 1 << 40, Available: 8365 << 30 / 10, UsedSize: 1875 << 30 / 10,
		LeaderCount: 738, RegionCount: 1988, LastHeartbeat: hb}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("subject store (-want +got):\n%s", d)
	}
}

// TestStoreFromPDStates converts recorded stores in each state PD reports.
func TestStoreFromPDStates(t *testing.T) {
	tests := []struct {
		name     string
		id       uint64
		state    subject.StoreState
		node     subject.NodeState
		labels   map[string]string
		capacity uint64
	}{
		{"store-4-offline", 4, subject.StateOffline, subject.NodeRemoving, nil, 1 << 40},
		{"store-4-after-cancel", 4, subject.StateUp, subject.NodeServing, nil, 1 << 40},
		{"stores-down", 1, subject.StateDown, subject.NodeServing, map[string]string{"zone": "z1"}, 1 << 40},
		{"stores-disconnected", 1, subject.StateDisconnected, subject.NodeServing, map[string]string{"zone": "z1"}, 1 << 40},
		// Right after a PD election: every store Disconnected, sizes "0B".
		{"stores-follower-leader-just-killed", 3, subject.StateDisconnected, subject.NodeServing, nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			all := recordedPDStores(t, tt.name)
			i := slices.IndexFunc(all, func(s pdclient.Store) bool { return s.Meta.ID == tt.id })
			require.GreaterOrEqual(t, i, 0)
			got, err := tikv.StoreFromPD(all[i])
			require.NoError(t, err)
			if d := cmp.Diff([]any{tt.state, tt.node, tt.labels, tt.capacity},
				[]any{got.State, got.NodeState, got.Labels, got.Capacity}); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
			require.False(t, got.LastHeartbeat.IsZero())
		})
	}
}

// TestStoreFromPDUnknownState: a state name PD does not use is invalid.
func TestStoreFromPDUnknownState(t *testing.T) {
	_, err := tikv.StoreFromPD(pdclient.Store{Meta: pdclient.StoreMeta{ID: 7, StateName: "Sleeping"}})
	require.ErrorIs(t, err, subject.ErrInvalid)
}

// TestRegionFromPD converts a recorded region, and refuses malformed ones.
func TestRegionFromPD(t *testing.T) {
	var r pdclient.Region
	require.NoError(t, json.Unmarshal(recordedBody(t, "region-9-after-transfer"), &r))
	got, err := tikv.RegionFromPD(r)
	require.NoError(t, err)
	want := subject.Region{
		ID: 9, StartKey: []byte{},
		EndKey: []byte("\x74\x80\x00\x00\x00\x00\x00\x00\xff\x01\x5f\x72\x80\x00\x00\x00\x00" +
			"\xff\x00\x00\x00\xff\x00\x00\x00\x00\xfb"),
		Epoch:  subject.Epoch{ConfVer: 1, Version: 1},
		Peers:  []subject.Peer{{ID: 6, Store: 5}, {ID: 7, Store: 2}, {ID: 8, Store: 3}},
		Leader: subject.Peer{ID: 6, Store: 5}, HasLeader: true,
		ApproximateSize: 96, ApproximateKeys: 960000,
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}

	for _, tt := range []struct {
		bad  pdclient.Region
		want error
	}{
		{pdclient.Region{ID: 1, StartKey: "7G"}, pdclient.ErrBadResponse},
		{pdclient.Region{ID: 1, EndKey: "ABC"}, pdclient.ErrBadResponse},
		{pdclient.Region{ID: 1, Peers: []pdclient.Peer{{ID: 1, StoreID: 1, RoleName: "Witness"}}}, subject.ErrInvalid},
	} {
		_, err := tikv.RegionFromPD(tt.bad)
		require.ErrorIs(t, err, tt.want, "%+v", tt.bad)
	}
	noLeader, err := tikv.RegionFromPD(pdclient.Region{ID: 2, Peers: []pdclient.Peer{{ID: 3, StoreID: 1, IsLearner: true}}})
	require.NoError(t, err)
	require.False(t, noLeader.HasLeader)
	require.Equal(t, subject.RoleLearner, noLeader.Peers[0].Role)
}

// TestHotRegionsFromPD orders hot peers hottest first and takes the store
// from the map's key when a peer does not name it.
func TestHotRegionsFromPD(t *testing.T) {
	at := time.Date(2026, 11, 27, 12, 40, 0, 5e8, time.UTC)
	h := pdclient.HotRegions{AsPeer: map[uint64]pdclient.HotStoreStats{
		2: {Statistics: []pdclient.HotPeerStat{
			{StoreID: 2, IsLeader: true, RegionID: 73, HotDegree: 5, FlowBytes: 3145728, FlowKeys: 7, FlowQuery: 3, LastUpdateTime: at},
			{RegionID: 53, HotDegree: 1, FlowBytes: 1048576, FlowKeys: 3, FlowQuery: 2, LastUpdateTime: at.Add(time.Second)},
		}},
		3: {Statistics: []pdclient.HotPeerStat{{StoreID: 3, RegionID: 40, FlowBytes: 1048576}}},
	}}
	want := []subject.HotRegion{
		{Region: 73, Store: 2, IsLeader: true, BytesPerSec: 3145728, KeysPerSec: 7, QueryPerSec: 3, HotDegree: 5, LastUpdate: at},
		{Region: 40, Store: 3, BytesPerSec: 1048576},
		{Region: 53, Store: 2, BytesPerSec: 1048576, KeysPerSec: 3, QueryPerSec: 2, HotDegree: 1, LastUpdate: at.Add(time.Second)},
	}
	if d := cmp.Diff(want, tikv.HotRegionsFromPD(h)); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
}
