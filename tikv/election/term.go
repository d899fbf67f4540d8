package election

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"
	"golang.org/x/sync/errgroup"

	"github.com/kvops/operator/subject/guard"
)

// doneMargin is how long before the end of what etcd promised Done
// closes: room for the timer firing late.
const doneMargin = 500 * time.Millisecond

// Term is one candidate's leadership, from the campaign it won until it
// ends: Done closes and Err says why. It is a guard.Leadership: give it
// to the guard (guard.Config.Leadership) built for this term, after
// opening and replaying the journal.
//
// While it lasts, the term confirms itself with etcd every TTL/6: that its
// key still exists, created at its revision and held by its lease, and
// how long etcd promises the lease will live (a linearizable read and the
// lease's time to live, read from etcd's leader). Done closes as soon as
// one of them says otherwise, when the key is deleted (watched), when the
// session ends, or half a second before the last promise runs out without
// a new one: before etcd can let another candidate win, so a replica
// whose Done closed can still hand over (close its journal) in time.
type Term struct {
	e       *Election
	session *concurrency.Session
	el      *concurrency.Election
	key     string
	rev     int64
	lease   clientv3.LeaseID
	ttl     time.Duration
	won     time.Time

	done chan struct{}
	once sync.Once

	mu    sync.Mutex
	err   error     // why it ended
	until time.Time // etcd promised the lease lives at least until then
}

var _ guard.Leadership = (*Term)(nil)

// Done returns a channel closed when the leadership ends.
func (t *Term) Done() <-chan struct{} { return t.done }

// Err returns nil while the term lasts, then why it ended: ErrResigned,
// ErrSessionExpired or ErrKeyDeleted, each matching guard.ErrNotLeader.
func (t *Term) Err() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.err
}

// Rev returns the term's number: the create revision of its key in etcd,
// which grows with every term of the election.
func (t *Term) Rev() int64 { return t.rev }

// Key returns the term's key in etcd.
func (t *Term) Key() string { return t.key }

// Won returns when the campaign was won.
func (t *Term) Won() time.Time { return t.won }

// TTL returns the session's TTL as etcd granted it.
func (t *Term) TTL() time.Duration { return t.ttl }

// Until returns the time, on this process's clock, until which etcd last
// promised the term's lease will live.
func (t *Term) Until() time.Time {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.until
}

// fence is how long etcd must still promise the lease for Check to let a
// write go: the time a request may take to reach PD after the check.
func (t *Term) fence() time.Duration { return t.ttl / 6 }

// Check confirms with etcd, now, that this term lasts: its key is the one
// it won with and etcd promises its lease at least TTL/6 more. It is the
// guard's fence before every submission (guard.Leadership). Errors match
// guard.ErrNotLeader: the term ended (its Err; Done is closed), or etcd
// could not confirm it (also subject.ErrUnavailable; the term goes on
// until its promise runs out), or the promise is shorter than TTL/6.
//
// What it cannot fence: PD's HTTP API takes no token to compare with the
// election's revision, so a request that leaves after Check and reaches
// PD more than TTL/6 later (a stalled connection, a paused process) may
// land after another replica took over.
func (t *Term) Check(ctx context.Context) error {
	if err := t.Err(); err != nil {
		return err
	}
	until, err := t.verify(ctx)
	if err != nil {
		return err
	}
	if left := time.Until(until); left < t.fence() {
		return fmt.Errorf("election: etcd promises the lease %v more, less than the %v a write needs: %w",
			left.Round(time.Millisecond), t.fence(), guard.ErrNotLeader)
	}
	return nil
}

// Resign ends the term: Done closes first, so that a guard refuses from
// then on, and the key is then deleted, so that the next candidate wins
// at once. A term that ended already returns nil. An error says etcd was
// not reached (subject.ErrUnavailable): the key goes with the session's
// lease, within the TTL, or at Election.Close.
func (t *Term) Resign(ctx context.Context) error {
	if !t.end(ErrResigned) {
		return nil
	}
	rctx, cancel := context.WithTimeout(ctx, t.e.cfg.Timeout)
	defer cancel()
	if err := t.el.Resign(rctx); err != nil {
		return t.e.failed(ctx, "resigning", err)
	}
	t.e.log.Info("election: resigned", "identity", t.e.cfg.Identity, "rev", t.rev)
	return nil
}

// end ends the term for why, once; it reports whether this call did.
func (t *Term) end(why error) bool {
	ended := false
	t.once.Do(func() {
		t.mu.Lock()
		t.err = why
		t.mu.Unlock()
		close(t.done)
		ended = true
		if !errors.Is(why, ErrResigned) {
			// The session may be alive but is not to be trusted: the
			// next campaign opens a new one (run drops this one).
			t.e.mu.Lock()
			if t.e.session == t.session {
				t.e.session = nil
			}
			t.e.mu.Unlock()
			t.e.log.Info("election: lost", "identity", t.e.cfg.Identity, "rev", t.rev, "why", why.Error())
		}
	})
	return ended
}

// confirm is the first verification, before the term is handed out.
func (t *Term) confirm(ctx context.Context) error {
	_, err := t.verify(ctx)
	return err
}

// verify reads, from etcd, that the term's key is still its own and how
// long its lease will live, and extends the term's promise. A key or
// lease found gone ends the term.
func (t *Term) verify(ctx context.Context) (time.Time, error) {
	rctx, cancel := context.WithTimeout(ctx, t.e.cfg.Timeout)
	defer cancel()
	// Read before asking: etcd computed the time left after this, so
	// sent+left is a lower bound of the lease's end.
	sent := time.Now()
	var kv *clientv3.GetResponse
	var ttl *clientv3.LeaseTimeToLiveResponse
	g, gctx := errgroup.WithContext(rctx)
	g.Go(func() (err error) { kv, err = t.e.client.Get(gctx, t.key); return err })
	g.Go(func() (err error) { ttl, err = t.e.client.TimeToLive(gctx, t.lease); return err })
	err := g.Wait()
	switch {
	case errors.Is(err, rpctypes.ErrLeaseNotFound) || err == nil && ttl.TTL <= 0:
		t.end(ErrSessionExpired)
		return time.Time{}, t.Err()
	case err != nil:
		return time.Time{}, fmt.Errorf("election: confirming the term: %w: %w", guard.ErrNotLeader, t.e.failed(ctx, "reading the key and lease", err))
	case len(kv.Kvs) == 0 || kv.Kvs[0].CreateRevision != t.rev || clientv3.LeaseID(kv.Kvs[0].Lease) != t.lease:
		t.end(ErrKeyDeleted)
		return time.Time{}, t.Err()
	}
	until := sent.Add(time.Duration(ttl.TTL) * time.Second)
	t.mu.Lock()
	if until.After(t.until) {
		t.until = until
	}
	until = t.until
	t.mu.Unlock()
	return until, nil
}

// run watches the term until it ends, and then, unless it was resigned,
// gives up the session: a candidate that lost campaigns again with a new
// lease.
func (t *Term) run() {
	e := t.e
	defer e.wg.Done()
	wctx, cancel := context.WithCancel(e.life)
	defer cancel()
	watch := e.client.Watch(wctx, t.key, clientv3.WithRev(t.rev+1))
	refresh := time.NewTicker(t.ttl / 6)
	defer refresh.Stop()
	deadline := time.NewTimer(time.Until(t.Until()) - doneMargin)
	defer deadline.Stop()
loop:
	for {
		select {
		case <-t.done:
			break loop
		case <-e.life.Done():
			t.end(ErrResigned)
			break loop
		case <-t.session.Done():
			t.end(fmt.Errorf("%w: its keep-alive stopped", ErrSessionExpired))
			break loop
		case wr, ok := <-watch:
			if !ok || wr.Canceled {
				// Compacted or cut: the refresh sees a deletion too.
				watch = nil
				continue
			}
			for _, ev := range wr.Events {
				if ev.Type == mvccpb.DELETE {
					t.end(ErrKeyDeleted)
					break loop
				}
			}
		case <-deadline.C:
			if left := time.Until(t.Until()) - doneMargin; left > 0 {
				deadline.Reset(left)
				continue
			}
			t.end(fmt.Errorf("%w: etcd has not confirmed the lease since %s", ErrSessionExpired, t.Until().Add(-t.ttl).Format(time.RFC3339Nano)))
			break loop
		case <-refresh.C:
			// Bounded by the promise: past it the term ends anyway.
			ctx, stop := context.WithDeadline(wctx, t.Until().Add(-doneMargin))
			_, err := t.verify(ctx)
			stop()
			if t.Err() != nil {
				break loop
			}
			if err != nil {
				e.log.Warn("election: confirming the term", "rev", t.rev, "error", err)
			}
		}
	}
	if !errors.Is(t.Err(), ErrResigned) {
		e.dropSession(t.session)
	}
}
