package election_test

import (
	"context"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kvops/operator/pdclient"
	"github.com/kvops/operator/subject/guard"
	"github.com/kvops/operator/tikv"
	"github.com/kvops/operator/tikv/election"
	"github.com/kvops/operator/tikv/tikvtest"
)

// testTTL is the shortest TTL the package accepts, so that the tests that
// wait for a lease to expire wait as little as they can.
const testTTL = election.MinTTL

// wait bounds every wait of these tests for a real server.
const wait = time.Minute

// candidate returns an election of the test's own prefix, closed when the
// test ends.
func candidate(t *testing.T, endpoints []string, id string, ttl time.Duration) *election.Election {
	t.Helper()
	e, err := election.New(election.Config{
		Endpoints: endpoints, Prefix: "/kvops-operator/test/" + t.Name(), Identity: id, TTL: ttl, Timeout: time.Second,
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = e.Close(context.Background()) })
	return e
}

// won is the end of a campaign.
type won struct {
	term *election.Term
	err  error
}

// campaign campaigns in the background; the channel gets the outcome.
func campaign(ctx context.Context, e *election.Election) <-chan won {
	ch := make(chan won, 1)
	go func() {
		term, err := e.Campaign(ctx)
		ch <- won{term, err}
	}()
	return ch
}

// await returns the campaign's term, failing the test on an error or
// when it takes longer than wait.
func await(t *testing.T, ch <-chan won) *election.Term {
	t.Helper()
	select {
	case w := <-ch:
		require.NoError(t, w.err)
		return w.term
	case <-time.After(wait):
		t.Fatalf("no leader after %v", wait)
		return nil
	}
}

// queued waits until the election lists n candidates.
func queued(t *testing.T, e *election.Election, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), wait)
	defer cancel()
	for {
		cs, err := e.Candidates(ctx)
		if err == nil && len(cs) == n {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%d candidates (%v), want %d", len(cs), err, n)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// monitor sees every term won and fails the test when one is won while
// another has not ended: two leaders at once.
type monitor struct {
	t     *testing.T
	mu    sync.Mutex
	terms map[string]*election.Term
}

func newMonitor(t *testing.T) *monitor { return &monitor{t: t, terms: map[string]*election.Term{}} }

// won records that who won term, checking every other term ended first,
// and that etcd names who as the leader with the term's revision.
func (m *monitor) won(e *election.Election, term *election.Term) {
	m.t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	for who, o := range m.terms {
		select {
		case <-o.Done():
		default:
			m.t.Errorf("%s won term %d while %s's term %d had not ended", e.Identity(), term.Rev(), who, o.Rev())
		}
	}
	m.terms[e.Identity()] = term
	l, err := e.Leader(m.t.Context())
	require.NoError(m.t, err)
	require.Equal(m.t, election.Leader{Identity: e.Identity(), Key: term.Key(), Rev: term.Rev(), Lease: l.Lease}, l)
}

// queue is a leader and a candidate waiting behind it.
type queue struct {
	a, b *election.Election
	m    *monitor
	ta   *election.Term // a's term
	bc   <-chan won     // b's campaign
}

// leaderAndFollower elects "a" on endpointsA, then starts "b" campaigning
// on endpointsB and waits until it is queued behind a.
func leaderAndFollower(t *testing.T, endpointsA, endpointsB []string, ttl time.Duration) queue {
	t.Helper()
	q := queue{a: candidate(t, endpointsA, "a", ttl), b: candidate(t, endpointsB, "b", ttl), m: newMonitor(t)}
	q.ta = await(t, campaign(t.Context(), q.a))
	q.m.won(q.a, q.ta)
	q.bc = campaign(t.Context(), q.b)
	queued(t, q.b, 2)
	return q
}

// newGuard returns a guard in automatic mode over a simulated cluster,
// with leadership as its Leadership.
func newGuard(t *testing.T, leadership guard.Leadership) *guard.Guard {
	t.Helper()
	c := tikvtest.NewCluster(t, tikvtest.Config{})
	sub, err := tikv.New(tikv.Config{PD: pdclient.Config{Endpoints: []string{c.PDURL()}}, DisableMetrics: true})
	require.NoError(t, err)
	t.Cleanup(sub.PD().CloseIdleConnections)
	g, err := guard.New(sub, guard.Config{Mode: guard.ModeAutomatic, Leadership: leadership})
	require.NoError(t, err)
	return g
}

// proxy forwards TCP connections to target until Cut, after which it
// forwards nothing: connections it had are closed, new ones are accepted
// and left hanging, as behind a network partition.
type proxy struct {
	ln     net.Listener
	target string

	mu    sync.Mutex
	cut   bool
	conns []net.Conn
	wg    sync.WaitGroup
}

func newProxy(t *testing.T, target string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	p := &proxy{ln: ln, target: target}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.close)
	return p
}

// URL is what a client dials instead of target.
func (p *proxy) URL() string { return "http://" + p.ln.Addr().String() }

func (p *proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		p.conns = append(p.conns, c)
		cut := p.cut
		p.mu.Unlock()
		if cut {
			continue
		}
		up, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, up)
		p.mu.Unlock()
		p.wg.Add(2)
		go p.pipe(up, c)
		go p.pipe(c, up)
	}
}

func (p *proxy) pipe(dst, src net.Conn) {
	defer p.wg.Done()
	_, _ = io.Copy(dst, src)
	dst.Close()
	src.Close()
}

// Cut partitions the client from the target.
func (p *proxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = true
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

func (p *proxy) close() {
	p.ln.Close()
	p.Cut()
	p.wg.Wait()
}
