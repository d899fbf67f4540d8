package pdclient

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/kvops/operator/subject"
)

type rawServer struct {
	*httptest.Server
	hits atomic.Int64
}

func newHTTPServer(t testing.TB, h http.HandlerFunc) *httptest.Server {
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

// deadEndpoint returns a URL on which nothing listens: connections are
// refused.
func deadEndpoint(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	return "http://" + addr
}

// membersFor rewrites a recorded /members answer of pd-cluster so that its
// members' client URLs are the test servers' (recorded member name ->
// URL) and leader is the named member. The shape stays the recorded one.
func membersFor(t *testing.T, name string, urls map[string]string, leader string) exchange {
	ex := loadExchange(t, "pd-cluster", name)
	var body map[string]any
	dec := json.NewDecoder(strings.NewReader(string(ex.Response.Body)))
	dec.UseNumber()
	require.NoError(t, dec.Decode(&body))
	rewrite := func(m map[string]any) {
		if u, ok := urls[m["name"].(string)]; ok {
			m["client_urls"] = []any{u}
		}
	}
	var leaderEntry map[string]any
	var kept []any
	for _, m := range body["members"].([]any) {
		mm := m.(map[string]any)
		if _, ok := urls[mm["name"].(string)]; !ok {
			continue // no test server stands for it: leave it out
		}
		rewrite(mm)
		kept = append(kept, mm)
		if mm["name"] == leader {
			leaderEntry = mm
		}
	}
	body["members"] = kept
	require.NotNil(t, leaderEntry, "leader %s among the recorded members", leader)
	body["leader"], body["etcd_leader"] = leaderEntry, leaderEntry
	b, err := json.Marshal(body)
	require.NoError(t, err)
	ex.Response.Body = b
	// The recorded request is the same for every member.
	ex.Request.Port = 0
	return ex
}

func TestFailoverFirstEndpointDown(t *testing.T) {
	b := newReplayServer(t, loadExchange(t, "pd-cluster", "stores-from-follower"))
	dead := deadEndpoint(t)
	b.set(membersFor(t, "members-leader-killed", map[string]string{"pd1": b.srv.URL, "pd3": dead}, "pd1"))

	c := newTestClient(t, dead, b.srv.URL)
	ss, err := c.Stores(t.Context())
	require.NoError(t, err)
	require.Len(t, ss, 5)
	require.Equal(t, 1, b.count(http.MethodGet, "/pd/api/v1/stores"))
	require.Equal(t, 1, b.count(http.MethodGet, "/pd/api/v1/members"), "the member list is refreshed after a failure")
	if d := cmp.Diff([]string{b.srv.URL, dead}, c.Endpoints()); d != "" {
		t.Errorf("endpoints after failover, leader first (-want +got):\n%s", d)
	}

	// The next request goes straight to the leader.
	_, err = c.Stores(t.Context())
	require.NoError(t, err)
	require.Equal(t, 2, b.count(http.MethodGet, "/pd/api/v1/stores"))
	require.Equal(t, 1, b.count(http.MethodGet, "/pd/api/v1/members"))
}

func TestFailoverFollowsLeader(t *testing.T) {
	a := newReplayServer(t, loadExchange(t, "pd-cluster", "stores-from-leader"))
	b := newReplayServer(t, loadExchange(t, "pd-cluster", "stores-from-follower"))
	cc := newReplayServer(t, loadExchange(t, "pd-cluster", "stores-after-election"))
	urls := map[string]string{"pd3": a.srv.URL, "pd2": b.srv.URL, "pd1": cc.srv.URL}

	c := newTestClient(t, a.srv.URL, b.srv.URL, cc.srv.URL)
	_, err := c.Stores(t.Context())
	require.NoError(t, err)
	require.Equal(t, 1, a.count("", ""))

	// pd3, the leader, dies; pd2 answers and says pd1 now leads.
	a.stop()
	b.set(membersFor(t, "members-leader-killed", urls, "pd1"))
	ss, err := c.Stores(t.Context())
	require.NoError(t, err)
	require.Equal(t, "Up", ss[0].Meta.StateName)
	require.Equal(t, 1, b.count(http.MethodGet, "/pd/api/v1/stores"))
	require.Equal(t, cc.srv.URL, c.Endpoints()[0], "the new leader is tried first")

	for range 3 {
		_, err = c.Stores(t.Context())
		require.NoError(t, err)
	}
	require.Equal(t, 3, cc.count(http.MethodGet, "/pd/api/v1/stores"), "requests follow the new leader")
	require.Equal(t, 1, b.count(http.MethodGet, "/pd/api/v1/stores"))
}

func TestMembersReordersEndpoints(t *testing.T) {
	a := newReplayServer(t)
	b := newReplayServer(t)
	urls := map[string]string{"pd1": a.srv.URL, "pd2": b.srv.URL, "pd3": "http://127.0.0.1:1"}
	a.set(membersFor(t, "members-3", urls, "pd3"))
	c := newTestClient(t, a.srv.URL)
	m, err := c.Members(t.Context())
	require.NoError(t, err)
	require.Equal(t, "pd3", m.Leader.Name)
	require.Equal(t, []string{"http://127.0.0.1:1", a.srv.URL, b.srv.URL}, c.Endpoints())
}

// pdNoLeader answers as PD's API v1 redirector does on a member that knows
// no leader (tikv/pd pkg/utils/apiutil/serverapi/middleware.go).
func pdNoLeader(t *testing.T) *rawServer {
	rs := &rawServer{}
	rs.Server = newHTTPServer(t, func(w http.ResponseWriter, r *http.Request) {
		rs.hits.Add(1)
		http.Error(w, "no leader", http.StatusServiceUnavailable)
	})
	return rs
}

func TestFailoverOn503(t *testing.T) {
	unavailable := pdNoLeader(t)
	b := newReplayServer(t, loadExchange(t, "pd", "version"), loadExchange(t, "pd", "operator-transfer-leader"))
	b.set(membersFor(t, "members-3", map[string]string{"pd3": b.srv.URL}, "pd3"))
	c := newTestClient(t, unavailable.URL, b.srv.URL)
	v, err := c.Version(t.Context())
	require.NoError(t, err)
	require.Equal(t, "v8.5.0", v.Version)

	// PD's own 503 comes before any handler: a write moves on too.
	c = newTestClient(t, unavailable.URL, b.srv.URL)
	require.NoError(t, c.TransferLeader(t.Context(), 9, 5))
	require.Equal(t, int64(2), unavailable.hits.Load())
	require.Equal(t, []string{b.srv.URL, unavailable.URL}, c.Endpoints())
}

// hangUp accepts a request and closes the connection without answering:
// the request may have been applied.
func hangUp(t *testing.T) *rawServer {
	rs := &rawServer{}
	rs.Server = newHTTPServer(t, func(w http.ResponseWriter, r *http.Request) {
		rs.hits.Add(1)
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			_ = conn.Close()
		}
	})
	return rs
}

func TestWritesAreNotRetriedBlindly(t *testing.T) {
	lost := hangUp(t)
	b := newReplayServer(t, loadExchange(t, "pd", "operator-transfer-leader"))
	b.set(membersFor(t, "members-3", map[string]string{"pd3": b.srv.URL}, "pd3"))
	c := newTestClient(t, lost.URL, b.srv.URL)
	err := c.TransferLeader(t.Context(), 9, 5)
	require.Error(t, err)
	var te *TransportError
	require.ErrorAs(t, err, &te)
	require.True(t, te.Sent)
	require.Equal(t, lost.URL, te.Endpoint)
	require.Contains(t, err.Error(), lost.URL, "the error names the endpoint")
	require.ErrorIs(t, err, ErrUnavailable)
	require.Equal(t, int64(1), lost.hits.Load())
	require.Equal(t, 0, b.count(http.MethodPost, "/pd/api/v1/operators"), "a write whose answer was lost is not sent again")

	// A refused connection never reached PD: the write goes to the next.
	c = newTestClient(t, deadEndpoint(t), b.srv.URL)
	require.NoError(t, c.TransferLeader(t.Context(), 9, 5))
	require.Equal(t, 1, b.count(http.MethodPost, "/pd/api/v1/operators"))
}

func TestReadsFailOverAfterLostAnswer(t *testing.T) {
	lost := hangUp(t)
	b := newReplayServer(t, loadExchange(t, "pd", "version"))
	b.set(membersFor(t, "members-3", map[string]string{"pd3": b.srv.URL}, "pd3"))
	c := newTestClient(t, lost.URL, b.srv.URL)
	_, err := c.Version(t.Context())
	require.NoError(t, err)
	require.Equal(t, 1, b.count(http.MethodGet, "/pd/api/v1/version"))
}

func TestErrorsAreNotFailedOver(t *testing.T) {
	a := newReplayServer(t, loadExchange(t, "pd", "store-not-found"))
	b := newReplayServer(t, loadExchange(t, "pd", "store-not-found"))
	c := newTestClient(t, a.srv.URL, b.srv.URL)
	_, err := c.Store(t.Context(), 999)
	require.ErrorIs(t, err, ErrNotFound)
	require.Equal(t, 0, b.count("", ""), "an answer from PD is final")
}

// recordingSleep records the pauses asked for, without sleeping.
type recordingSleep struct {
	mu     sync.Mutex
	pauses []time.Duration
	now    time.Time
}

func (r *recordingSleep) sleep(ctx context.Context, d time.Duration) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.pauses = append(r.pauses, d)
	r.now = r.now.Add(d)
	return ctx.Err()
}

func (r *recordingSleep) clock() time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.now
}

func TestRetryBackoff(t *testing.T) {
	tests := []struct {
		name     string
		attempts int
		base     time.Duration
		max      time.Duration
		deadline time.Duration // 0: none
		want     []time.Duration
	}{
		{"doubles", 4, 100 * time.Millisecond, 2 * time.Second, 0,
			[]time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond}},
		{"capped", 5, 100 * time.Millisecond, 250 * time.Millisecond, 0,
			[]time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 250 * time.Millisecond, 250 * time.Millisecond}},
		{"within the deadline", 10, time.Second, 8 * time.Second, 4 * time.Second,
			[]time.Duration{time.Second, 2 * time.Second}},
		{"one attempt", 1, time.Second, time.Second, 0, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dead1, dead2 := deadEndpoint(t), deadEndpoint(t)
			cfg := DefaultConfig()
			cfg.Endpoints = []string{dead1, dead2}
			cfg.MaxAttempts, cfg.BackoffBase, cfg.BackoffMax = tt.attempts, tt.base, tt.max
			c, err := New(cfg)
			require.NoError(t, err)
			// The fake clock starts at the real time so that the context's
			// deadline, which the runtime enforces, lies ahead of it.
			rec := &recordingSleep{now: time.Now()}
			c.sleep, c.now = rec.sleep, rec.clock
			c.jitter = noJitter
			ctx := t.Context()
			if tt.deadline > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithDeadline(ctx, rec.now.Add(tt.deadline))
				defer cancel()
			}
			_, err = c.Health(ctx)
			require.ErrorIs(t, err, ErrUnavailable)
			var te *TransportError
			require.ErrorAs(t, err, &te)
			require.Equal(t, dead2, te.Endpoint, "the last endpoint tried is named")
			if d := cmp.Diff(tt.want, rec.pauses); d != "" {
				t.Errorf("pauses (-want +got):\n%s", d)
			}
		})
	}
}

// noJitter makes every pause the longest its round allows.
func noJitter() float64 { return 0 }

// TestRetryBackoffJitter: each pause is drawn from the upper half of its
// round's doubling, so that clients that failed together do not retry PD
// in lockstep.
func TestRetryBackoffJitter(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Endpoints = []string{deadEndpoint(t)}
	cfg.MaxAttempts, cfg.BackoffBase, cfg.BackoffMax = 5, 100*time.Millisecond, 250*time.Millisecond
	c, err := New(cfg)
	require.NoError(t, err)
	rec := &recordingSleep{now: time.Now()}
	c.sleep, c.now = rec.sleep, rec.clock
	draws := []float64{0.5, 0, 0.999, 0.25}
	c.jitter = func() float64 { f := draws[0]; draws = draws[1:]; return f }
	_, err = c.Health(t.Context())
	require.ErrorIs(t, err, ErrUnavailable)
	want := []time.Duration{75 * time.Millisecond, 200 * time.Millisecond, 125*time.Millisecond + 125*time.Microsecond, 218750 * time.Microsecond}
	if d := cmp.Diff(want, rec.pauses); d != "" {
		t.Errorf("pauses (-want +got):\n%s", d)
	}

	// The default source stays within the bounds.
	c, err = New(cfg)
	require.NoError(t, err)
	for n := 1; n <= 4; n++ {
		full := min(cfg.BackoffBase<<(n-1), cfg.BackoffMax)
		for range 200 {
			if d := c.backoff(n); d < full/2 || d > full {
				t.Fatalf("round %d: pause %v outside [%v, %v]", n, d, full/2, full)
			}
		}
	}
}

func TestRetryThenSuccess(t *testing.T) {
	var calls atomic.Int64
	ex := loadExchange(t, "pd", "version")
	srv := newHTTPServer(t, func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) < 3 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		ex.respond(t, w)
	})
	c := newTestClient(t, srv.URL)
	rec := &recordingSleep{}
	c.sleep = rec.sleep
	v, err := c.Version(t.Context())
	require.NoError(t, err)
	require.Equal(t, "v8.5.0", v.Version)
	require.Equal(t, []time.Duration{DefaultBackoffBase, 2 * DefaultBackoffBase}, rec.pauses)

	// A write meeting 503 everywhere is not retried after a pause.
	calls.Store(-10)
	rec.pauses = nil
	err = c.DeleteStore(t.Context(), 4)
	require.ErrorIs(t, err, ErrUnavailable)
	require.Empty(t, rec.pauses)
}

func TestContextCancelStopsRetries(t *testing.T) {
	c := newTestClient(t, deadEndpoint(t))
	ctx, cancel := context.WithCancel(t.Context())
	c.sleep = func(ctx context.Context, d time.Duration) error {
		cancel()
		return ctx.Err()
	}
	_, err := c.Health(ctx)
	require.ErrorIs(t, err, ErrUnavailable)
}

func TestCallerIDHeader(t *testing.T) {
	var got atomic.Value
	srv := newHTTPServer(t, func(w http.ResponseWriter, r *http.Request) {
		got.Store(r.Header.Get("X-Caller-ID"))
	})
	cfg := DefaultConfig()
	cfg.Endpoints, cfg.CallerID = []string{srv.URL}, "robot-sre"
	c, err := New(cfg)
	require.NoError(t, err)
	require.NoError(t, c.Ping(t.Context()))
	require.Equal(t, "robot-sre", got.Load())
}

func TestDiscoveryPutsLeaderFirst(t *testing.T) {
	a := newReplayServer(t)
	b := newReplayServer(t)
	leader := newReplayServer(t, loadExchange(t, "pd-cluster", "stores-from-leader"))
	a.set(membersFor(t, "members-3", map[string]string{"pd1": a.srv.URL, "pd2": b.srv.URL, "pd3": leader.srv.URL}, "pd3"))
	cfg := DefaultConfig()
	cfg.Endpoints = []string{a.srv.URL, b.srv.URL, leader.srv.URL}
	c, err := New(cfg)
	require.NoError(t, err)
	for range 2 {
		_, err := c.Stores(t.Context())
		require.NoError(t, err)
	}
	require.Equal(t, 1, a.count("", ""), "one /members before the first request")
	require.Equal(t, 0, b.count("", ""))
	require.Equal(t, 2, leader.count(http.MethodGet, "/pd/api/v1/stores"))
	require.Equal(t, []string{leader.srv.URL, a.srv.URL, b.srv.URL}, c.Endpoints())
}

func TestFailedEndpointTriedLast(t *testing.T) {
	b := newReplayServer(t, loadExchange(t, "pd-cluster", "stores-from-follower"))
	dead := deadEndpoint(t)
	// PD names as leader a member this client cannot reach.
	b.set(membersFor(t, "members-3", map[string]string{"pd1": b.srv.URL, "pd3": dead}, "pd3"))
	c := newTestClient(t, b.srv.URL)
	rec := &recordingSleep{now: time.Now()}
	c.now = rec.clock
	_, err := c.Members(t.Context())
	require.NoError(t, err)
	require.Equal(t, []string{dead, b.srv.URL}, c.Endpoints())

	_, err = c.Stores(t.Context())
	require.NoError(t, err)
	require.Equal(t, []string{b.srv.URL, dead}, c.Endpoints(), "the unreachable leader is tried last")
	_, err = c.Stores(t.Context())
	require.NoError(t, err)
	require.Equal(t, 2, b.count(http.MethodGet, "/pd/api/v1/members"), "no failover on the second request")

	rec.now = rec.now.Add(downFor + time.Second)
	require.Equal(t, []string{dead, b.srv.URL}, c.Endpoints(), "tried first again after a while")
}

// TestWriteNot503Resent: a write answered 503 moves to the next member
// only when the 503 is PD's own "no leader", given before any handler
// runs; any other 503 (a proxy's, a load balancer's) may come after the
// write reached PD, so it is not resent, and its error says the write may
// have been applied. Reads fail over on any 503.
func TestWriteNot503Resent(t *testing.T) {
	html := "<html><head><title>503 Service Temporarily Unavailable</title></head><body><center><h1>503 Service Temporarily Unavailable</h1></center><hr><center>nginx</center></body></html>\r\n"
	tests := []struct {
		name        string
		contentType string
		body        string
		pdOwn       bool
	}{
		{"PD API v1 no leader", "text/plain; charset=utf-8", "no leader\n", true},
		{"PD API v1 no service", "text/plain; charset=utf-8", "no service\n", true},
		{"PD API v2 ErrLeaderNil", "application/json; charset=utf-8", `"[PD:server:ErrLeaderNil]leader is nil"`, true},
		{"nginx", "text/html", html, false},
		{"envoy", "text/plain", "no healthy upstream", false},
		{"empty", "", "", false},
		{"no leader as HTML", "text/html", "no leader\n", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			first := newRawServer(t, http.StatusServiceUnavailable, tt.contentType, tt.body)
			b := newReplayServer(t, loadExchange(t, "pd", "operator-split-region"), loadExchange(t, "pd", "version"))
			b.set(membersFor(t, "members-3", map[string]string{"pd3": b.srv.URL}, "pd3"))
			c := newTestClient(t, first.URL, b.srv.URL)
			err := c.SplitRegion(t.Context(), 9, SplitApproximate)
			if tt.pdOwn {
				require.NoError(t, err)
				require.Equal(t, 1, b.count(http.MethodPost, "/pd/api/v1/operators"), "PD refused it: sent to the next member")
			} else {
				require.Error(t, err)
				require.Zero(t, b.count(http.MethodPost, "/pd/api/v1/operators"), "not resent: it may have been applied")
				require.ErrorIs(t, err, ErrUnconfirmed)
				require.ErrorIs(t, err, subject.ErrUnconfirmed)
				for _, refusal := range []error{subject.ErrNotFound, subject.ErrInvalid, subject.ErrPrecondition, subject.ErrNotSupported, subject.ErrNotApproved,
					ErrNotFound, ErrBadRequest, ErrPrecondition} {
					require.NotErrorIs(t, err, refusal)
				}
				var ae *APIError
				require.ErrorAs(t, err, &ae)
				require.Equal(t, first.URL, ae.Endpoint)
				require.Equal(t, http.StatusServiceUnavailable, ae.Status)
			}
			require.Equal(t, int64(1), first.hits.Load())

			// A read fails over whatever the 503.
			v, err := c.Version(t.Context())
			require.NoError(t, err)
			require.Equal(t, "v8.5.0", v.Version)
		})
	}
}

// TestWriteLostAnswerIsUnconfirmed: a write whose connection broke after it
// was sent is not resent, and its error says it may have been applied.
func TestWriteLostAnswerIsUnconfirmed(t *testing.T) {
	lost := hangUp(t)
	b := newReplayServer(t, loadExchange(t, "pd", "operator-split-region"))
	c := newTestClient(t, lost.URL, b.srv.URL)
	err := c.SplitRegion(t.Context(), 9, SplitApproximate)
	require.ErrorIs(t, err, subject.ErrUnconfirmed)
	require.ErrorIs(t, err, ErrUnavailable)
	require.NotErrorIs(t, err, subject.ErrNotFound)
	var te *TransportError
	require.ErrorAs(t, err, &te)
	require.True(t, te.Sent)
	require.Zero(t, b.count("", ""))

	// Refused connections everywhere: never sent, so not unconfirmed.
	c = newTestClient(t, deadEndpoint(t), deadEndpoint(t))
	err = c.SplitRegion(t.Context(), 9, SplitApproximate)
	require.ErrorIs(t, err, ErrUnavailable)
	require.NotErrorIs(t, err, ErrUnconfirmed)
}

// TestMembersDropRemovedMembers: a member that left the cluster is no
// longer dialled once /members stops listing it; the configured endpoint
// stays.
func TestMembersDropRemovedMembers(t *testing.T) {
	a := newReplayServer(t)
	b := newReplayServer(t)
	gone := deadEndpoint(t)
	a.set(membersFor(t, "members-3", map[string]string{"pd1": a.srv.URL, "pd2": b.srv.URL, "pd3": gone}, "pd3"))
	c := newTestClient(t, a.srv.URL)
	_, err := c.Members(t.Context())
	require.NoError(t, err)
	require.Equal(t, []string{gone, a.srv.URL, b.srv.URL}, c.Endpoints())

	// pd3 is removed; pd2 leads.
	a.set(membersFor(t, "members-3", map[string]string{"pd1": a.srv.URL, "pd2": b.srv.URL}, "pd2"))
	b.set(membersFor(t, "members-3", map[string]string{"pd1": a.srv.URL, "pd2": b.srv.URL}, "pd2"))
	_, err = c.Members(t.Context())
	require.NoError(t, err)
	require.Equal(t, []string{b.srv.URL, a.srv.URL}, c.Endpoints())

	// Even the configured endpoint's own member leaving keeps it: it may
	// be a load balancer.
	b.set(membersFor(t, "members-3", map[string]string{"pd2": b.srv.URL}, "pd2"))
	_, err = c.Members(t.Context())
	require.NoError(t, err)
	require.Equal(t, []string{b.srv.URL, a.srv.URL}, c.Endpoints())
}
