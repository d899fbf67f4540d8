package tikv_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kvops/operator/pdclient"
	"github.com/kvops/operator/subject"
	"github.com/kvops/operator/tikv"
)

// TestWriteNeverWrittenIsRefused: the caller gives up while the
// transfer's request is being connected, after every read the action made:
// the request was never written, so the action is refused (nothing
// changed) rather than unconfirmed, and a guard would not hold every later
// disruptive action for it.
func TestWriteNeverWrittenIsRefused(t *testing.T) {
	c := newCluster(t, nil)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	// The last read before the transfer is its region's operator status;
	// once it was served, the next connection is the transfer's own.
	var armed atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.sim.PDHandler().ServeHTTP(w, r)
		if r.Method == http.MethodGet && r.URL.Path == "/pd/api/v1/operators/9" {
			armed.Store(true)
		}
	}))
	t.Cleanup(srv.Close)
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.DisableKeepAlives = true // a connection per request
	var dialer net.Dialer
	tr.DialContext = func(dctx context.Context, network, addr string) (net.Conn, error) {
		if armed.Load() {
			// The transport dials on a context of its own, which the
			// caller's cancel does not end.
			cancel()
			return nil, context.Canceled
		}
		return dialer.DialContext(dctx, network, addr)
	}
	sub, err := tikv.New(tikv.Config{
		// The test's server stands in front of the simulated PD, whose
		// members advertise their own URL: the client must not learn it
		// and go round the front (as for a PD behind a proxy).
		PD: pdclient.Config{Endpoints: []string{srv.URL}, HTTPClient: &http.Client{Transport: tr},
			MembersRefreshInterval: -1},
		DisableMetrics: true, Clock: c.sim.Now,
	})
	require.NoError(t, err)
	leader, err := c.sim.RegionLeader(region9)
	require.NoError(t, err)

	_, err = sub.TransferLeader(ctx, region9, 5)
	requireOutcome(t, err, subject.PhaseRefused)
	require.ErrorIs(t, err, context.Canceled)
	require.True(t, armed.Load(), "the action did not get as far as its request")
	_, err = c.sub.PD().OperatorStatus(t.Context(), uint64(region9))
	require.ErrorIs(t, err, pdclient.ErrNotFound, "PD has an operator for the region")
	now, err := c.sim.RegionLeader(region9)
	require.NoError(t, err)
	require.Equal(t, leader, now)
}

// TestNothingSentIsNeverUnconfirmed: an action whose wait ends before it
// sent anything changed nothing, and says so: a refusal matching
// subject.ErrPrecondition for a bound, the context's error for a context,
// never subject.ErrUnconfirmed.
func TestNothingSentIsNeverUnconfirmed(t *testing.T) {
	opts := tikv.RestartOptions{UpTimeout: 30 * time.Second, LeaderTimeout: 30 * time.Second}
	tests := []struct {
		name  string
		setup func(t *testing.T, c *cluster)
		act   func(t *testing.T, c *cluster) (subject.Result, error)
		bound time.Duration // the wait that ends it, zero when ctx does
	}{
		{"evict_leaders of a store evicted already", func(t *testing.T, c *cluster) {
			require.NoError(t, c.sim.SetStuckLeaders(2, 3))
			_, err := c.sub.EvictLeaders(t.Context(), 2)
			requireOutcome(t, err, subject.PhaseUnconfirmed) // this one sent the eviction
		}, func(t *testing.T, c *cluster) (subject.Result, error) { return c.sub.EvictLeaders(t.Context(), 2) }, 30 * time.Second},
		{"prepare_restart of a store evicted already", func(t *testing.T, c *cluster) {
			require.NoError(t, c.sim.SetStuckLeaders(2, 3))
			_, err := c.sub.EvictLeaders(t.Context(), 2)
			requireOutcome(t, err, subject.PhaseUnconfirmed)
		}, func(t *testing.T, c *cluster) (subject.Result, error) {
			return c.sub.PrepareRestart(t.Context(), 2, tikv.RestartOptions{EvictTimeout: 30 * time.Second})
		}, 30 * time.Second},
		{"finish_restart of a store that does not come back", func(t *testing.T, c *cluster) {
			_, err := c.sub.PrepareRestart(t.Context(), 2, tikv.RestartOptions{})
			require.NoError(t, err)
			require.NoError(t, c.sim.StopStore(2))
			c.sim.Advance(25 * time.Second) // no heartbeat: Disconnected
		}, func(t *testing.T, c *cluster) (subject.Result, error) {
			return c.sub.FinishRestart(t.Context(), 2, opts)
		}, 30 * time.Second},
		{"finish_restart cancelled while the store is down", func(t *testing.T, c *cluster) {
			_, err := c.sub.PrepareRestart(t.Context(), 2, tikv.RestartOptions{})
			require.NoError(t, err)
			require.NoError(t, c.sim.StopStore(2))
			c.sim.Advance(25 * time.Second)
		}, func(t *testing.T, c *cluster) (subject.Result, error) {
			// The caller gives up during the first pause of the wait
			// for the store to be Up.
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			return c.withSleep(t, func(context.Context, time.Duration) error {
				cancel()
				return context.Canceled
			}).FinishRestart(ctx, 2, opts)
		}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newCluster(t, func(cfg *tikv.Config) { cfg.Actions.Timeouts.EvictLeaders = 30 * time.Second })
			tt.setup(t, c)
			evicted, err := c.sub.EvictedStores(t.Context())
			require.NoError(t, err)
			res, err := tt.act(t, c)
			requireOutcome(t, err, subject.PhaseRefused)
			if tt.bound > 0 {
				require.ErrorIs(t, err, subject.ErrPrecondition)
				require.Equal(t, tt.bound, res.Finished.Sub(res.Started))
			} else {
				require.ErrorIs(t, err, context.Canceled)
			}
			after, err := c.sub.EvictedStores(t.Context())
			require.NoError(t, err)
			require.Equal(t, evicted, after, "the evictions changed")
		})
	}
}

// TestScheduleLimitTakesPDsDefaults: the bound on schedule limits is
// PD's own, so every kind can be set back to PD's default (region 2048),
// and up to the most PD stores exactly.
func TestScheduleLimitTakesPDsDefaults(t *testing.T) {
	c := newCluster(t, nil)
	ctx := t.Context()
	for _, tt := range []struct {
		kind subject.LimitKind
		n    uint64
		get  func(*pdclient.ScheduleConfig) uint64
	}{
		{subject.RegionLimit, 2048, func(c *pdclient.ScheduleConfig) uint64 { return c.RegionScheduleLimit }},
		{subject.RegionLimit, tikv.MaxScheduleLimit, func(c *pdclient.ScheduleConfig) uint64 { return c.RegionScheduleLimit }},
		{subject.LeaderLimit, 4, func(c *pdclient.ScheduleConfig) uint64 { return c.LeaderScheduleLimit }},
		{subject.ReplicaLimit, 64, func(c *pdclient.ScheduleConfig) uint64 { return c.ReplicaScheduleLimit }},
	} {
		_, err := c.sub.SetScheduleLimit(ctx, tt.kind, tt.n)
		require.NoError(t, err, "%s %d", tt.kind, tt.n)
		cfg, err := c.sub.PD().ScheduleConfig(ctx)
		require.NoError(t, err)
		require.Equal(t, tt.n, tt.get(cfg))
	}
	_, err := c.sub.SetScheduleLimit(ctx, subject.RegionLimit, tikv.MaxScheduleLimit+1)
	requireOutcome(t, err, subject.PhaseRefused)
	require.ErrorIs(t, err, subject.ErrInvalid)
}

// withSleep returns a Subject over the same cluster whose actions pause
// with sleep.
func (c *cluster) withSleep(t *testing.T, sleep func(ctx context.Context, d time.Duration) error) *tikv.Subject {
	t.Helper()
	sub, err := tikv.New(tikv.Config{
		PD:             pdclient.Config{Endpoints: []string{c.sim.PDURL()}},
		DisableMetrics: true, Clock: c.sim.Now, Sleep: sleep,
	})
	require.NoError(t, err)
	return sub
}

// TestErrorAfterASendIsNeverARefusal: an action that fails after one of
// its requests went through changed the cluster, so its error is
// unconfirmed, not a refusal: here ReconcileEvictions removes store 1's
// eviction, then cannot forget store 2 in its ledger.
func TestErrorAfterASendIsNeverARefusal(t *testing.T) {
	ledger := &memLedger{ids: []subject.StoreID{1, 2}, failOn: 2}
	c := newCluster(t, func(cfg *tikv.Config) { cfg.Actions.Ledger = ledger })
	ctx := t.Context()
	require.NoError(t, c.sub.PD().EvictLeader(ctx, 1))

	_, err := c.sub.ReconcileEvictions(ctx)
	requireOutcome(t, err, subject.PhaseUnconfirmed)
	require.ErrorIs(t, err, errLedgerFull)
	ev, err := c.sub.EvictedStores(ctx)
	require.NoError(t, err)
	require.Empty(t, ev, "store 1's eviction was removed")
}

var errLedgerFull = errors.New("ledger: no space left on device")

// memLedger is an EvictionLedger in memory whose Remove of one store
// fails, as a ledger on a full disk does.
type memLedger struct {
	mu     sync.Mutex
	ids    []subject.StoreID
	failOn subject.StoreID
}

func (l *memLedger) Add(_ context.Context, id subject.StoreID) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !slices.Contains(l.ids, id) {
		l.ids = append(l.ids, id)
		slices.Sort(l.ids)
	}
	return nil
}

func (l *memLedger) Remove(_ context.Context, id subject.StoreID) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if id == l.failOn {
		return errLedgerFull
	}
	l.ids = slices.DeleteFunc(l.ids, func(x subject.StoreID) bool { return x == id })
	return nil
}

func (l *memLedger) Stores(context.Context) ([]subject.StoreID, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.ids), nil
}
