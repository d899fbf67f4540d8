package election

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"
	"go.uber.org/zap"
	"google.golang.org/grpc/codes"

	"github.com/kvops/operator/subject"
	"github.com/kvops/operator/subject/guard"
)

// Errors of this package; match them with errors.Is. Those that end a
// [Term] match guard.ErrNotLeader, and so subject.ErrNotApproved: a guard
// whose Leadership is the Term refuses with them.
var (
	// ErrNoLeader: nobody leads the election now (subject.ErrNotFound).
	ErrNoLeader = fmt.Errorf("election: no leader: %w", subject.ErrNotFound)
	// ErrClosed: the Election was closed (subject.ErrPrecondition).
	ErrClosed = fmt.Errorf("election: closed: %w", subject.ErrPrecondition)
	// ErrBusy: Campaign was called while a campaign or a term of the same
	// Election is under way (subject.ErrPrecondition).
	ErrBusy = fmt.Errorf("election: already campaigning or leading: %w", subject.ErrPrecondition)
	// ErrResigned: the term ended by Term.Resign or Election.Close.
	ErrResigned = fmt.Errorf("election: resigned: %w", guard.ErrNotLeader)
	// ErrSessionExpired: the session's lease ended, or etcd could not
	// confirm it for so long that it may have: another candidate may lead.
	ErrSessionExpired = fmt.Errorf("election: session expired: %w", guard.ErrNotLeader)
	// ErrKeyDeleted: the term's key in etcd was deleted or replaced (by an
	// administrator, say) while its lease lived.
	ErrKeyDeleted = fmt.Errorf("election: leader key deleted: %w", guard.ErrNotLeader)
)

// Election is one candidate's part in the election of a leader among an
// operator's replicas, on PD's etcd: a session (an etcd lease kept alive
// in the background) and campaigns on Config.Prefix, built on etcd's
// client/v3/concurrency as TiDB elects its owners. Its methods are safe
// for concurrent use; Campaign runs one at a time.
type Election struct {
	cfg    Config
	client *clientv3.Client
	life   context.Context // ends with Close
	stop   context.CancelFunc
	log    *slog.Logger
	wg     sync.WaitGroup // campaigns and terms under way

	mu          sync.Mutex
	session     *concurrency.Session
	ttl         time.Duration // granted to the current session
	term        *Term
	campaigning bool
	closed      bool
}

// New returns a candidate for cfg's election. It does no I/O: the first
// Campaign or Leader reaches etcd. A configuration that cannot work is an
// error matching subject.ErrInvalid. Call Close when done.
func New(cfg Config) (*Election, error) {
	cfg = cfg.withDefaults()
	eps, err := cfg.validate()
	if err != nil {
		return nil, err
	}
	life, stop := context.WithCancel(context.Background())
	client, err := clientv3.New(clientv3.Config{
		Endpoints:   eps,
		TLS:         cfg.TLS,
		DialTimeout: cfg.Timeout,
		Context:     life,
		Logger:      zap.NewNop(),
	})
	if err != nil {
		stop()
		return nil, fmt.Errorf("election: %w: %w", subject.ErrInvalid, err)
	}
	return &Election{cfg: cfg, client: client, life: life, stop: stop, log: cfg.Logger}, nil
}

// Identity returns the name this candidate campaigns with.
func (e *Election) Identity() string { return e.cfg.Identity }

// Prefix returns the election's key prefix.
func (e *Election) Prefix() string { return e.cfg.Prefix }

// TTL returns the session's time to live as etcd granted it, or the
// configured one before the first session.
func (e *Election) TTL() time.Duration {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.ttl > 0 {
		return e.ttl
	}
	return time.Duration(e.cfg.ttlSeconds()) * time.Second
}

// Campaign waits until this candidate leads, and returns its [Term]: a
// guard.Leadership whose Done channel closes when the leadership ends.
// Candidates win in the order they started campaigning. It first opens a
// session (a lease of Config.TTL, kept alive until Close) unless the last
// one still lives.
//
// Errors: etcd unreachable or failing (subject.ErrUnavailable: retry),
// the session lost while waiting (ErrSessionExpired and
// subject.ErrUnavailable: retry), ctx's end (its error), a campaign or
// term already under way (ErrBusy), Close (ErrClosed). On any error this
// candidate does not lead and has left the queue.
func (e *Election) Campaign(ctx context.Context) (*Term, error) {
	e.mu.Lock()
	switch {
	case e.closed:
		e.mu.Unlock()
		return nil, ErrClosed
	case e.campaigning || e.term != nil && e.term.Err() == nil:
		e.mu.Unlock()
		return nil, ErrBusy
	}
	e.campaigning = true
	e.mu.Unlock()
	defer func() {
		e.mu.Lock()
		e.campaigning = false
		e.mu.Unlock()
	}()

	s, err := e.openSession(ctx)
	if err != nil {
		return nil, err
	}
	el := concurrency.NewElection(s, e.cfg.Prefix)
	// The campaign ends with ctx, the session or Close. concurrency's
	// Campaign resigns by itself when its context ends, and may block
	// doing so while etcd is unreachable: the caller does not wait for
	// that, Close does.
	cctx, cancel := context.WithCancel(e.life)
	stopCtx := context.AfterFunc(ctx, cancel)
	stopSession := context.AfterFunc(s.Ctx(), cancel)
	won := make(chan error, 1)
	var handoff sync.Mutex // orders the campaign's end against the caller giving up
	abandoned := false
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		err := el.Campaign(cctx, e.cfg.Identity)
		stopCtx()
		stopSession()
		cancel()
		handoff.Lock()
		defer handoff.Unlock()
		if abandoned {
			if err == nil {
				// Won as the caller gave up: give it back.
				_ = e.resign(el)
			}
			return
		}
		won <- err
	}()
	select {
	case err = <-won:
	case <-ctx.Done():
		handoff.Lock()
		select {
		case err = <-won:
			if err == nil {
				_ = e.resign(el)
			}
		default:
			abandoned = true
		}
		handoff.Unlock()
		return nil, fmt.Errorf("election: campaign: %w", context.Cause(ctx))
	}
	if err != nil {
		select {
		case <-s.Done():
			return nil, fmt.Errorf("election: campaign: %w: %w: %w", ErrSessionExpired, subject.ErrUnavailable, err)
		default:
		}
		return nil, e.failed(ctx, "campaign", err)
	}
	t := &Term{e: e, session: s, el: el, key: el.Key(), rev: el.Rev(), lease: s.Lease(), ttl: e.TTL(),
		won: time.Now(), done: make(chan struct{})}
	if err := t.confirm(ctx); err != nil {
		e.resign(el)
		return nil, err
	}
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		e.resign(el)
		return nil, ErrClosed
	}
	e.term = t
	e.wg.Add(1)
	e.mu.Unlock()
	go t.run()
	e.log.Info("election: won", "identity", e.cfg.Identity, "key", t.key, "rev", t.rev, "ttl", t.ttl)
	return t, nil
}

// openSession returns the current session, or a new one when it ended.
func (e *Election) openSession(ctx context.Context) (*concurrency.Session, error) {
	e.mu.Lock()
	s := e.session
	e.mu.Unlock()
	if s != nil {
		select {
		case <-s.Done():
		default:
			return s, nil
		}
	}
	gctx, cancel := context.WithTimeout(ctx, e.cfg.Timeout)
	resp, err := e.client.Grant(gctx, e.cfg.ttlSeconds())
	cancel()
	if err != nil {
		return nil, e.failed(ctx, "granting the session's lease", err)
	}
	// The session keeps the lease alive until Close; Grant was bounded
	// above, so NewSession, given the lease, does no blocking I/O.
	s, err = concurrency.NewSession(e.client, concurrency.WithLease(resp.ID),
		concurrency.WithTTL(int(resp.TTL)), concurrency.WithContext(e.life))
	if err != nil {
		return nil, e.failed(ctx, "keeping the session alive", err)
	}
	e.mu.Lock()
	e.session, e.ttl = s, time.Duration(resp.TTL)*time.Second
	e.mu.Unlock()
	return s, nil
}

// dropSession stops keeping s alive and revokes its lease, so that a
// candidate that lost its term campaigns again with a new one, and the
// others need not wait for the old one to expire.
func (e *Election) dropSession(s *concurrency.Session) {
	s.Orphan()
	ctx, cancel := context.WithTimeout(e.life, e.cfg.Timeout)
	defer cancel()
	if _, err := e.client.Revoke(ctx, s.Lease()); err != nil && e.life.Err() == nil {
		e.log.Warn("election: revoking the lost session's lease", "lease", int64(s.Lease()), "error", err)
	}
}

// resign gives up el's key, bounded by the configured timeout: the key
// goes with the lease anyway.
func (e *Election) resign(el *concurrency.Election) error {
	ctx, cancel := context.WithTimeout(e.life, e.cfg.Timeout)
	defer cancel()
	return el.Resign(ctx)
}

// Leader is who leads an election.
type Leader struct {
	// Identity is the leader's Config.Identity.
	Identity string
	// Key is its key in etcd, and Lease the lease it lives by.
	Key   string
	Lease int64
	// Rev is the key's create revision: it grows with every new term.
	Rev int64
}

// Leader reads who leads the election now, with a linearizable read.
// Errors: nobody leads (ErrNoLeader, matching subject.ErrNotFound), etcd
// unreachable (subject.ErrUnavailable), ctx's end.
func (e *Election) Leader(ctx context.Context) (Leader, error) {
	rctx, cancel := context.WithTimeout(ctx, e.cfg.Timeout)
	defer cancel()
	resp, err := e.client.Get(rctx, e.cfg.Prefix+"/", clientv3.WithFirstCreate()...)
	if err != nil {
		return Leader{}, e.failed(ctx, "reading the leader", err)
	}
	if len(resp.Kvs) == 0 {
		return Leader{}, ErrNoLeader
	}
	kv := resp.Kvs[0]
	return Leader{Identity: string(kv.Value), Key: string(kv.Key), Lease: kv.Lease, Rev: kv.CreateRevision}, nil
}

// Candidates reads every candidate of the election, the leader first and
// then in the order they will lead, with a linearizable read. Errors: etcd
// unreachable (subject.ErrUnavailable), ctx's end.
func (e *Election) Candidates(ctx context.Context) ([]Leader, error) {
	rctx, cancel := context.WithTimeout(ctx, e.cfg.Timeout)
	defer cancel()
	resp, err := e.client.Get(rctx, e.cfg.Prefix+"/", clientv3.WithPrefix(),
		clientv3.WithSort(clientv3.SortByCreateRevision, clientv3.SortAscend))
	if err != nil {
		return nil, e.failed(ctx, "reading the candidates", err)
	}
	out := make([]Leader, 0, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		out = append(out, Leader{Identity: string(kv.Value), Key: string(kv.Key), Lease: kv.Lease, Rev: kv.CreateRevision})
	}
	return out, nil
}

// Close ends this candidate's part: it resigns the term it holds (its
// Done closes first, so a guard stops at once), revokes the session's
// lease so another candidate can win without waiting for it to expire,
// and closes the connection to etcd. Call it on shutdown. An error says
// the resignation or the revocation did not reach etcd: the key then
// goes when the lease expires, within the TTL. Calling it again does
// nothing.
func (e *Election) Close(ctx context.Context) error {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return nil
	}
	e.closed = true
	t, s := e.term, e.session
	e.mu.Unlock()
	var errs []error
	if t != nil {
		errs = append(errs, t.Resign(ctx))
	}
	if s != nil {
		s.Orphan()
		rctx, cancel := context.WithTimeout(ctx, e.cfg.Timeout)
		if _, err := e.client.Revoke(rctx, s.Lease()); err != nil && !errors.Is(err, rpctypes.ErrLeaseNotFound) {
			errs = append(errs, e.failed(ctx, "revoking the session's lease", err))
		}
		cancel()
	}
	e.stop()
	e.wg.Wait()
	if err := e.client.Close(); err != nil && !errors.Is(err, context.Canceled) {
		errs = append(errs, fmt.Errorf("election: closing the etcd client: %w", err))
	}
	return errors.Join(errs...)
}

// failed turns an etcd client's error into this package's: ctx's end as
// it is, a refusal for lack of rights as subject.ErrPrecondition, any
// other as subject.ErrUnavailable.
func (e *Election) failed(ctx context.Context, what string, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("election: %s: %w", what, context.Cause(ctx))
	}
	if e.life.Err() != nil {
		return fmt.Errorf("election: %s: %w", what, ErrClosed)
	}
	var coded interface{ Code() codes.Code }
	if errors.As(err, &coded) && (coded.Code() == codes.PermissionDenied || coded.Code() == codes.Unauthenticated) {
		return fmt.Errorf("election: %s: etcd refused: %w: %w", what, subject.ErrPrecondition, err)
	}
	return fmt.Errorf("election: %s: %w: %w", what, subject.ErrUnavailable, err)
}
