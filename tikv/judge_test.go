package tikv

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/stretchr/testify/require"

	"github.com/kvops/operator/invariant"
	"github.com/kvops/operator/pdclient"
	"github.com/kvops/operator/subject"
)

var t0 = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

func up(id subject.StoreID) subject.Store {
	return subject.Store{ID: id, Address: "tikv-" + id.String(), State: subject.StateUp,
		Capacity: 1000, Available: 500, UsedSize: 400, LastHeartbeat: t0}
}

func with(s subject.Store, f func(*subject.Store)) subject.Store { f(&s); return s }

func disconnected(s *subject.Store) {
	s.State = subject.StateDisconnected
	s.LastHeartbeat = t0.Add(-25 * time.Second)
}

// zeroed is how a new PD leader shows a store it has not heard from yet.
func zeroed(s *subject.Store) {
	s.State = subject.StateDisconnected
	s.Capacity, s.Available, s.UsedSize = 0, 0, 0
}

type finding struct {
	Key     string
	Unknown bool
}

func keys(fs []invariant.Finding) []finding {
	out := []finding{}
	for _, f := range fs {
		out = append(out, finding{f.Key, f.Unknown})
	}
	return out
}

func TestJudgeStoreHealth(t *testing.T) {
	tests := []struct {
		name   string
		stores []subject.Store
		hold   bool
		want   []finding
	}{
		{"all up", []subject.Store{up(1), up(2)}, false, []finding{}},
		{"one disconnected", []subject.Store{up(1), with(up(2), disconnected)}, false, []finding{{"store=2", false}}},
		{"down and offline", []subject.Store{
			with(up(1), func(s *subject.Store) { s.State = subject.StateDown }),
			with(up(2), func(s *subject.Store) { s.State = subject.StateOffline }),
		}, false, []finding{{"store=1", false}, {"store=2", false}}},
		{"tombstone ignored", []subject.Store{up(1), with(up(3), func(s *subject.Store) { s.State = subject.StateTombstone })}, false, []finding{}},
		{"zeroed store held in the window", []subject.Store{up(1), with(up(2), zeroed)}, true, []finding{{"store=2", true}}},
		{"zeroed store judged outside the window", []subject.Store{up(1), with(up(2), zeroed)}, false, []finding{{"store=2", false}}},
		{"store with sizes not held in the window", []subject.Store{with(up(1), disconnected), with(up(2), zeroed)}, true, []finding{{"store=1", false}, {"store=2", true}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := keys(judgeStoreHealth(tt.stores, tt.hold, nil, t0))
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("findings (-want +got):\n%s", diff)
			}
		})
	}
}

func TestStoreHealthMessages(t *testing.T) {
	fs := judgeStoreHealth([]subject.Store{
		with(up(1), disconnected),
		with(up(2), func(s *subject.Store) { s.State = subject.StateDown; s.LastHeartbeat = t0.Add(-31 * time.Minute) }),
		with(up(3), func(s *subject.Store) { s.State = subject.StateOffline; s.RegionCount = 12 }),
	}, false, nil, t0)
	want := []string{
		"store 1 (tikv-1) is Disconnected: no heartbeat for 25s",
		"store 2 (tikv-2) is Down: no heartbeat for 31m0s, PD is moving its replicas away",
		"store 3 (tikv-3) is Offline: being drained, 12 regions left",
	}
	var got []string
	for _, f := range fs {
		got = append(got, f.Message)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("messages (-want +got):\n%s", diff)
	}
}

func TestLeaderWindow(t *testing.T) {
	allZeroed := []subject.Store{with(up(1), zeroed), with(up(2), zeroed), with(up(3), zeroed)}
	oneBack := []subject.Store{up(1), with(up(2), zeroed), with(up(3), zeroed)}
	healthy := []subject.Store{up(1), up(2), up(3)}
	oneDead := []subject.Store{up(1), up(2), with(up(3), zeroed)}
	type step struct {
		at     time.Duration
		leader string
		stores []subject.Store
		want   bool
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"steady cluster never holds", []step{
			{0, "pd1", healthy, false}, {10 * time.Second, "pd1", healthy, false},
		}},
		{"leader change opens the window", []step{
			{0, "pd1", healthy, false},
			{10 * time.Second, "pd2", oneBack, true},
			{20 * time.Second, "pd2", healthy, true},
			{41 * time.Second, "pd2", healthy, false},
		}},
		{"signature alone opens the window", []step{
			{0, "", allZeroed, true},
			{5 * time.Second, "", oneBack, true},
		}},
		{"a store dead through the change is judged after the hold", []step{
			{0, "pd1", healthy, false},
			{1 * time.Second, "pd2", allZeroed, true},
			{15 * time.Second, "pd2", oneDead, true},
			{32 * time.Second, "pd2", oneDead, false},
			{50 * time.Second, "pd2", oneDead, false},
		}},
		{"a cluster silent through the change is judged after one hold", []step{
			{0, "pd1", healthy, false},
			{1 * time.Second, "pd2", allZeroed, true},
			{20 * time.Second, "pd2", allZeroed, true},
			{32 * time.Second, "pd2", allZeroed, false},
			{70 * time.Second, "pd2", allZeroed, false},
		}},
		{"clock going backwards keeps the window", []step{
			{0, "pd1", healthy, false},
			{10 * time.Second, "pd2", oneBack, true},
			{-time.Hour, "pd2", oneBack, true},
		}},
		{"a store newly unreported opens the window without the leader's name", []step{
			{0, "", healthy, false},
			{10 * time.Second, "", oneBack, true},
			{20 * time.Second, "", oneBack, true},
			{41 * time.Second, "", oneBack, false},
		}},
		{"a leader that changed and came back between two looks", []step{
			{0, "pd1", healthy, false},
			{10 * time.Second, "pd1", oneBack, true},
		}},
		{"a store unreported since the first look opens nothing later", []step{
			{0, "pd1", oneDead, false},
			{10 * time.Second, "pd1", oneDead, false},
		}},
		{"unreadable leader does not open a window", []step{
			{0, "pd1", healthy, false},
			{10 * time.Second, "", healthy, false},
			{20 * time.Second, "pd1", healthy, false},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := leaderWindow{maxHold: 30 * time.Second}
			for i, s := range tt.steps {
				if got := w.observe(t0.Add(s.at), s.leader, s.stores); got != s.want {
					t.Fatalf("step %d (at %v, leader %q): hold = %v, want %v", i, s.at, s.leader, got, s.want)
				}
			}
		})
	}
}

func TestJudgeMetric(t *testing.T) {
	rule := metricRule{what: "p99 write latency", threshold: 0.1, format: formatSeconds,
		read: func(m subject.StoreMetrics) subject.Value { return m.WriteLatencyP99 }}
	got := judgeMetric([]subject.StoreMetrics{
		{Store: 1, WriteLatencyP99: subject.Known(0.004)},
		{Store: 2, WriteLatencyP99: subject.Known(0.3)},
		{Store: 3, WriteLatencyP99: subject.Unknown("no series")},
		{Store: 4, WriteLatencyP99: subject.Known(0.1)},
	}, rule)
	want := []invariant.Finding{
		{Key: "store=2", Value: 0.3, Message: "store 2: p99 write latency is 300ms, above 100ms"},
		{Key: "store=3", Unknown: true, Message: "store 3: p99 write latency is unknown: no series"},
	}
	if diff := cmp.Diff(want, got, cmpopts.IgnoreFields(invariant.Finding{}, "Labels")); diff != "" {
		t.Errorf("findings (-want +got):\n%s", diff)
	}
}

// TestJudgeWriteLatency: a store that served no write in the window (its
// histogram did not move: Prometheus' p99 is NaN) holds, so that a firing
// alert resolves once a store's leaders are evicted; a reading that is
// missing (a failed query, no series) is unknown and keeps the state. (A
// NaN was unknown: the alert of an evicted store stayed firing forever.)
func TestJudgeWriteLatency(t *testing.T) {
	got := judgeWriteLatency([]subject.StoreMetrics{
		{Store: 1, WriteLatencyP99: subject.Known(0.004)},
		{Store: 2, WriteLatencyP99: subject.Known(0.3)},
		{Store: 3, WriteLatencyP99: subject.Unknown("no series")},
		{Store: 4, WriteLatencyP99: subject.Known(0.1)},
		{Store: 5, WriteLatencyP99: subject.Known(math.NaN())},
		{Store: 6, WriteLatencyP99: subject.Unknown("promclient: query write_latency_p99: connection refused")},
	}, Thresholds{})
	want := []invariant.Finding{
		{Key: "store=2", Value: 0.3, Message: "store 2: p99 write latency is 300ms, above 100ms"},
		{Key: "store=3", Unknown: true, Message: "store 3: p99 write latency is unknown: no series"},
		{Key: "store=6", Unknown: true, Message: "store 6: p99 write latency is unknown: promclient: query write_latency_p99: connection refused"},
	}
	if diff := cmp.Diff(want, got, cmpopts.IgnoreFields(invariant.Finding{}, "Labels")); diff != "" {
		t.Errorf("findings (-want +got):\n%s", diff)
	}
}

func TestWriteLatencyState(t *testing.T) {
	tests := []struct {
		th   Thresholds
		p99  subject.Value
		want LatencyState
	}{
		{Thresholds{}, subject.Known(0.004), LatencyOK},
		{Thresholds{}, subject.Known(0.1), LatencyOK}, // at the default 100ms
		{Thresholds{}, subject.Known(0.101), LatencyHigh},
		{Thresholds{WriteLatencyP99: 500 * time.Millisecond}, subject.Known(0.3), LatencyOK},
		{Thresholds{}, subject.Known(math.NaN()), LatencyNoWrites},
		{Thresholds{}, subject.Known(math.Inf(1)), LatencyUnknown},
		{Thresholds{}, subject.Unknown("no series"), LatencyUnknown},
		{Thresholds{}, subject.Value{}, LatencyUnknown},
	}
	for _, tt := range tests {
		if got := tt.th.WriteLatencyState(tt.p99); got != tt.want {
			t.Errorf("%+v.WriteLatencyState(%v) = %v, want %v", tt.th.WriteLatencyP99, tt.p99, got, tt.want)
		}
	}
}

// TestLatencyAlertResolvesWithoutWrites: through the evaluator, a firing
// write_latency_p99 resolves when the store serves no more writes, and
// stays firing while its reading is missing.
func TestLatencyAlertResolvesWithoutWrites(t *testing.T) {
	for _, tt := range []struct {
		name  string
		after subject.Value
		want  []string // the transitions of the second look
	}{
		{"no writes reach the store", subject.Known(math.NaN()), []string{"store=2: firing -> resolved"}},
		{"Prometheus cannot be read", subject.Unknown("promclient: all 10 metric queries failed"), nil},
		{"no series for the store", subject.Unknown("no write_latency_p99 series for instance tikv-2:20180"), nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var reading atomic.Pointer[subject.Value]
			slow := subject.Known(0.3)
			reading.Store(&slow)
			e, err := invariant.New([]invariant.Invariant{{Name: InvWriteLatency, Severity: invariant.SeverityWarning,
				Check: func(context.Context, time.Time) ([]invariant.Finding, error) {
					return judgeWriteLatency([]subject.StoreMetrics{{Store: 2, WriteLatencyP99: *reading.Load()}}, Thresholds{}), nil
				}}}, invariant.Config{})
			require.NoError(t, err)
			rep, err := e.Evaluate(t.Context(), t0)
			require.NoError(t, err)
			require.Len(t, rep.Transitions, 1)
			require.Equal(t, invariant.StateFiring, rep.Transitions[0].To)
			reading.Store(&tt.after)
			rep, err = e.Evaluate(t.Context(), t0.Add(time.Minute))
			require.NoError(t, err)
			var got []string
			for _, tr := range rep.Transitions {
				got = append(got, fmt.Sprintf("%s: %s -> %s", tr.Key, tr.From, tr.To))
			}
			require.Equal(t, tt.want, got)
		})
	}
}

func TestJudgeLowSpace(t *testing.T) {
	got := keys(judgeLowSpace([]subject.Store{
		up(1), // 50 % used
		with(up(2), func(s *subject.Store) { s.Available = 150 }), // 85 %
		with(up(3), zeroed), // no sizes: unknown, not full
		with(up(4), func(s *subject.Store) { s.State = subject.StateTombstone; s.Available = 0 }),
	}, 0.8))
	want := []finding{{"store=2", false}, {"store=3", true}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("findings (-want +got):\n%s", diff)
	}
}

func TestJudgeLeaderBalance(t *testing.T) {
	leaders := func(counts ...int) []subject.Store {
		var out []subject.Store
		for i, c := range counts {
			out = append(out, with(up(subject.StoreID(i+1)), func(s *subject.Store) { s.LeaderCount = c }))
		}
		return out
	}
	tests := []struct {
		name   string
		stores []subject.Store
		want   int
	}{
		{"balanced", leaders(100, 101, 99), 0},
		{"imbalanced", leaders(300, 100, 100), 1},
		{"small gap is noise", leaders(3, 1, 1), 0},
		{"single store", leaders(100), 0},
		{"no leaders", leaders(0, 0), 0},
		{"unreported store makes it unknown", append(leaders(300, 100), with(up(3), zeroed)), 1},
		{"down store ignored", append(leaders(100, 100), with(up(9), func(s *subject.Store) { s.State = subject.StateDown; s.LeaderCount = 900 })), 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := judgeLeaderBalance(tt.stores, nil, 0.25, 10); len(got) != tt.want {
				t.Errorf("got %d findings (%v), want %d", len(got), got, tt.want)
			}
		})
	}
	if got := judgeLeaderBalance(append(leaders(300, 100), with(up(3), zeroed)), nil, 0.25, 10); !got[0].Unknown {
		t.Errorf("with an unreported store: %+v, want one unknown finding", got)
	}
	got := judgeLeaderBalance(leaders(300, 100, 100), nil, 0.25, 10)
	if want := "leaders are unbalanced: store 1 holds 300 leaders, 1.8x the mean of 167 over 3 Up stores (store 3 holds 100)"; got[0].Message != want {
		t.Errorf("message = %q, want %q", got[0].Message, want)
	}
}

// TestJudgeLeaderBalanceLeavesEvictedStoresOut: a store whose leaders are
// evicted, by whichever scheduler, is left out of the mean and of the
// least busy, and the finding names it (it used to be counted: after the
// library's own eviction the invariant went pending and fired 10 minutes
// later).
func TestJudgeLeaderBalanceLeavesEvictedStoresOut(t *testing.T) {
	counts := func(c ...int) []subject.Store {
		var out []subject.Store
		for i, n := range c {
			out = append(out, with(up(subject.StoreID(i+1)), func(s *subject.Store) { s.LeaderCount = n }))
		}
		return out
	}
	tests := []struct {
		name    string
		stores  []subject.Store
		evicted map[subject.StoreID][]string
		want    []invariant.Finding
	}{
		{"one store evicted, the others balanced", counts(0, 50, 50, 50, 50), map[subject.StoreID][]string{1: {"evict-leader-scheduler"}}, nil},
		{"slow and stopping stores evicted by PD", counts(100, 0, 0, 100, 100),
			map[subject.StoreID][]string{2: {"evict-slow-store-scheduler"}, 3: {"evict-stopping-store-scheduler"}}, nil},
		{"not evicted: counted", counts(0, 50, 50, 50, 50), nil, []invariant.Finding{{Value: 1.25,
			Labels:  map[string]string{"store": "2"},
			Message: "leaders are unbalanced: store 2 holds 50 leaders, 1.2x the mean of 40 over 5 Up stores (store 1 holds 0)"}}},
		{"an imbalance among the others still fires, naming the stores left out", counts(0, 90, 30, 30), map[subject.StoreID][]string{1: {"evict-leader-scheduler", "evict-slow-store-scheduler"}},
			[]invariant.Finding{{Value: 90 / 50.0, Labels: map[string]string{"store": "2"},
				Message: "leaders are unbalanced: store 2 holds 90 leaders, 1.8x the mean of 50 over 3 Up stores (store 4 holds 30); left out, their leaders evicted: store 1 (evict-leader-scheduler, evict-slow-store-scheduler)"}}},
		{"an evicted store that is not Up is not named", append(counts(0, 90, 30, 30), with(up(5), func(s *subject.Store) { s.State = subject.StateDown })),
			map[subject.StoreID][]string{5: {"evict-leader-scheduler"}},
			[]invariant.Finding{{Value: 90 / 37.5, Labels: map[string]string{"store": "2"},
				Message: "leaders are unbalanced: store 2 holds 90 leaders, 2.4x the mean of 38 over 4 Up stores (store 1 holds 0)"}}},
		{"every store but one evicted", counts(0, 0, 300), map[subject.StoreID][]string{1: {"evict-leader-scheduler"}, 2: {"evict-leader-scheduler"}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := judgeLeaderBalance(tt.stores, tt.evicted, 0.2, 10)
			if diff := cmp.Diff(tt.want, got, cmpopts.EquateApprox(0, 1e-9)); diff != "" {
				t.Errorf("findings (-want +got):\n%s", diff)
			}
		})
	}
}

func TestJudgePeers(t *testing.T) {
	if got := judgePeers("down-peer", nil); got != nil {
		t.Errorf("no regions: got %v", got)
	}
	regions := make([]subject.Region, 7)
	for i := range regions {
		regions[i].ID = subject.RegionID(i + 10)
	}
	got := judgePeers("down-peer", regions)
	want := []invariant.Finding{{Key: "down-peer", Value: 7, Message: "7 regions have down-peers (10, 11, 12, 13, 14, ...)"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("findings (-want +got):\n%s", diff)
	}
}

func TestStoreOf(t *testing.T) {
	tests := []struct {
		labels map[string]string
		want   subject.StoreID
		ok     bool
	}{
		{map[string]string{"store": "4"}, 4, true},
		{map[string]string{"store": "0"}, 0, false},
		{map[string]string{"store": "x"}, 0, false},
		{map[string]string{"store_id": "5"}, 5, true},
		{map[string]string{"store": "x", "store_id": "5"}, 5, true},
		{map[string]string{"instance": "tikv-2:20180"}, 0, false},
		{nil, 0, false},
	}
	for _, tt := range tests {
		got, ok := StoreOf(invariant.Alert{Labels: tt.labels})
		if got != tt.want || ok != tt.ok {
			t.Errorf("StoreOf(%v) = %v, %v; want %v, %v", tt.labels, got, ok, tt.want, tt.ok)
		}
	}
}

func TestStoreOfIn(t *testing.T) {
	stores := []subject.Store{
		{ID: 1, Address: "tikv-1:20160", StatusAddress: "tikv-1:20180"},
		{ID: 2, Address: "tikv-2:20160", StatusAddress: "tikv-2:20180"},
	}
	tests := []struct {
		labels map[string]string
		want   subject.StoreID
		ok     bool
	}{
		// An alert of a rule over TiKV's metrics: the instance is the
		// status address.
		{map[string]string{"alertname": "TiKV_write_stall", "instance": "tikv-2:20180"}, 2, true},
		// The store label wins over the instance.
		{map[string]string{"store_id": "1", "instance": "tikv-2:20180"}, 1, true},
		// PD's instance, or a store's data address, is no store's status
		// address.
		{map[string]string{"instance": "pd-1:2379"}, 0, false},
		{map[string]string{"instance": "tikv-1:20160"}, 0, false},
		{map[string]string{"alertname": "PD_leader_change"}, 0, false},
	}
	for _, tt := range tests {
		got, ok := StoreOfIn(invariant.Alert{Labels: tt.labels}, stores)
		if got != tt.want || ok != tt.ok {
			t.Errorf("StoreOfIn(%v) = %v, %v; want %v, %v", tt.labels, got, ok, tt.want, tt.ok)
		}
	}
}

// registered is how PD lists a store that registered but has not sent its
// first heartbeat: Down, no last heartbeat, no sizes.
func registered(s *subject.Store) {
	s.State = subject.StateDown
	s.LastHeartbeat = time.Time{}
	s.Capacity, s.Available, s.UsedSize = 0, 0, 0
}

// TestStoreStartGrace: a store that registered but never sent a heartbeat
// is starting, unknown, for the grace from the first look that saw it
// so; then it is Down, and the message says which it is.
func TestStoreStartGrace(t *testing.T) {
	type step struct {
		at     time.Duration
		stores []subject.Store
		want   []finding
		msg    string // of the finding for store 2, when set
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"starting, then up", []step{
			{0, []subject.Store{up(1), with(up(2), registered)}, []finding{{"store=2", true}},
				"store 2 (tikv-2) is starting: registered with PD, no heartbeat yet (for 0s; judged Down after 1m0s)"},
			{50 * time.Second, []subject.Store{up(1), with(up(2), registered)}, []finding{{"store=2", true}},
				"store 2 (tikv-2) is starting: registered with PD, no heartbeat yet (for 50s; judged Down after 1m0s)"},
			{55 * time.Second, []subject.Store{up(1), up(2)}, []finding{}, ""},
		}},
		{"never heartbeats: Down after the grace", []step{
			{0, []subject.Store{with(up(2), registered)}, []finding{{"store=2", true}}, ""},
			{time.Minute, []subject.Store{with(up(2), registered)}, []finding{{"store=2", false}},
				"store 2 (tikv-2) is Down: registered with PD but never sent a heartbeat, starting for 1m0s (more than 1m0s)"},
		}},
		{"a store that heartbeated and died is Down at once", []step{
			{0, []subject.Store{with(up(2), registered)}, []finding{{"store=2", true}}, ""},
			{10 * time.Second, []subject.Store{with(up(2), func(s *subject.Store) { s.State = subject.StateDown; s.LastHeartbeat = t0.Add(-20 * time.Minute) })},
				[]finding{{"store=2", false}}, "store 2 (tikv-2) is Down: no heartbeat for 20m10s, PD is moving its replicas away"},
			// Registered again (a new store of the same id after a wipe): a
			// new grace.
			{20 * time.Second, []subject.Store{with(up(2), registered)}, []finding{{"store=2", true}}, ""},
		}},
		{"clock going backwards restarts the grace at the new time", []step{
			{0, []subject.Store{with(up(2), registered)}, []finding{{"store=2", true}}, ""},
			{-time.Hour, []subject.Store{with(up(2), registered)}, []finding{{"store=2", true}}, ""},
			{-time.Hour + 59*time.Second, []subject.Store{with(up(2), registered)}, []finding{{"store=2", true}}, ""},
			{-time.Hour + time.Minute, []subject.Store{with(up(2), registered)}, []finding{{"store=2", false}}, ""},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := startWatch{grace: time.Minute}
			for i, st := range tt.steps {
				now := t0.Add(st.at)
				w.observe(now, st.stores)
				fs := judgeStoreHealth(st.stores, false, &w, now)
				if diff := cmp.Diff(st.want, keys(fs)); diff != "" {
					t.Fatalf("step %d (at %v): findings (-want +got):\n%s", i, st.at, diff)
				}
				if st.msg != "" {
					require.Equal(t, st.msg, fs[len(fs)-1].Message, "step %d", i)
				}
			}
		})
	}
}

// pdStores serves GET /pd/api/v1/stores with the recorded answer named in
// name, and 404 for every other path (the leader cannot be read: store
// health then goes by the stores alone).
func pdStores(t *testing.T) (*httptest.Server, *atomic.Value) {
	var name atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/pd/api/v1/stores" {
			http.NotFound(w, r)
			return
		}
		b, err := os.ReadFile(filepath.Join("testdata", name.Load().(string)+".json"))
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json; charset=UTF-8")
		_, _ = w.Write(b)
	}))
	t.Cleanup(srv.Close)
	return srv, &name
}

// TestRecordedBootstrap replays a real PD while its stores were starting
// (testdata/stores-bootstrap-*.json): every store is listed Down with no
// heartbeat until its first one. Store health must not fire for them,
// and must fire once a store has stayed so for StoreStartGrace.
func TestRecordedBootstrap(t *testing.T) {
	srv, answer := pdStores(t)
	var now atomic.Int64
	th := DefaultThresholds()
	sub, err := New(Config{DisableMetrics: true, PD: pdclient.Config{Endpoints: []string{srv.URL}, MaxAttempts: 1},
		Thresholds: &th, Clock: func() time.Time { return time.Unix(0, now.Load()) }})
	require.NoError(t, err)
	var health []invariant.Invariant
	for _, inv := range sub.Invariants() {
		if inv.Name == InvStoreHealth {
			health = append(health, inv)
		}
	}
	require.Len(t, health, 1)
	e, err := invariant.New(health, invariant.Config{})
	require.NoError(t, err)
	tick := func(file string, at time.Duration) (transitions, messages []string) {
		t.Helper()
		answer.Store(file)
		now.Store(t0.Add(at).UnixNano())
		rep, err := e.Evaluate(t.Context(), t0.Add(at))
		require.NoError(t, err)
		require.Empty(t, rep.Errors)
		for _, tr := range rep.Transitions {
			transitions = append(transitions, fmt.Sprintf("%s: %s -> %s", tr.Key, tr.From, tr.To))
		}
		for _, a := range e.Alerts() {
			messages = append(messages, a.Message)
		}
		return transitions, messages
	}
	for _, st := range []struct {
		file string
		at   time.Duration
	}{{"stores-bootstrap-first-registered", 0}, {"stores-bootstrap-all-registered", 3 * time.Second}, {"stores-bootstrap-first-heartbeats", 8 * time.Second}} {
		tr, alerts := tick(st.file, st.at)
		require.Empty(t, tr, "%s: starting stores fire nothing", st.file)
		require.Empty(t, alerts, "%s", st.file)
	}

	// The same cluster once more from the start, its stores never
	// heartbeating: Down after the grace, saying they never sent one.
	e, err = invariant.New(health, invariant.Config{})
	require.NoError(t, err)
	tr, _ := tick("stores-bootstrap-all-registered", time.Hour)
	require.Empty(t, tr)
	tr, _ = tick("stores-bootstrap-all-registered", time.Hour+th.StoreStartGrace-time.Second)
	require.Empty(t, tr)
	tr, msgs := tick("stores-bootstrap-all-registered", time.Hour+th.StoreStartGrace)
	require.Equal(t, []string{"store=1: inactive -> firing", "store=2: inactive -> firing", "store=3: inactive -> firing", "store=4: inactive -> firing", "store=5: inactive -> firing"}, tr)
	require.Equal(t, "store 1 (mock:://tikv-1:1) is Down: registered with PD but never sent a heartbeat, starting for 1m0s (more than 1m0s)", msgs[0])
}
