package tikv

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/stretchr/testify/require"

	"github.com/kvops/operator/pdclient"
	"github.com/kvops/operator/subject"
)

// recordedStores reads a GET /stores answer recorded from a real PD.
func recordedStores(t *testing.T, name string) []subject.Store {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name+".json"))
	require.NoError(t, err)
	var answer struct {
		Stores []pdclient.Store `json:"stores"`
	}
	require.NoError(t, json.Unmarshal(b, &answer))
	require.NotEmpty(t, answer.Stores)
	var out []subject.Store
	for _, s := range answer.Stores {
		st, err := storeFromPD(s)
		require.NoError(t, err)
		out = append(out, st)
	}
	return out
}

// TestRecordedLeaderChange replays what a real three-member PD answered
// around the death of its leader: the new leader's all-Disconnected, 0B
// answer must hold judgement, not fire for every store, and must not read
// as full disks.
func TestRecordedLeaderChange(t *testing.T) {
	w := leaderWindow{maxHold: 30 * time.Second}
	steps := []struct {
		name   string
		at     time.Duration
		leader string
		want   []finding
	}{
		{"stores-from-leader", 0, "pd3", []finding{}},
		{"stores-follower-leader-just-killed", 2 * time.Second, "pd1", []finding{
			{"store=1", true}, {"store=2", true}, {"store=3", true}, {"store=4", true}, {"store=5", true},
		}},
		{"stores-after-election", 12 * time.Second, "pd1", []finding{}},
	}
	for _, s := range steps {
		stores := recordedStores(t, s.name)
		now := t0.Add(s.at)
		hold := w.observe(now, s.leader, stores)
		if diff := cmp.Diff(s.want, keys(judgeStoreHealth(stores, hold, nil, now))); diff != "" {
			t.Errorf("%s: store health (-want +got):\n%s", s.name, diff)
		}
		for _, f := range judgeLowSpace(stores, 0.8) {
			if !f.Unknown {
				t.Errorf("%s: low space fired on PD's sizes: %s", s.name, f.Message)
			}
		}
	}
}

// TestRecordedLeaderChangeStoredHeartbeat replays the new leader of a real
// three-member PD judging the stores by the last heartbeat PD wrote to its
// storage: Up at 0B when that is recent, Down at 0B when it is older than
// max-store-down-time (30 s there). Neither fires: the Down ones are held
// as after any leader change, and a store that stays so past the hold is
// judged.
func TestRecordedLeaderChangeStoredHeartbeat(t *testing.T) {
	all := []finding{{"store=1", true}, {"store=2", true}, {"store=3", true}, {"store=4", true}, {"store=5", true}}
	for _, tt := range []struct {
		name string
		want []finding
	}{
		{"stores-after-election-stored-up", []finding{}},
		{"stores-after-election-stored-down", all},
	} {
		t.Run(tt.name, func(t *testing.T) {
			w := leaderWindow{maxHold: 30 * time.Second}
			require.False(t, w.observe(t0, "pd3", recordedStores(t, "stores-from-leader")))
			stores := recordedStores(t, tt.name)
			now := t0.Add(13 * time.Second)
			hold := w.observe(now, "pd1", stores)
			byKey := cmpopts.SortSlices(func(a, b finding) bool { return a.Key < b.Key })
			if diff := cmp.Diff(tt.want, keys(judgeStoreHealth(stores, hold, nil, now)), byKey); diff != "" {
				t.Errorf("store health (-want +got):\n%s", diff)
			}
			for _, f := range judgeLowSpace(stores, 0.8) {
				if !f.Unknown {
					t.Errorf("low space fired on PD's sizes: %s", f.Message)
				}
			}
			// Still unreported past the hold: judged.
			later := now.Add(31 * time.Second)
			hold = w.observe(later, "pd1", stores)
			for _, f := range judgeStoreHealth(stores, hold, nil, later) {
				if f.Unknown {
					t.Errorf("%s still held after the hold: %s", f.Key, f.Message)
				}
			}
		})
	}
}

// TestRecordedOutage replays a real PD whose stores all stopped, on the
// same PD leader: sizes are still known, so every store fires at once,
// Disconnected and then Down.
func TestRecordedOutage(t *testing.T) {
	w := leaderWindow{maxHold: 30 * time.Second}
	for i, name := range []string{"stores", "stores-disconnected", "stores-down"} {
		stores := recordedStores(t, name)
		now := t0.Add(time.Duration(i) * 30 * time.Second)
		hold := w.observe(now, "pd1", stores)
		got := judgeStoreHealth(stores, hold, nil, now)
		wantN := 5
		if name == "stores" {
			wantN = 0
		}
		if len(got) != wantN {
			t.Fatalf("%s: %d findings, want %d: %v", name, len(got), wantN, got)
		}
		for _, f := range got {
			if f.Unknown {
				t.Errorf("%s: %s held, want judged: %s", name, f.Key, f.Message)
			}
		}
	}
}
