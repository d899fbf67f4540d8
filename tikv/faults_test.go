package tikv_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/kvops/operator/internal/bindonly"
	"github.com/kvops/operator/internal/promtest"
	"github.com/kvops/operator/invariant"
	"github.com/kvops/operator/pdclient"
	"github.com/kvops/operator/promclient"
	"github.com/kvops/operator/subject"
	"github.com/kvops/operator/tikv"
	"github.com/kvops/operator/tikv/tikvtest"
)

// faultKind is what an endpoint does to the requests a fault matches.
type faultKind int

const (
	noFault faultKind = iota
	// hang holds the request, unanswered, until the client gives up.
	hang
	// garbage answers 200 with bytes that are not JSON.
	garbage
	// htmlPage answers 200 with an HTML page, as a login portal or a
	// misrouted load balancer does.
	htmlPage
	// serverError answers 500 with a plain-text body, as a crashing
	// proxy does.
	serverError
	// lostAnswer passes the request to PD, which carries it out, then
	// closes the connection without answering: the answer is lost.
	lostAnswer
	// swallowed answers 200 as PD does, without passing the request on:
	// the effect never shows.
	swallowed
	// proxy503 passes the request to PD, which carries it out, then
	// answers 503 with a proxy's HTML page, as a load balancer in front
	// of PD may.
	proxy503
)

// fault picks the requests an endpoint mistreats: those with the method
// (any when empty) whose path contains path (any when empty).
type fault struct {
	kind   faultKind
	method string
	path   string
}

func (f fault) matches(r *http.Request) bool {
	return f.kind != noFault && (f.method == "" || r.Method == f.method) && strings.Contains(r.URL.Path, f.path)
}

// pdEndpoint is one PD member's listener.
// stop takes the endpoint down for the rest of the test: its server closes
// and its port stays held (bound, never listening) until the test ends,
// so connections to it are refused and no other program's listener (a
// shared host's, scripts/stress's churn) can take the port and answer in
// its place, as one did with a 404 before.
func (ep *pdEndpoint) stop(t *testing.T) {
	t.Helper()
	hold, err := bindonly.Hold(ep.srv.Listener.Addr().String())
	require.NoError(t, err)
	t.Cleanup(func() { hold.Close() })
	ep.srv.Close()
}

type pdEndpoint struct {
	name string // the member it serves as: pd1, pd2, pd3
	srv  *httptest.Server
	url  string

	mu        sync.Mutex
	fault     fault
	advertise string // the client URL /members gives for the member
	served    atomic.Int64
}

func (e *pdEndpoint) setFault(f fault) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.fault = f
}

func (e *pdEndpoint) state() (fault, string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.fault, e.advertise
}

// pdFront serves a simulated cluster's PD API on three real listeners,
// one per PD member. Each member advertises its own listener in /members,
// /leader and /health, so the client's discovery and failover run over
// real connections, and each listener can be closed or made to misbehave
// on its own. Like real PD followers, every member answers with the
// leader's data.
type pdFront struct {
	sim *tikvtest.Cluster
	pd  http.Handler
	eps []*pdEndpoint
	// held receives the path of every request a hang fault holds.
	held    chan string
	release chan struct{}
	// lost counts the requests a lostAnswer or proxy503 fault carried
	// out.
	lost atomic.Int64
}

// newPDFront starts the three listeners; with tc they serve HTTPS only.
func newPDFront(t *testing.T, cl *tikvtest.Cluster, tc *tls.Config) *pdFront {
	t.Helper()
	f := &pdFront{sim: cl, pd: cl.PDHandler(), held: make(chan string, 256), release: make(chan struct{})}
	for i := range 3 {
		ep := &pdEndpoint{name: fmt.Sprintf("pd%d", i+1)}
		ep.srv = httptest.NewUnstartedServer(f.handler(ep))
		// A listener with SO_REUSEPORT, so that stop can hold its port.
		ln, err := bindonly.Listen("127.0.0.1:0")
		require.NoError(t, err)
		ep.srv.Listener.Close()
		ep.srv.Listener = ln
		// Keep the server's own log quiet about the handshakes tests make
		// fail on purpose.
		ep.srv.Config.ErrorLog = slogDiscard()
		if tc != nil {
			ep.srv.TLS = tc
			ep.srv.StartTLS()
		} else {
			ep.srv.Start()
		}
		ep.url, ep.advertise = ep.srv.URL, ep.srv.URL
		f.eps = append(f.eps, ep)
	}
	t.Cleanup(func() {
		close(f.release)
		for _, ep := range f.eps {
			ep.srv.Close()
		}
	})
	return f
}

func (f *pdFront) urls() []string {
	out := make([]string, len(f.eps))
	for i, ep := range f.eps {
		out[i] = ep.url
	}
	return out
}

// setFault applies a fault to every endpoint.
func (f *pdFront) setFault(fl fault) {
	for _, ep := range f.eps {
		ep.setFault(fl)
	}
}

func (f *pdFront) handler(ep *pdEndpoint) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fl, _ := ep.state()
		if fl.matches(r) {
			switch fl.kind {
			case hang:
				_, _ = io.Copy(io.Discard, r.Body)
				select {
				case f.held <- r.Method + " " + r.URL.Path:
				default:
				}
				select {
				case <-r.Context().Done():
				case <-f.release:
				}
			case garbage:
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write([]byte("\x00\x17{\"count\": tru\xff"))
			case htmlPage:
				w.Header().Set("Content-Type", "text/html; charset=utf-8")
				_, _ = w.Write([]byte("<!DOCTYPE html><html><head><title>Sign in</title></head><body><form>...</form></body></html>\n"))
			case serverError:
				http.Error(w, proxyErrorBody, http.StatusInternalServerError)
			case swallowed:
				w.Header().Set("Content-Type", "application/json; charset=UTF-8")
				_, _ = w.Write([]byte(`"The operator is created."`))
			case lostAnswer:
				f.lost.Add(1)
				f.pd.ServeHTTP(httptest.NewRecorder(), r)
				if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
					_ = conn.Close()
				}
			case proxy503:
				f.lost.Add(1)
				f.pd.ServeHTTP(httptest.NewRecorder(), r)
				w.Header().Set("Content-Type", "text/html")
				w.WriteHeader(http.StatusServiceUnavailable)
				_, _ = w.Write([]byte("<html><head><title>503 Service Temporarily Unavailable</title></head><body><center><h1>503 Service Temporarily Unavailable</h1></center><hr><center>nginx</center></body></html>\r\n"))
			}
			return
		}
		ep.served.Add(1)
		switch strings.TrimPrefix(r.URL.Path, "/pd/api/v1") {
		case "/members", "/leader", "/health":
			f.advertised(w, r)
		default:
			f.pd.ServeHTTP(w, r)
		}
	})
}

// advertised serves the simulator's member answers with each member's
// client URL replaced by its own listener's (or what the test set).
func (f *pdFront) advertised(w http.ResponseWriter, r *http.Request) {
	rec := httptest.NewRecorder()
	f.pd.ServeHTTP(rec, r)
	var v any
	if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if name, ok := v["name"].(string); ok {
				if _, has := v["client_urls"]; has {
					for _, ep := range f.eps {
						if ep.name == name {
							_, adv := ep.state()
							v["client_urls"] = []string{adv}
						}
					}
				}
			}
			for _, x := range v {
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	walk(v)
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(rec.Code)
	_ = json.NewEncoder(w).Encode(v)
}

// simState is what the simulated PD shows of its stores, regions,
// schedulers, operators and configuration, read past the front: equal
// snapshots mean nothing changed.
func (f *pdFront) simState(t *testing.T) string {
	t.Helper()
	var b strings.Builder
	for _, p := range []string{"/stores", "/regions", "/schedulers", "/operators", "/config"} {
		rec := httptest.NewRecorder()
		f.pd.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/pd/api/v1"+p, nil))
		require.Equal(t, http.StatusOK, rec.Code, "GET %s", p)
		b.WriteString(rec.Body.String())
	}
	return b.String()
}

// frontCluster is a simulated cluster behind a pdFront and a Subject
// over the front's three endpoints, on the simulation's clock.
type frontCluster struct {
	sim   *tikvtest.Cluster
	front *pdFront
	sub   *tikv.Subject
}

func newFrontCluster(t *testing.T, tc *tls.Config, mod func(*tikv.Config)) *frontCluster {
	t.Helper()
	var cfg tikv.Config
	c := newCluster(t, func(base *tikv.Config) { cfg = *base })
	front := newPDFront(t, c.sim, tc)
	cfg.PD.Endpoints = front.urls()
	cfg.PD.BackoffBase, cfg.PD.BackoffMax = time.Millisecond, time.Millisecond
	if mod != nil {
		mod(&cfg)
	}
	sub, err := tikv.New(cfg)
	require.NoError(t, err)
	t.Cleanup(sub.PD().CloseIdleConnections)
	return &frontCluster{sim: c.sim, front: front, sub: sub}
}

// noLeaks fails the test if it leaves goroutines behind. Call it first:
// the check runs after every other cleanup has closed its servers.
func noLeaks(t *testing.T) {
	t.Helper()
	ignore := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, ignore) })
}

// transitions formats a report's transitions, all of them or those of
// the named invariants.
func transitions(rep invariant.Report, only ...string) []string {
	out := []string{}
	for _, tr := range rep.Transitions {
		if len(only) == 0 || slices.Contains(only, tr.Invariant) {
			out = append(out, tr.String())
		}
	}
	return out
}

// failed lists the invariants whose check failed in a report.
func failed(rep invariant.Report) []string {
	out := []string{}
	for _, ce := range rep.Errors {
		out = append(out, ce.Invariant)
	}
	return out
}

// violation returns the alert of a pending or firing pair in a report.
func violation(t *testing.T, rep invariant.Report, inv, key string) invariant.Alert {
	t.Helper()
	for _, a := range rep.Violations {
		if a.Invariant == inv && a.Key == key {
			return a
		}
	}
	t.Fatalf("no violation %s %s in %+v", inv, key, rep.Violations)
	return invariant.Alert{}
}

func evalAt(t *testing.T, e *invariant.Evaluator, at time.Time) invariant.Report {
	t.Helper()
	rep, err := e.Evaluate(t.Context(), at)
	require.NoError(t, err)
	return rep
}

// metricInvariants are the invariants that read Prometheus, by name.
var metricInvariants = []string{tikv.InvCPUUsage, tikv.InvDiskUsage, tikv.InvStoreRestart, tikv.InvWriteLatency}

// pdInvariants are the invariants of a Subject without metrics, by name.
var pdInvariants = []string{tikv.InvLeaderImbalance, tikv.InvLowSpace, tikv.InvRegionPeers, tikv.InvStoreHealth}

// TestPDEndpointDownAndLeaderMoves: of three PD members one (a follower)
// is down from the start; later the leader's listener dies and leadership
// moves to another member: for the election (12 s) the follower answers
// every read with PD's ErrRedirect, then comes the recorded window in
// which the new leader reports every store Disconnected at 0B. Checks fail
// only while PD has no leader, nothing fires (no store alarm, no low-space
// reading from the 0B sizes), the client follows the new leader, and a
// store that really stops afterwards still fires.
func TestPDEndpointDownAndLeaderMoves(t *testing.T) {
	noLeaks(t)
	c := newFrontCluster(t, nil, nil)
	pd1, pd2, pd3 := c.front.eps[0], c.front.eps[1], c.front.eps[2]
	pd3.stop(t)
	if ln, err := net.Listen("tcp", pd3.srv.Listener.Addr().String()); err == nil {
		ln.Close()
		if runtime.GOOS == "linux" {
			t.Fatal("another listener could take the port of a PD endpoint that is down")
		}
	}
	e := evaluator(t, c.sub)
	for range 3 {
		rep := evalAt(t, e, c.sim.Now())
		require.Empty(t, rep.Errors, "with one follower down")
		require.Empty(t, rep.Transitions)
		c.sim.Advance(time.Second)
	}
	require.Equal(t, pd1.url, c.sub.PD().Endpoints()[0], "the client talks to the leader first")
	require.Positive(t, pd1.served.Load())

	pd1.stop(t)
	c.sim.PDLeaderChange()
	elected := c.sim.Now().Add(pdElection)
	sawWindow := false
	for range 32 {
		sawWindow = showsLeaderWindow(t, c.sub) || sawWindow
		rep := evalAt(t, e, c.sim.Now())
		if !c.sim.Now().Before(elected) {
			require.Empty(t, rep.Errors, "at %v", c.sim.Now())
		}
		require.Empty(t, rep.Transitions, "at %v", c.sim.Now())
		require.Empty(t, rep.Violations, "at %v", c.sim.Now())
		c.sim.Advance(time.Second)
	}
	require.True(t, sawWindow, "the new leader never showed the all-Disconnected 0B window")
	require.Equal(t, pd2.url, c.sub.PD().Endpoints()[0], "the client follows the new leader")

	stopFires(t, c.sim, e, 4)
}

// pdElection is how long tikvtest's PD leader change leaves PD without a
// leader (tikvtest.Config.PDElection's default).
const pdElection = 12 * time.Second

// showsLeaderWindow reports whether PD shows a store Disconnected at 0B,
// as a new PD leader does until the store's heartbeat reaches it. While PD
// has no leader (its reads fail) it shows nothing.
func showsLeaderWindow(t *testing.T, sub *tikv.Subject) bool {
	t.Helper()
	stores, err := sub.Stores(t.Context())
	if err != nil {
		return false
	}
	return slices.ContainsFunc(stores, func(s subject.Store) bool {
		return s.State == subject.StateDisconnected && s.Capacity == 0
	})
}

// stopFires stops a store and checks that store health fires for it, and
// for nothing else, within 30s of simulated time.
func stopFires(t *testing.T, cl *tikvtest.Cluster, e *invariant.Evaluator, id subject.StoreID) {
	t.Helper()
	require.NoError(t, cl.StopStore(id))
	for range 30 {
		cl.Advance(time.Second)
		rep := evalAt(t, e, cl.Now())
		require.Empty(t, rep.Errors)
		if got := transitions(rep, tikv.InvStoreHealth); len(got) > 0 {
			require.Equal(t, []string{fmt.Sprintf("store_health store=%d: inactive -> firing", id)}, got)
			return
		}
	}
	t.Fatalf("store %d never fired within 30s of stopping", id)
}

// stoppedAndFull sets up a cluster with store 2 stopped (store_health
// firing at once) and store 3's disk 90 % full (pd_low_space pending for
// its one-minute grace), and returns the time of that first evaluation.
func stoppedAndFull(t *testing.T, c *frontCluster, e *invariant.Evaluator) time.Time {
	t.Helper()
	require.NoError(t, c.sim.SetDiskUsage(3, 0.9))
	require.NoError(t, c.sim.StopStore(2))
	c.sim.Advance(31 * time.Second)
	t0 := c.sim.Now()
	rep := evalAt(t, e, t0)
	require.Empty(t, rep.Errors)
	require.Equal(t, []string{"pd_low_space store=3: inactive -> pending", "store_health store=2: inactive -> firing"}, transitions(rep))
	return t0
}

// requireKept checks that a report whose checks failed kept store 2
// firing and store 3 pending since t0.
func requireKept(t *testing.T, rep invariant.Report, t0 time.Time) {
	t.Helper()
	require.Empty(t, rep.Transitions, "a failed check moved a state")
	a := violation(t, rep, tikv.InvStoreHealth, "store=2")
	require.Equal(t, invariant.StateFiring, a.State)
	a = violation(t, rep, tikv.InvLowSpace, "store=3")
	require.Equal(t, invariant.StatePending, a.State)
	require.Equal(t, t0, a.FirstSeen, "the grace clock was reset")
}

// TestPDSlowerThanTimeout: one slow member is skipped; when every member
// is slower than the timeout, every check fails with a timeout naming the
// endpoint, states and grace clocks are kept through the blind minutes,
// and the pending alert fires on the first look after PD recovers.
func TestPDSlowerThanTimeout(t *testing.T) {
	noLeaks(t)
	c := newFrontCluster(t, nil, func(cfg *tikv.Config) {
		cfg.PD.Timeout = 100 * time.Millisecond
		cfg.PD.MaxAttempts = 1
	})
	e := evaluator(t, c.sub)
	t0 := stoppedAndFull(t, c, e)

	c.front.eps[0].setFault(fault{kind: hang})
	c.sim.Advance(time.Second)
	rep := evalAt(t, e, c.sim.Now())
	require.Empty(t, rep.Errors, "one slow member: the client fails over")
	require.Empty(t, rep.Transitions)

	c.front.setFault(fault{kind: hang})
	for _, d := range []time.Duration{20 * time.Second, 45 * time.Second} { // the second is past the grace
		c.sim.Advance(d)
		rep = evalAt(t, e, c.sim.Now())
		require.Equal(t, pdInvariants, failed(rep))
		for _, ce := range rep.Errors {
			require.ErrorIs(t, ce.Err, context.DeadlineExceeded, ce.Invariant)
			require.ErrorIs(t, ce.Err, pdclient.ErrUnavailable, ce.Invariant)
			var te *pdclient.TransportError
			require.ErrorAs(t, ce.Err, &te, ce.Invariant)
			require.Contains(t, c.front.urls(), te.Endpoint)
			require.True(t, strings.HasPrefix(te.Path, "/pd/api/v1/"), "path %q", te.Path)
			// That an error's message names the PD endpoint and path
			// is the library's documented promise (RELIABILITY.md), so
			// this one checks the wording.
			require.Contains(t, ce.Error(), te.Endpoint+te.Path, "the message names the endpoint and path")
		}
		requireKept(t, rep, t0)
	}

	c.front.setFault(fault{})
	c.sim.Advance(time.Second)
	rep = evalAt(t, e, c.sim.Now())
	require.Empty(t, rep.Errors)
	require.Equal(t, []string{"pd_low_space store=3: pending -> firing"}, transitions(rep))
	a := violation(t, rep, tikv.InvLowSpace, "store=3")
	require.Equal(t, t0, a.FirstSeen)
	require.Equal(t, c.sim.Now(), a.FiredAt)
}

// TestPDBadAnswers: PD (or something in front of it) answers the store
// list with garbage, an HTML page, or 500s. Each is a typed error naming
// the endpoint and the path; the checks that read stores fail and keep
// their states, the others go on; nothing moves when PD answers again.
func TestPDBadAnswers(t *testing.T) {
	tests := []struct {
		name  string
		kind  faultKind
		check func(t *testing.T, err error)
	}{
		{"garbage", garbage, func(t *testing.T, err error) {
			var re *pdclient.ResponseError
			require.ErrorAs(t, err, &re)
			require.ErrorIs(t, err, pdclient.ErrBadResponse)
			require.Equal(t, http.StatusOK, re.Status)
		}},
		{"HTML page", htmlPage, func(t *testing.T, err error) {
			var re *pdclient.ResponseError
			require.ErrorAs(t, err, &re)
			require.ErrorIs(t, err, pdclient.ErrBadResponse)
			require.Equal(t, "text/html; charset=utf-8", re.ContentType)
		}},
		{"500s", serverError, func(t *testing.T, err error) {
			var ae *pdclient.APIError
			require.ErrorAs(t, err, &ae)
			require.ErrorIs(t, err, pdclient.ErrServer)
			require.Equal(t, http.StatusInternalServerError, ae.Status)
			require.Equal(t, proxyErrorBody, strings.TrimSpace(ae.Message), "the answer's body")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			noLeaks(t)
			c := newFrontCluster(t, nil, nil)
			e := evaluator(t, c.sub)
			t0 := stoppedAndFull(t, c, e)

			c.front.setFault(fault{kind: tt.kind, method: http.MethodGet, path: "/pd/api/v1/stores"})
			_, err := c.sub.Stores(t.Context())
			require.Error(t, err)
			tt.check(t, err)
			endpoint, path := pdRequestOf(t, err)
			path, _, _ = strings.Cut(path, "?")
			require.Equal(t, "/pd/api/v1/stores", path)
			require.Contains(t, c.front.urls(), endpoint)

			c.sim.Advance(10 * time.Second)
			rep := evalAt(t, e, c.sim.Now())
			// Every PD check reads the store list except the region
			// checks, which go on.
			require.Equal(t, []string{tikv.InvLeaderImbalance, tikv.InvLowSpace, tikv.InvStoreHealth}, failed(rep))
			for _, ce := range rep.Errors {
				tt.check(t, ce.Err)
			}
			requireKept(t, rep, t0)

			c.front.setFault(fault{})
			c.sim.Advance(10 * time.Second)
			rep = evalAt(t, e, c.sim.Now())
			require.Empty(t, rep.Errors)
			require.Empty(t, rep.Transitions, "PD answering again moved a state")
		})
	}
}

// TestPrometheusDown: with nothing listening at Prometheus' address the
// metric checks fail with ErrUnavailable naming the address, nothing
// about metrics moves, and store health, read from PD, still fires.
func TestPrometheusDown(t *testing.T) {
	noLeaks(t)
	addr := "http://" + promtest.RefusedAddr(t)
	c := newFrontCluster(t, nil, func(cfg *tikv.Config) {
		cfg.DisableMetrics = false
		cfg.Prometheus = promclient.Config{Address: addr}
	})
	e := evaluator(t, c.sub)
	require.NoError(t, c.sim.StopStore(2))
	c.sim.Advance(31 * time.Second)
	rep := evalAt(t, e, c.sim.Now())
	require.Equal(t, metricInvariants, failed(rep))
	for _, ce := range rep.Errors {
		require.ErrorIs(t, ce.Err, promclient.ErrUnavailable)
		require.ErrorIs(t, ce.Err, syscall.ECONNREFUSED)
		require.Equal(t, addr, promAddressOf(t, ce.Err))
	}
	require.Equal(t, []string{"store_health store=2: inactive -> firing"}, transitions(rep))

	_, err := c.sub.StoreMetrics(t.Context(), 1)
	require.ErrorIs(t, err, promclient.ErrUnavailable)
	require.Equal(t, addr, promAddressOf(t, err))
}

// promProxy stands between the Subject and a real Prometheus, and can
// refuse, hold or fail requests.
type promProxy struct {
	srv     *httptest.Server
	mode    atomic.Int32 // 0 pass, 1 drop the connection, 2 hang, 3 answer 503
	release chan struct{}
}

const (
	promPass int32 = iota
	promDrop
	promHang
	promUnavailable
)

func newPromProxy(t *testing.T, target string) *promProxy {
	t.Helper()
	p := &promProxy{release: make(chan struct{})}
	client := &http.Client{}
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch p.mode.Load() {
		case promDrop:
			conn, _, err := http.NewResponseController(w).Hijack()
			if err == nil {
				_ = conn.Close()
			}
			return
		case promHang:
			_, _ = io.Copy(io.Discard, r.Body)
			select {
			case <-r.Context().Done():
			case <-p.release:
			}
			return
		case promUnavailable:
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte("<html><body>503 Service Unavailable</body></html>"))
			return
		}
		req, err := http.NewRequestWithContext(r.Context(), r.Method, target+r.URL.RequestURI(), r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		req.Header = r.Header.Clone()
		resp, err := client.Do(req)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		for k, v := range resp.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(resp.StatusCode)
		var buf bytes.Buffer
		_, _ = buf.ReadFrom(resp.Body)
		_, _ = w.Write(buf.Bytes())
	}))
	p.srv.Config.ErrorLog = slogDiscard()
	t.Cleanup(func() {
		close(p.release)
		p.srv.Close()
		client.CloseIdleConnections()
	})
	return p
}

// TestPrometheusFaultsKeepState runs a real Prometheus over a TSDB
// backfilled with the disk sizes of the simulated stores, behind a proxy
// that fails on demand. Prometheus has a remote-read endpoint that is down,
// so every answer carries a warning: the warnings are logged at Warn and
// the results still used. Whether Prometheus is unreachable, slower than
// the timeout or answering 503, the disk check fails with a typed error
// naming the address, and the disk alert keeps its state and grace clock:
// it fires on time once Prometheus answers again, and does not resolve
// while it cannot be read.
//
// The data is backfilled, not scraped: scraping is not what this test is
// about, and a scrape that times out on a loaded machine marks the series
// stale, which would read as a disk of unknown size. Prometheus is queried
// at fixed times of the backfilled history: when store 2's disk is full,
// then after it emptied.
func TestPrometheusFaultsKeepState(t *testing.T) {
	noLeaks(t)
	promtest.Require(t)
	cl := runningCluster(t, 3)
	now := time.Now().Truncate(time.Minute)
	fullAt, emptyAt := now.Add(-25*time.Minute), now.Add(-5*time.Minute)
	var om strings.Builder
	om.WriteString("# TYPE tikv_store_size_bytes gauge\n")
	for id := subject.StoreID(1); id <= 3; id++ {
		addr, err := cl.StatusAddress(id)
		require.NoError(t, err)
		for at := now.Add(-time.Hour); !at.After(now); at = at.Add(15 * time.Second) {
			avail := 6e11 // of 1e12
			if id == 2 && at.Before(fullAt.Add(5*time.Minute)) {
				avail = 1e11 // 90% used until fullAt+5m, then emptied
			}
			for typ, v := range map[string]float64{"capacity": 1e12, "available": avail} {
				fmt.Fprintf(&om, "tikv_store_size_bytes{instance=%q,job=\"tikv\",type=%q} %g %d\n", addr, typ, v, at.Unix())
			}
		}
	}
	om.WriteString("# EOF\n")
	dir := t.TempDir()
	promtest.Backfill(t, dir, om.String())
	p := promtest.Start(t, promtest.WithDataDir(dir),
		promtest.WithRemoteRead("http://"+promtest.RefusedAddr(t)+"/api/v1/read"))
	proxy := newPromProxy(t, p.URL)

	logs, logger := recordLogs()
	th := tikv.DefaultThresholds()
	th.DiskGrace = 30 * time.Second
	var queryAt atomic.Pointer[time.Time] // when Prometheus is queried
	queryAt.Store(&fullAt)
	pc := promclient.DefaultConfig()
	// The timeout bounds the hang below; it must also let ten queries
	// through a loaded machine (500ms did not: the first evaluation's
	// disk check timed out in 1 stress run of 5, with the port churn).
	pc.Address, pc.Timeout = proxy.srv.URL, 5*time.Second
	pc.Clock = func() time.Time { return *queryAt.Load() }
	sub, err := tikv.New(tikv.Config{PD: pdclient.Config{Endpoints: []string{cl.PDURL()}}, Prometheus: pc, Thresholds: &th, Logger: logger})
	require.NoError(t, err)
	t.Cleanup(sub.PD().CloseIdleConnections)
	e := evaluator(t, sub)

	m, err := sub.StoreMetrics(t.Context(), 2)
	require.NoError(t, err)
	usage, ok := m.DiskUsage().Get()
	require.True(t, ok, "store 2's disk at %v: %v", fullAt, m.DiskUsage())
	require.InDelta(t, 0.9, usage, 1e-9, "store 2's disk at %v", fullAt)
	rep := evalAt(t, e, start)
	require.Empty(t, rep.Errors)
	require.Equal(t, []string{"disk_usage store=2: inactive -> pending"}, transitions(rep, tikv.InvDiskUsage))
	// The message is the library's own, documented (RELIABILITY.md); the
	// warning is Prometheus' text, checked only for being there.
	warned := logs.find(slog.LevelWarn, "prometheus warning")
	require.NotEmpty(t, warned, "Prometheus' warnings were not logged")
	require.NotEmpty(t, attr(warned[0], "warning").String(), "the warning's text was not logged")

	blind := []struct {
		mode int32
		at   time.Duration
		want error
	}{
		{promDrop, 10 * time.Second, promclient.ErrUnavailable},
		{promHang, 20 * time.Second, context.DeadlineExceeded},
		{promUnavailable, 40 * time.Second, promclient.ErrUnavailable}, // past the grace
	}
	for _, b := range blind {
		proxy.mode.Store(b.mode)
		rep = evalAt(t, e, start.Add(b.at))
		require.Equal(t, metricInvariants, failed(rep), "mode %d", b.mode)
		for _, ce := range rep.Errors {
			require.ErrorIs(t, ce.Err, b.want, "mode %d", b.mode)
			require.Equal(t, proxy.srv.URL, promAddressOf(t, ce.Err))
		}
		require.Empty(t, transitions(rep, metricInvariants...), "mode %d: a failed check moved a state", b.mode)
		a := violation(t, rep, tikv.InvDiskUsage, "store=2")
		require.Equal(t, invariant.StatePending, a.State)
		require.Equal(t, start, a.FirstSeen)
	}

	proxy.mode.Store(promPass)
	rep = evalAt(t, e, start.Add(41*time.Second))
	require.Empty(t, rep.Errors)
	require.Equal(t, []string{"disk_usage store=2: pending -> firing"}, transitions(rep, tikv.InvDiskUsage))

	// The disk empties while Prometheus cannot be read: the alert stays
	// firing until Prometheus shows the change.
	queryAt.Store(&emptyAt)
	proxy.mode.Store(promDrop)
	rep = evalAt(t, e, start.Add(50*time.Second))
	require.Empty(t, transitions(rep, metricInvariants...))
	require.Equal(t, invariant.StateFiring, violation(t, rep, tikv.InvDiskUsage, "store=2").State)
	proxy.mode.Store(promPass)
	rep = evalAt(t, e, start.Add(60*time.Second))
	require.Equal(t, []string{"disk_usage store=2: firing -> resolved"}, transitions(rep, tikv.InvDiskUsage))
}

// runningCluster starts a simulated cluster with the given number of
// stores that ticks in real time, as a live cluster does.
func runningCluster(t *testing.T, stores int) *tikvtest.Cluster {
	t.Helper()
	cl, err := tikvtest.NewUnstartedCluster(tikvtest.Config{Stores: stores, Regions: 10 * stores, Seed: 2})
	require.NoError(t, err)
	require.NoError(t, cl.Start(t.Context()))
	t.Cleanup(func() { _ = cl.Close() })
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- cl.Run(ctx, 200*time.Millisecond) }()
	t.Cleanup(func() { cancel(); <-done })
	return cl
}

// TestClockJumpsBackwards: an evaluation time that goes back restarts the
// grace period at the new time (it neither fires early nor waits for the
// old time to come round again), and says so; and a PD leader change
// window with the subject's clock jumping back an hour neither fires early
// nor stays open for that hour.
func TestClockJumpsBackwards(t *testing.T) {
	noLeaks(t)
	t.Run("evaluator", func(t *testing.T) {
		th := tikv.DefaultThresholds()
		th.StoreHealthGrace = 30 * time.Second
		c := newFrontCluster(t, nil, func(cfg *tikv.Config) { cfg.Thresholds = &th })
		e := evaluator(t, c.sub)
		require.NoError(t, c.sim.StopStore(2))
		c.sim.Advance(31 * time.Second)
		t0 := c.sim.Now()
		require.Equal(t, []string{"store_health store=2: inactive -> pending"}, transitions(evalAt(t, e, t0)))
		back := t0.Add(-time.Hour)
		rep := evalAt(t, e, back)
		require.Empty(t, rep.Transitions)
		require.Equal(t, invariant.ClockJump{Previous: t0, Restarted: 1}, rep.ClockJump)
		require.Equal(t, back, violation(t, rep, tikv.InvStoreHealth, "store=2").FirstSeen)
		rep = evalAt(t, e, back.Add(29*time.Second))
		require.Empty(t, rep.Transitions)
		rep = evalAt(t, e, back.Add(30*time.Second))
		require.Equal(t, []string{"store_health store=2: pending -> firing"}, transitions(rep))
		require.Equal(t, back.Add(30*time.Second), rep.Transitions[0].Alert.FiredAt)
	})

	t.Run("leader change window", func(t *testing.T) {
		var offset atomic.Int64
		var cl *tikvtest.Cluster
		c := newFrontCluster(t, nil, func(cfg *tikv.Config) {
			cfg.Clock = func() time.Time { return cl.Now().Add(time.Duration(offset.Load())) }
		})
		cl = c.sim
		e := evaluator(t, c.sub)
		require.Empty(t, evalAt(t, e, c.sim.Now()).Transitions)
		// Store 4 dies just as PD's leader changes: it never reports to
		// the new leader, so it stays Disconnected at 0B. The window opens
		// once a leader is elected and answers.
		require.NoError(t, c.sim.StopStore(4))
		c.sim.PDLeaderChange()
		for range pdElection / time.Second {
			require.Empty(t, evalAt(t, e, c.sim.Now()).Transitions, "while PD has no leader")
			c.sim.Advance(time.Second)
		}
		changed := c.sim.Now()
		var firedAt time.Time
		for range 90 {
			if c.sim.Now().Sub(changed) == 10*time.Second {
				offset.Store(int64(-time.Hour))
			}
			now := c.sim.Now().Add(time.Duration(offset.Load()))
			rep := evalAt(t, e, now)
			require.Empty(t, rep.Errors)
			if got := transitions(rep); len(got) > 0 {
				require.Equal(t, []string{"store_health store=4: inactive -> firing"}, got)
				firedAt = c.sim.Now()
				break
			}
			c.sim.Advance(time.Second)
		}
		require.False(t, firedAt.IsZero(), "store 4 was held for more than 90s after the leader change: the backwards jump kept the window open")
		held := firedAt.Sub(changed)
		// The window restarts at the jump (10s in) and lasts 30s.
		require.GreaterOrEqual(t, held, 30*time.Second, "fired early")
		require.LessOrEqual(t, held, 41*time.Second, "held too long")
	})
}

// TestContextCancelledMidCall cancels every Subject method's context
// while its request is in flight (held unanswered by PD or Prometheus):
// each returns an error matching context.Canceled, no action changes the
// cluster, and no goroutine is left behind.
func TestContextCancelledMidCall(t *testing.T) {
	noLeaks(t)
	promHeld := make(chan string, 64)
	prom := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Read the body first: only then does the server watch the
		// connection, and cancel the request when the client hangs up.
		_, _ = io.Copy(io.Discard, r.Body)
		select {
		case promHeld <- r.URL.Path:
		default:
		}
		<-r.Context().Done()
	}))
	t.Cleanup(prom.Close)
	c := newFrontCluster(t, nil, func(cfg *tikv.Config) {
		cfg.DisableMetrics = false
		cfg.Prometheus = promclient.Config{Address: prom.URL}
	})
	ctx := t.Context()
	regID := firstRegion(t, &cluster{sim: c.sim, sub: c.sub})
	// Store 3 draining, for UndrainStore; evict-leader on store 1, for
	// RestoreLeaders.
	_, err := c.sub.DrainStore(ctx, 3)
	require.NoError(t, err)
	_, err = c.sub.EvictLeaders(ctx, 1)
	require.NoError(t, err)
	// A voter that may take the leader: not the leader, not evicted.
	reg, err := c.sub.PD().RegionByID(ctx, regID)
	require.NoError(t, err)
	var to subject.StoreID
	for _, p := range reg.Peers {
		if p.StoreID != reg.Leader.StoreID && p.StoreID != 1 && p.StoreID != 3 && p.RoleName == "Voter" {
			to = subject.StoreID(p.StoreID)
		}
	}
	require.NotZero(t, to, "region %d has no voter to move its leader to", regID)

	e := evaluator(t, c.sub)
	type call func(ctx context.Context) error
	act := func(f func(ctx context.Context) (subject.Result, error)) call {
		return func(ctx context.Context) error { _, err := f(ctx); return err }
	}
	tests := []struct {
		name string
		// held is where the request is held: a PD fault, or Prometheus.
		held fault
		prom bool
		call call
	}{
		{"Stores", fault{kind: hang, method: http.MethodGet}, false, func(ctx context.Context) error { _, err := c.sub.Stores(ctx); return err }},
		{"HotWriteRegions", fault{kind: hang, method: http.MethodGet}, false, func(ctx context.Context) error { _, err := c.sub.HotWriteRegions(ctx); return err }},
		{"HotReadRegions", fault{kind: hang, method: http.MethodGet}, false, func(ctx context.Context) error { _, err := c.sub.HotReadRegions(ctx); return err }},
		{"ClusterMetrics", fault{kind: hang, method: http.MethodGet, path: "/regions/count"}, false, func(ctx context.Context) error { _, err := c.sub.ClusterMetrics(ctx); return err }},
		{"StoreMetrics", fault{}, true, func(ctx context.Context) error { _, err := c.sub.StoreMetrics(ctx, 1); return err }},
		{"AllStoreMetrics", fault{}, true, func(ctx context.Context) error { _, err := c.sub.AllStoreMetrics(ctx); return err }},
		{"TransferLeader", fault{kind: hang, method: http.MethodPost}, false, act(func(ctx context.Context) (subject.Result, error) {
			return c.sub.TransferLeader(ctx, subject.RegionID(regID), to)
		})},
		{"SplitRegion", fault{kind: hang, method: http.MethodPost}, false, act(func(ctx context.Context) (subject.Result, error) {
			return c.sub.SplitRegion(ctx, subject.RegionID(regID))
		})},
		{"DrainStore", fault{kind: hang, method: http.MethodDelete}, false, act(func(ctx context.Context) (subject.Result, error) { return c.sub.DrainStore(ctx, 4) })},
		{"UndrainStore", fault{kind: hang, method: http.MethodPost}, false, act(func(ctx context.Context) (subject.Result, error) { return c.sub.UndrainStore(ctx, 3) })},
		{"EvictLeaders", fault{kind: hang, method: http.MethodPost}, false, act(func(ctx context.Context) (subject.Result, error) { return c.sub.EvictLeaders(ctx, 2) })},
		{"RestoreLeaders", fault{kind: hang, method: http.MethodDelete}, false, act(func(ctx context.Context) (subject.Result, error) { return c.sub.RestoreLeaders(ctx, 1) })},
		{"SetScheduleLimit", fault{kind: hang, method: http.MethodPost}, false, act(func(ctx context.Context) (subject.Result, error) {
			return c.sub.SetScheduleLimit(ctx, subject.LeaderLimit, 9)
		})},
		{"SetLowSpaceThreshold", fault{kind: hang, method: http.MethodPost}, false, act(func(ctx context.Context) (subject.Result, error) {
			return c.sub.SetLowSpaceThreshold(ctx, 90)
		})},
		{"Evaluate", fault{}, true, func(ctx context.Context) error {
			rep, err := e.Evaluate(ctx, c.sim.Now())
			if err != nil {
				return err
			}
			// The checks run at once: those waiting for the held
			// query (every metric check) fail with the context's
			// error, and so does any other still waiting for I/O;
			// those that had finished are applied.
			failed := map[string]bool{}
			for _, ce := range rep.Errors {
				if !errors.Is(ce.Err, context.Canceled) {
					return fmt.Errorf("check %s: %w, want context.Canceled", ce.Invariant, ce.Err)
				}
				failed[ce.Invariant] = true
			}
			for _, name := range metricInvariants {
				if !failed[name] {
					return fmt.Errorf("errors %v: want every metric check failed", rep.Errors)
				}
			}
			return rep.Errors[0].Err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := c.front.simState(t)
			c.front.setFault(tt.held)
			defer c.front.setFault(fault{})
			held := c.front.held
			if tt.prom {
				held = promHeld
			}
			for len(held) > 0 {
				<-held
			}
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			errc := make(chan error, 1)
			go func() { errc <- tt.call(ctx) }()
			select {
			case path := <-held:
				t.Logf("cancelling while %s is held", path)
			case err := <-errc:
				t.Fatalf("returned before any request was held: %v", err)
			}
			cancel()
			err := <-errc
			require.ErrorIs(t, err, context.Canceled)
			require.False(t, errors.Is(err, context.DeadlineExceeded))
			require.Equal(t, before, c.front.simState(t), "the cluster changed")
		})
	}
}

// captureLogs returns a logger that records everything, Debug included,
// as text. The handler serializes its writes; read the buffer only once
// the calls that log have returned.
func captureLogs() (*bytes.Buffer, *slog.Logger) {
	buf := &bytes.Buffer{}
	return buf, slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// slogDiscard is a standard logger that drops what an http.Server logs.
func slogDiscard() *log.Logger { return slog.NewLogLogger(slog.DiscardHandler, slog.LevelError) }
