package tikvtest

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/kvops/operator/logparse"
)

// lines splits a log into its lines, each with its newline.
func lines(t *testing.T, b []byte) [][]byte {
	t.Helper()
	require.True(t, len(b) == 0 || b[len(b)-1] == '\n', "the log ends with a newline")
	return bytes.SplitAfter(b[:len(b):len(b)], []byte("\n"))[:bytes.Count(b, []byte("\n"))]
}

// TestLogEntriesRoundTrip writes entries through a sink and reads every
// line back with logparse.ParseLine: each gives the entry written.
func TestLogEntriesRoundTrip(t *testing.T) {
	at := time.Date(2026, 11, 27, 12, 47, 12, 982_000_000, time.UTC)
	tests := []struct {
		name string
		in   logparse.Entry
		want string // the line, when pinned
	}{
		{name: "raft", in: entry(at, logparse.LevelInfo, "raft.rs:1228", "became leader at term 6", f("term", 6), f("raft_id", uint64(91)), f("region_id", uint64(90))),
			want: `[2026/11/27 12:47:12.982 +00:00] [INFO] [raft.rs:1228] ["became leader at term 6"] [term=6] [raft_id=91] [region_id=90]`},
		{name: "bare message", in: entry(at, logparse.LevelInfo, "server.go:1709", "PD", f("release-version", "None")),
			want: `[2026/11/27 12:47:12.982 +00:00] [INFO] [server.go:1709] [PD] [release-version=None]`},
		{name: "quoted values", in: entry(at, logparse.LevelWarn, "a.go:1", "x", f("config", `{"a":"b c"}`), f("k", "a=b"), f("e", ""), f("br", "[1]"), f("nl", "a\nb")),
			want: `[2026/11/27 12:47:12.982 +00:00] [WARN] [a.go:1] [x] [config="{\"a\":\"b c\"}"] [k="a=b"] [e=] [br="[1]"] [nl="a\nb"]`},
		{name: "no fields", in: entry(at, logparse.LevelInfo, "server.go:1351", "schedule config is updated")},
		{name: "message that reads as a source", in: entry(at, logparse.LevelInfo, "a.go:1", "b.go:2", f("k", 1.5))},
		{name: "split keys", in: entry(at, logparse.LevelInfo, "peer.rs:4203", "on split", f("split_keys", "key 7480"), f("region_id", uint64(1)))},
		// Another zone, and a time finer than TiKV's milliseconds: written
		// in UTC, to the millisecond.
		{name: "zone and nanoseconds", in: entry(at.Add(123_456).In(time.FixedZone("X", 3600)), logparse.LevelWarn, "a.go:1", "m"),
			want: `[2026/11/27 12:47:12.982 +00:00] [WARN] [a.go:1] [m]`},
	}
	s, err := newLogSink("", "")
	require.NoError(t, err)
	for _, tt := range tests {
		s.write(tt.in)
	}
	got := lines(t, s.snapshot())
	require.Len(t, got, len(tests))
	for i, tt := range tests {
		if tt.want != "" {
			if diff := cmp.Diff(tt.want+"\n", string(got[i])); diff != "" {
				t.Errorf("%s: line (-want +got):\n%s", tt.name, diff)
			}
		}
		back, err := logparse.ParseLine(got[i])
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		if diff := cmp.Diff(tt.in, back); diff != "" {
			t.Errorf("%s: parsed back (-written +parsed):\n%s", tt.name, diff)
		}
		if !back.Time.Equal(at) {
			t.Errorf("%s: time %v", tt.name, back.Time)
		}
	}
	require.NoError(t, s.close())
}

// TestEveryLogLineParses runs a cluster through every event it logs and
// reads its log files back: every line parses, formats back to itself, and
// the leadership and store events are the ones logparse recognizes.
func TestEveryLogLineParses(t *testing.T) {
	dir := t.TempDir()
	c, err := NewUnstartedCluster(Config{Clock: &fakeClock{t0}, LogDir: dir, Regions: 20, Seed: 1})
	require.NoError(t, err)
	require.NoError(t, c.Start(t.Context()))
	t.Cleanup(func() { _ = c.Close() })
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	cl := &client{t: t, base: c.PDURL(), hc: &http.Client{Transport: tr, Timeout: 10 * time.Second}}

	require.NoError(t, c.StopStore(2))
	c.Advance(31 * time.Minute) // disconnected, then down
	require.NoError(t, c.StartStore(2))
	require.NoError(t, c.RestartStore(3))
	c.PDLeaderChange()
	c.Advance(time.Minute)
	var regions struct {
		Regions []regionView `json:"regions"`
	}
	cl.get("/pd/api/v1/regions", &regions)
	r := regions.Regions[0]
	to := r.Peers[0].StoreID
	if to == r.Leader.StoreID {
		to = r.Peers[1].StoreID
	}
	cl.mustOK("POST", "/pd/api/v1/operators", map[string]any{"name": "transfer-leader", "region_id": r.ID, "to_store_id": to})
	cl.mustOK("POST", "/pd/api/v1/operators", map[string]any{"name": "split-region", "region_id": regions.Regions[1].ID, "policy": "approximate"})
	cl.mustOK("POST", "/pd/api/v1/schedulers", map[string]any{"name": "evict-leader-scheduler", "store_id": 1})
	cl.mustOK("POST", "/pd/api/v1/config", map[string]any{"leader-schedule-limit": 8})
	c.Advance(time.Minute)
	cl.mustOK("DELETE", "/pd/api/v1/store/4", nil)
	cl.mustOK("POST", "/pd/api/v1/store/4/state?state=Up", nil)
	cl.mustOK("DELETE", "/pd/api/v1/store/5", nil)
	for range 100 { // draining moves regions tick by tick
		c.Advance(time.Second)
	}
	require.NoError(t, c.Close())

	messages := map[string]int{}
	events := map[string]int{}
	for id := 0; id <= 5; id++ {
		name := fmt.Sprintf("tikv-%d.log", id)
		if id == 0 {
			name = "pd.log"
		}
		b, err := os.ReadFile(filepath.Join(dir, name))
		require.NoError(t, err)
		for i, line := range lines(t, b) {
			e, err := logparse.ParseLine(line)
			if err != nil {
				t.Errorf("%s:%d: %v", name, i+1, err)
				continue
			}
			if diff := cmp.Diff(string(line), string(logparse.Format(e))); diff != "" {
				t.Errorf("%s:%d: formatted back (-line +formatted):\n%s", name, i+1, diff)
			}
			msg := e.Message
			if strings.HasPrefix(msg, "became ") {
				msg = strings.Join(strings.Fields(msg)[:2], " ")
			}
			messages[msg]++
			if ev, ok := logparse.EventOf(&e); ok {
				switch ev.Kind {
				case logparse.EventLeaderChange:
					events["leader changed"]++
				case logparse.EventRoleChange:
					events["role "+ev.RoleChange.Role.String()]++
				case logparse.EventStore:
					events["store "+ev.Store.Kind.String()]++
				}
			}
		}
	}
	for _, m := range []string{"Welcome to TiKV", "campaign PD leader ok", "store disconnected", "store is down",
		"became leader", "became follower", "leader changed", "receive signal 15, stopping server...", "put store ok",
		"on split", "region Version changed", "create scheduler", "schedule config is updated",
		"store has been offline", "store has been up", "store has been Tombstone"} {
		if messages[m] == 0 {
			t.Errorf("no %q line; lines: %v", m, messages)
		}
	}
	for _, ev := range []string{"leader changed", "role leader", "role follower", "store offline", "store up", "store tombstone"} {
		if events[ev] == 0 {
			t.Errorf("no %s event; events: %v", ev, events)
		}
	}
	if events["leader changed"] != messages["leader changed"] {
		t.Errorf("%d leader changed lines, %d events", messages["leader changed"], events["leader changed"])
	}
}
