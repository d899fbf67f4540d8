package tikv_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kvops/operator/invariant"
	"github.com/kvops/operator/pdclient"
	"github.com/kvops/operator/promclient"
	"github.com/kvops/operator/subject"
	"github.com/kvops/operator/tikv"
	"github.com/kvops/operator/tikv/tikvtest"
)

// heldPD serves a simulated cluster's PD, holding each GET /stores while
// hold is set (until the request's context ends or release is closed), and
// keeps the state of every connection the server sees.
type heldPD struct {
	srv     *httptest.Server
	hold    atomic.Bool
	held    chan struct{} // a held request arrived
	release chan struct{}

	mu    sync.Mutex
	conns map[net.Conn]http.ConnState
	moved chan struct{} // a connection changed state
}

func newHeldPD(t *testing.T) *heldPD {
	t.Helper()
	cl, err := tikvtest.NewUnstartedCluster(tikvtest.Config{Stores: 3, Regions: 10, Clock: &fixedClock{t: start}, Seed: 1})
	require.NoError(t, err)
	pd := cl.PDHandler()
	p := &heldPD{held: make(chan struct{}, 1), release: make(chan struct{}), conns: map[net.Conn]http.ConnState{}, moved: make(chan struct{}, 1)}
	p.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/pd/api/v1/stores" && p.hold.Load() {
			select {
			case p.held <- struct{}{}:
			default:
			}
			select {
			case <-r.Context().Done():
				return
			case <-p.release:
			}
		}
		pd.ServeHTTP(w, r)
	}))
	p.srv.Config.ConnState = func(c net.Conn, s http.ConnState) {
		p.mu.Lock()
		p.conns[c] = s
		p.mu.Unlock()
		select {
		case p.moved <- struct{}{}:
		default:
		}
	}
	p.srv.Start()
	t.Cleanup(func() {
		close(p.release)
		p.srv.Close()
	})
	return p
}

// open returns how many connections are not closed.
func (p *heldPD) open() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, s := range p.conns {
		if s != http.StateClosed && s != http.StateHijacked {
			n++
		}
	}
	return n
}

func invariantNamed(t *testing.T, invs []invariant.Invariant, name string) invariant.Invariant {
	t.Helper()
	for _, inv := range invs {
		if inv.Name == name {
			return inv
		}
	}
	t.Fatalf("no invariant %s", name)
	return invariant.Invariant{}
}

// TestCloseEndsDetachedReads: a check waits for a shared read that PD
// holds, on a context that never ends; Close ends the read, and returns
// only once it has. After Close the subject still answers, and a second
// Close closes the connection that answer left idle. No goroutine is left.
func TestCloseEndsDetachedReads(t *testing.T) {
	noLeaks(t)
	pd := newHeldPD(t)
	pd.hold.Store(true)
	sub, err := tikv.New(tikv.Config{PD: pdclient.Config{Endpoints: []string{pd.srv.URL}}, DisableMetrics: true})
	require.NoError(t, err)
	health := invariantNamed(t, sub.Invariants(), tikv.InvStoreHealth)

	done := make(chan error, 1)
	go func() {
		_, err := health.Check(context.Background(), start)
		done <- err
	}()
	select {
	case <-pd.held:
	case <-t.Context().Done():
		t.Fatal("the check never asked PD for the stores")
	}
	require.NoError(t, sub.Close())
	require.ErrorIs(t, <-done, context.Canceled, "the check's read was ended by Close")

	// The subject still works, each check reading for itself.
	pd.hold.Store(false)
	_, err = health.Check(t.Context(), start)
	require.NoError(t, err)
	require.Positive(t, pd.open(), "the answer left its connection open, idle")
	require.NoError(t, sub.Close())
	bound := time.NewTimer(10 * time.Second)
	defer bound.Stop()
	for pd.open() > 0 {
		select {
		case <-pd.moved:
		case <-bound.C:
			t.Fatalf("%d connections still open 10 s after Close", pd.open())
		}
	}
	require.NoError(t, sub.Close(), "a third Close")
}

// TestNewFromClientsTakesOnlyClients: NewFromClients refuses the
// configuration of clients it does not build, naming the field, and
// honours the rest: DisableMetrics leaves the given Prometheus client out,
// Config.Logs is the log source when the argument is nil.
func TestNewFromClientsTakesOnlyClients(t *testing.T) {
	pd, err := pdclient.New(pdclient.Config{})
	require.NoError(t, err)
	prom, err := promclient.New(promclient.Config{})
	require.NoError(t, err)
	logs := tikv.NewFileLogSource(filepath.Join(t.TempDir(), "pd.log"))

	for _, tt := range []struct {
		name  string
		pd    *pdclient.Client
		logs  tikv.LogSource
		cfg   tikv.Config
		field string
	}{
		{"PD configured", pd, nil, tikv.Config{PD: pdclient.Config{Endpoints: []string{"http://pd:2379"}}}, "Config.PD"},
		{"Prometheus configured", pd, nil, tikv.Config{Prometheus: promclient.Config{Timeout: time.Second}}, "Config.Prometheus"},
		{"no PD client", nil, nil, tikv.Config{}, "no PD client"},
		{"two log sources", pd, logs, tikv.Config{Logs: logs}, "Config.Logs"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tikv.NewFromClients(tt.pd, prom, tt.logs, tt.cfg)
			require.ErrorIs(t, err, subject.ErrInvalid)
			require.ErrorContains(t, err, tt.field)
		})
	}

	sub, err := tikv.NewFromClients(pd, prom, nil, tikv.Config{DisableMetrics: true, Logs: logs})
	require.NoError(t, err)
	t.Cleanup(func() { _ = sub.Close() })
	_, err = sub.AllStoreMetrics(t.Context())
	require.ErrorIs(t, err, subject.ErrNotSupported, "DisableMetrics leaves the given Prometheus out")
	_, err = sub.LeadershipChanges(t.Context(), start)
	require.False(t, errors.Is(err, subject.ErrNotSupported), "Config.Logs is the log source: %v", err)
	for _, o := range sub.Capabilities().Observations {
		require.NotEqual(t, "all_store_metrics", o.Name, "a capability without metrics")
	}
}
