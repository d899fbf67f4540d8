package logparse

import (
	"bytes"
	"errors"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/kvops/operator/subject"
	"github.com/stretchr/testify/require"
)

func TestEventOf(t *testing.T) {
	at := utc("2024/07/24 12:47:12.981")
	tests := []struct {
		line string
		want Event
		ok   bool
	}{{
		line: `[2024/07/24 12:47:12.981 +00:00] [INFO] [raft.rs:1170] ["became pre-candidate at term 5"] [term=5] [raft_id=91] [region_id=90]`,
		want: Event{Kind: EventRoleChange, RoleChange: RoleChange{At: at, Region: 90, Peer: 91, Term: 5, Role: RolePreCandidate}}, ok: true,
	}, {
		line: `[2024/07/24 12:47:12.981 +00:00] [INFO] [raft.rs:1228] ["became leader at term 6"] [term=6] [peer_id=45] [region_id=44] [thread_id=3]`,
		want: Event{Kind: EventRoleChange, RoleChange: RoleChange{At: at, Region: 44, Peer: 45, Term: 6, Role: RoleLeader}}, ok: true,
	}, {
		line: `{"time":"2024/07/24 12:47:12.981 +00:00","level":"INFO","caller":"raft.rs:1120","message":"became follower at term 5","term":5,"raft_id":45,"region_id":44}`,
		want: Event{Kind: EventRoleChange, RoleChange: RoleChange{At: at, Region: 44, Peer: 45, Term: 5, Role: RoleFollower}}, ok: true,
	}, {
		line: `[2024/07/24 12:47:12.981 +00:00] [INFO] [raft.rs:1] ["became candidate at term 7"] [region_id=44]`,
		want: Event{Kind: EventRoleChange, RoleChange: RoleChange{At: at, Region: 44, Term: 7, Role: RoleCandidate}}, ok: true,
	}, {
		line: `[2024/07/24 12:47:12.981 +00:00] [INFO] [region.go:900] ["leader changed"] [region-id=3713] [from=5] [to=4]`,
		want: Event{Kind: EventLeaderChange, LeaderChange: LeaderChange{At: at, Region: 3713, From: 5, To: 4}}, ok: true,
	}, {
		line: `[2024/07/24 12:47:12.981 +00:00] [WARN] [cluster.go:1625] ["store has been Tombstone"] [store-id=4] [store-address=127.0.0.1:20164] [state=Offline]`,
		want: Event{Kind: EventStore, Store: StoreEvent{At: at, Store: 4, Address: "127.0.0.1:20164", Kind: StoreTombstone}}, ok: true,
	}, {
		line: `[2024/07/24 12:47:12.981 +00:00] [WARN] [cluster.go:1] ["store has been offline"] [store-id=4] [store-address=a:1] [physically-destroyed=false]`,
		want: Event{Kind: EventStore, Store: StoreEvent{At: at, Store: 4, Address: "a:1", Kind: StoreOffline}}, ok: true,
	}, {
		line: `[2024/07/24 12:47:12.981 +00:00] [WARN] [cluster.go:1] ["store has been up"] [store-id=4] [store-address=a:1]`,
		want: Event{Kind: EventStore, Store: StoreEvent{At: at, Store: 4, Address: "a:1", Kind: StoreUp}}, ok: true,
	}, {
		line: `[2024/07/24 12:47:12.981 +00:00] [INFO] [cluster.go:1907] ["store has changed to serving"] [store-id=5] [store-address=mock:://tikv-5:5]`,
		want: Event{Kind: EventStore, Store: StoreEvent{At: at, Store: 5, Address: "mock:://tikv-5:5", Kind: StoreServing}}, ok: true,
	},
		// Not events.
		{line: `[2024/07/24 12:47:12.981 +00:00] [INFO] [raft] [zap_raft.go:77] ["3037d9ad26fb2231 became follower at term 0"]`},
		{line: `[2024/07/24 12:47:12.981 +00:00] [INFO] [raft.rs:1] ["became leader at term 6"] [raft_id=1]`},
		{line: `[2024/07/24 12:47:12.981 +00:00] [INFO] [raft.rs:1] ["became boss at term 6"] [region_id=1]`},
		{line: `[2024/07/24 12:47:12.981 +00:00] [INFO] [raft.rs:1] ["became leader at term x"] [region_id=1]`},
		{line: `[2024/07/24 12:47:12.981 +00:00] [INFO] [region.go:900] ["leader changed"] [region-id=3713] [from=5]`},
		{line: `[2024/07/24 12:47:12.981 +00:00] [INFO] [cluster.go:1] ["store has been weird"] [store-id=5]`},
		{line: `[2024/07/24 12:47:12.981 +00:00] [INFO] [cluster.go:1] ["store has been up"]`},
		{line: `[2024/07/24 12:47:12.981 +00:00] [INFO] [x.go:1] ["something"] [msg="leader changed"]`},
	}
	for _, tt := range tests {
		e, err := ParseLine([]byte(tt.line))
		require.NoError(t, err)
		got, ok := EventOf(&e)
		if ok != tt.ok {
			t.Errorf("EventOf(%s) ok = %v", tt.line, ok)
			continue
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("EventOf(%s) (-want +got):\n%s", tt.line, diff)
		}
		// The fast reader finds the same.
		evs := collectEvents(t, NewEventReader(strings.NewReader(tt.line+"\n")))
		if ok && (len(evs) != 1 || !cmp.Equal(evs[0], tt.want)) {
			t.Errorf("EventReader(%s) = %v", tt.line, evs)
		}
		if !ok && len(evs) != 0 {
			t.Errorf("EventReader(%s) = %v, want none", tt.line, evs)
		}
	}
}

func collectEvents(t *testing.T, r *EventReader) []Event {
	t.Helper()
	var out []Event
	for ev, err := range r.All() {
		require.NoError(t, err)
		out = append(out, ev)
	}
	return out
}

func TestChange(t *testing.T) {
	at := utc("2024/07/24 12:47:12.981")
	rc := Event{Kind: EventRoleChange, RoleChange: RoleChange{At: at, Region: 90, Peer: 91, Term: 6, Role: RoleLeader}}
	c, ok := rc.Change()
	want := subject.LeadershipChange{At: at, Region: 90, Peer: 91, Term: 6, Role: "leader"}
	if !ok || !cmp.Equal(c, want) {
		t.Errorf("RoleChange.Change() = %+v, %v", c, ok)
	}
	lc := Event{Kind: EventLeaderChange, LeaderChange: LeaderChange{At: at, Region: 3713, From: 5, To: 4}}
	c, ok = lc.Change()
	want = subject.LeadershipChange{At: at, Region: 3713, From: 5, To: 4}
	if !ok || !cmp.Equal(c, want) {
		t.Errorf("LeaderChange.Change() = %+v, %v", c, ok)
	}
	se := Event{Kind: EventStore, Store: StoreEvent{At: at, Store: 1, Kind: StoreTombstone}}
	if _, ok := se.Change(); ok {
		t.Error("a store event gave a leadership change")
	}
	if se.Time() != at || lc.Time() != at || rc.Time() != at {
		t.Error("Event.Time")
	}
	for kind, want := range map[StoreEventKind]subject.StoreState{StoreOffline: subject.StateOffline, StoreTombstone: subject.StateTombstone, StoreUp: subject.StateUp, StoreServing: subject.StateUp} {
		if got := (StoreEvent{Kind: kind}).State(); got != want {
			t.Errorf("%v.State() = %v, want %v", kind, got, want)
		}
	}
}

// TestEventReaderRealPDLog: the fast path finds exactly what a full parse
// of every line finds.
func TestEventReaderRealPDLog(t *testing.T) {
	data, err := os.ReadFile("testdata/pd-balance-leader.log")
	require.NoError(t, err)
	var want []Event
	for e, err := range NewReader(bytes.NewReader(data)).All() {
		require.NoError(t, err)
		if ev, ok := EventOf(&e); ok {
			want = append(want, ev)
		}
	}
	got := collectEvents(t, NewEventReader(bytes.NewReader(data)))
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("(-full parse +EventReader):\n%s", diff)
	}
	counts := map[EventKind]int{}
	for _, ev := range got {
		counts[ev.Kind]++
	}
	if counts[EventLeaderChange] != 1356 || counts[EventStore] != 6 || counts[EventRoleChange] != 0 {
		t.Errorf("counts %v, want 1356 leader changes and 6 store events", counts)
	}
	// The first is store 5 changing to serving.
	if at := time.Date(2026, 11, 27, 12, 33, 7, 899e6, time.UTC); got[0].Kind != EventStore || got[0].Store.Store != 5 || !got[0].Time().Equal(at) {
		t.Errorf("first event %+v", got[0])
	}
}

func TestEventReaderErrors(t *testing.T) {
	in := `[2024/07/24 12:47:12.981 +00:00] [INFO] [region.go:900] ["leader changed"] [region-id=1] [from=5] [to=4` + "\n" +
		`[2024/07/24 12:47:12.981 +00:00] [INFO] [region.go:900] ["other"] [x="` + strings.Repeat("y", 3000) + `"]` + "\n" +
		`[2024/07/24 12:47:12.981 +00:00] [INFO] [region.go:900] ["leader changed"] [region-id=2] [from=5] [to=4]`
	r := NewEventReader(strings.NewReader(in), WithMaxEntrySize(1000))
	var kinds []string
	for ev, err := range r.All() {
		switch {
		case errors.Is(err, ErrSyntax):
			kinds = append(kinds, "syntax")
		case errors.Is(err, ErrTooLong):
			kinds = append(kinds, "toolong")
		case err != nil:
			t.Fatal(err)
		default:
			kinds = append(kinds, "region "+ev.LeaderChange.Region.String())
		}
	}
	want := []string{"syntax", "region 2"}
	if diff := cmp.Diff(want, kinds); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if _, err := r.Next(); err != io.EOF {
		t.Errorf("Next at the end = %v", err)
	}
}

func TestEventReaderZeroAllocs(t *testing.T) {
	data, err := os.ReadFile("testdata/pd-balance-leader.log")
	require.NoError(t, err)
	// Without the 6 store events, whose addresses are copied.
	var kept []byte
	for _, l := range bytes.SplitAfter(data, []byte("\n")) {
		if !bytes.Contains(l, []byte("store has")) {
			kept = append(kept, l...)
		}
	}
	r := NewEventReader(nil)
	pass := readPass(kept, r.Reset, func() error { _, err := r.Next(); return err })
	read := func() { require.NoError(t, pass()) }
	read()
	if n := testing.AllocsPerRun(5, read); n != 0 {
		t.Errorf("%v allocations per pass, want 0", n)
	}
}
