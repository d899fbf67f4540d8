package pdclient

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/kvops/operator/subject"
)

// refusals are the sentinels that say PD refused a request.
var refusals = []error{ErrNotFound, ErrBadRequest, ErrPrecondition,
	subject.ErrNotFound, subject.ErrInvalid, subject.ErrPrecondition, subject.ErrNotSupported, subject.ErrNotApproved}

// requireOneDecision checks that a failed write's error says one thing
// about whether it was applied: NotApplied, or ErrUnconfirmed (in both
// vocabularies) and no refusal.
func requireOneDecision(t *testing.T, err error, notApplied bool) {
	t.Helper()
	require.Error(t, err)
	require.Equal(t, notApplied, NotApplied(err), "NotApplied: %v", err)
	require.Equal(t, !notApplied, errors.Is(err, ErrUnconfirmed), "ErrUnconfirmed: %v", err)
	require.Equal(t, !notApplied, errors.Is(err, subject.ErrUnconfirmed), "subject.ErrUnconfirmed: %v", err)
	if !notApplied {
		for _, r := range refusals {
			require.NotErrorIs(t, err, r)
		}
	}
}

// TestWriteOutcomeIsOneDecision: for every way a write can fail, the
// client decides once whether it may have been applied: NotApplied and
// ErrUnconfirmed never agree, and only a write that provably never reached
// PD's handlers moves on to the next endpoint.
func TestWriteOutcomeIsOneDecision(t *testing.T) {
	split := func(c *Client) error { return c.SplitRegion(t.Context(), 9, SplitApproximate) }
	html := "<html><head><title>503 Service Temporarily Unavailable</title></head><body><h1>503</h1></body></html>\r\n"
	fixture := func(name string) func(t *testing.T) string {
		return func(t *testing.T) string { return newReplayServer(t, loadExchange(t, "pd-redirect", name)).srv.URL }
	}
	raw := func(status int, ct, body string) func(t *testing.T) string {
		return func(t *testing.T) string { return newRawServer(t, status, ct, body).URL }
	}
	tests := []struct {
		name        string
		first       func(t *testing.T) string // the endpoint that fails
		call        func(c *Client) error
		notApplied  bool
		unavailable bool
		failsOver   bool // a second endpoint gets the write
	}{
		{"nothing listens", deadEndpoint, split, true, true, true},
		{"PD's 503 no leader", raw(503, "text/plain; charset=utf-8", "no leader\n"), split, true, true, true},
		{"PD API v2's 503 ErrLeaderNil", raw(503, "application/json; charset=utf-8", `"[PD:server:ErrLeaderNil]leader is nil"`), split, true, true, true},
		{"redirect to not leader", fixture("operator-redirect-to-not-leader"), split, true, true, true},
		{"redirect failed", fixture("operator-redirect-failed"), split, false, true, false},
		{"a proxy's 503", raw(503, "text/html", html), split, false, true, false},
		{"answer lost", func(t *testing.T) string { return hangUp(t).URL }, split, false, true, false},
		{"store not found", raw(404, "application/json", `"[PD:core:ErrStoreNotFound]store 9 not found"`), split, true, false, false},
		{"precondition", raw(500, "application/json", `"region has no voter in store 4"`), split, true, false, false},
		{"a 500 PD gives no reason for", raw(500, "application/json", `"[PD:cluster:ErrNotBootstrapped]TiKV cluster not bootstrapped"`), split, false, false, false},
		{"a proxy's 403", raw(403, "text/plain", "forbidden"), split, true, false, false},
		{"a 2xx answer that cannot be read", raw(200, "text/html", html), func(c *Client) error {
			var out map[string]any
			return c.Do(t.Context(), http.MethodPost, "/operators", []byte(`{"name":"split-region","region_id":9,"policy":"approximate"}`), &out)
		}, false, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call(newTestClient(t, tt.first(t)))
			requireOneDecision(t, err, tt.notApplied)
			require.Equal(t, tt.unavailable, errors.Is(err, subject.ErrUnavailable), "ErrUnavailable: %v", err)

			b := newReplayServer(t, loadExchange(t, "pd", "operator-split-region"))
			b.set(membersFor(t, "members-3", map[string]string{"pd3": b.srv.URL}, "pd3"))
			err = tt.call(newTestClient(t, tt.first(t), b.srv.URL))
			if tt.failsOver {
				require.NoError(t, err)
				require.Equal(t, 1, b.count(http.MethodPost, "/pd/api/v1/operators"))
				return
			}
			require.Error(t, err)
			require.Zero(t, b.count(http.MethodPost, "/pd/api/v1/operators"), "sent to a second endpoint")
		})
	}
	t.Run("invalid argument", func(t *testing.T) {
		srv := newRawServer(t, 200, "application/json", `"The operator is created."`)
		err := newTestClient(t, srv.URL).SplitRegion(t.Context(), 9, "nope")
		requireOneDecision(t, err, true)
		require.Zero(t, srv.hits.Load())
	})
	require.False(t, NotApplied(nil), "a write that did not fail was applied")
	require.False(t, NotApplied(errors.New("not the client's")), "an error the client did not make is not known to be unsent")
}

// TestContextEndedBeforeWriteIsNotSent: a request whose context ended
// before the transport wrote it never reached PD, whatever error the
// transport returns for it (a bare context.Canceled from a dial cut
// short); one whose context ended after it was written may have been
// applied.
func TestContextEndedBeforeWriteIsNotSent(t *testing.T) {
	t.Run("cancelled before the call", func(t *testing.T) {
		srv := newRawServer(t, 200, "application/json", `"The operator is created."`)
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		err := newTestClient(t, srv.URL).SplitRegion(ctx, 9, SplitApproximate)
		requireNotSent(t, err)
		require.ErrorIs(t, err, context.Canceled)
		require.Zero(t, srv.hits.Load())
	})
	t.Run("cancelled while connecting", func(t *testing.T) {
		srv := newRawServer(t, 200, "application/json", `"The operator is created."`)
		ctx, cancel := context.WithCancel(t.Context())
		tr := defaultTransport()
		t.Cleanup(tr.CloseIdleConnections)
		// The caller gives up while the connection is being made: the
		// transport returns the context's error, not a dial error.
		tr.DialContext = func(context.Context, string, string) (net.Conn, error) {
			// The transport dials on a context of its own, which the
			// caller's cancel does not end.
			cancel()
			return nil, context.Canceled
		}
		c, err := New(Config{Endpoints: []string{srv.URL}, HTTPClient: &http.Client{Transport: tr}})
		require.NoError(t, err)
		err = c.SplitRegion(ctx, 9, SplitApproximate)
		requireNotSent(t, err)
		require.Zero(t, srv.hits.Load())
	})
	t.Run("cancelled after PD received it", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		got := make(chan struct{})
		srv := newHTTPServer(t, func(w http.ResponseWriter, r *http.Request) {
			// Read the body whole, so that the server notices the client
			// going away.
			_, _ = io.Copy(io.Discard, r.Body)
			close(got)
			<-r.Context().Done()
		})
		go func() { <-got; cancel() }()
		err := newTestClient(t, srv.URL).SplitRegion(ctx, 9, SplitApproximate)
		requireOneDecision(t, err, false)
		var te *TransportError
		require.ErrorAs(t, err, &te)
		require.True(t, te.Sent)
	})
	t.Run("a transport that reports nothing", func(t *testing.T) {
		// A RoundTripper of the caller's own says nothing through
		// httptrace: only a dial error is known not to have been sent.
		rt := roundTripFunc(func(*http.Request) (*http.Response, error) { return nil, context.Canceled })
		c, err := New(Config{Endpoints: []string{"http://pd.invalid:2379"}, HTTPClient: &http.Client{Transport: rt}})
		require.NoError(t, err)
		err = c.SplitRegion(t.Context(), 9, SplitApproximate)
		requireOneDecision(t, err, false)
	})
}

func requireNotSent(t *testing.T, err error) {
	t.Helper()
	requireOneDecision(t, err, true)
	var te *TransportError
	require.ErrorAs(t, err, &te)
	require.False(t, te.Sent)
	require.ErrorIs(t, err, subject.ErrUnavailable)
}

// TestRedirectFailedIsUnavailable: PD's "redirect failed", which a
// follower answered for 11 to 15 s of a recorded leader election, is
// unavailability: a read goes to the next member, and retries when every
// member answers it.
func TestRedirectFailedIsUnavailable(t *testing.T) {
	follower := newReplayServer(t, loadExchange(t, "pd-redirect", "stores-redirect-failed"))
	leader := newReplayServer(t, loadExchange(t, "pd", "stores"))
	leader.set(membersFor(t, "members-3", map[string]string{"pd3": leader.srv.URL}, "pd3"))
	stores, err := newTestClient(t, follower.srv.URL, leader.srv.URL).Stores(t.Context())
	require.NoError(t, err)
	require.NotEmpty(t, stores)
	require.Equal(t, 1, follower.count("", ""))

	rec := &recordingSleep{}
	c := newTestClient(t, follower.srv.URL)
	c.sleep = rec.sleep
	_, err = c.Stores(t.Context())
	require.ErrorIs(t, err, ErrUnavailable)
	require.ErrorIs(t, err, subject.ErrUnavailable)
	require.NotErrorIs(t, err, ErrServer)
	var ae *APIError
	require.ErrorAs(t, err, &ae)
	require.Equal(t, "PD:apiutil:ErrRedirect", ae.Code)
	require.Equal(t, 1+DefaultMaxAttempts, follower.count("", ""), "one failover probe, then every round")
	require.Len(t, rec.pauses, DefaultMaxAttempts-1)
}

// TestErrorsKeepBodiesOutOfTheirMessage: an answer's whole body stays in
// APIError.Body, and Error shows at most 256 bytes of it; a connection
// error names the URL once.
func TestErrorsKeepBodiesOutOfTheirMessage(t *testing.T) {
	page := "<html><body>" + strings.Repeat("<p>maintenance</p>", 3000) + "</body></html>"
	srv := newRawServer(t, 502, "text/html", page)
	c := newTestClient(t, srv.URL)
	c.maxAttempts = 1
	_, err := c.Stores(t.Context())
	var ae *APIError
	require.ErrorAs(t, err, &ae)
	require.Equal(t, page, string(ae.Body))
	require.Equal(t, page, ae.Message)
	require.LessOrEqual(t, len(err.Error()), 256+len(srv.URL)+100, "Error: %d bytes", len(err.Error()))

	dead := deadEndpoint(t)
	c = newTestClient(t, dead)
	c.maxAttempts = 1
	_, err = c.Stores(t.Context())
	var te *TransportError
	require.ErrorAs(t, err, &te)
	require.Equal(t, 1, strings.Count(err.Error(), dead), "the URL once: %v", err)
}

// TestEmptyEndpointIsAConfigError: a trailing comma in a list of
// endpoints is a configuration error naming the field, not a request that
// fails later.
func TestEmptyEndpointIsAConfigError(t *testing.T) {
	for _, tt := range []struct {
		endpoints []string
		field     string
	}{
		{[]string{"pd-0:2379", "pd-1:2379", ""}, "Config.Endpoints[2]"},
		{[]string{" "}, "Config.Endpoints[0]"},
		{[]string{"pd-0:2379", "ftp://pd-1:2379"}, "Config.Endpoints[1]"},
	} {
		_, err := New(Config{Endpoints: tt.endpoints})
		require.ErrorIs(t, err, subject.ErrInvalid)
		require.ErrorIs(t, err, ErrBadRequest)
		require.ErrorContains(t, err, tt.field)
	}
}
