package election_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kvops/operator/subject"
	"github.com/kvops/operator/subject/guard"
	"github.com/kvops/operator/tikv/election"
)

// refusedNotLeader checks that err is the guard's refusal for want of
// leadership.
func refusedNotLeader(t *testing.T, err error) {
	t.Helper()
	var ae *subject.ActionError
	require.ErrorAs(t, err, &ae)
	require.Equal(t, subject.PhaseRefused, ae.Phase)
	require.ErrorIs(t, err, guard.ErrNotLeader)
	require.ErrorIs(t, err, subject.ErrNotApproved)
}

func TestCampaignWinsAndResigns(t *testing.T) {
	c := pd.Get(t)
	ctx := t.Context()
	a := candidate(t, c.Endpoints(), "a", testTTL)
	_, err := a.Leader(ctx)
	require.ErrorIs(t, err, election.ErrNoLeader)
	require.ErrorIs(t, err, subject.ErrNotFound)

	m := newMonitor(t)
	term := await(t, campaign(ctx, a))
	m.won(a, term)
	t.Logf("TTL asked %v, granted %v", testTTL, a.TTL())
	require.GreaterOrEqual(t, a.TTL(), testTTL)
	require.NoError(t, term.Check(ctx))
	require.Greater(t, time.Until(term.Until()), a.TTL()/2, "etcd's promise right after winning")
	_, err = a.Campaign(ctx)
	require.ErrorIs(t, err, election.ErrBusy)

	g := newGuard(t, term)
	_, err = g.SetScheduleLimit(ctx, subject.LeaderLimit, 8)
	require.NoError(t, err, "the leader acts")

	require.NoError(t, term.Resign(ctx))
	select {
	case <-term.Done():
	default:
		t.Fatal("Done is open after Resign")
	}
	require.ErrorIs(t, term.Err(), election.ErrResigned)
	require.ErrorIs(t, term.Check(ctx), guard.ErrNotLeader)
	_, err = g.SetScheduleLimit(ctx, subject.LeaderLimit, 4)
	refusedNotLeader(t, err)
	_, err = a.Leader(ctx)
	require.ErrorIs(t, err, election.ErrNoLeader)

	// The same candidate campaigns again, for a new term.
	again := await(t, campaign(ctx, a))
	m.won(a, again)
	require.Greater(t, again.Rev(), term.Rev())
}

func TestSecondTakesOverAfterResign(t *testing.T) {
	c := pd.Get(t)
	ctx := t.Context()
	q := leaderAndFollower(t, c.Endpoints(), c.Endpoints(), testTTL)
	b, m, ta, bc := q.b, q.m, q.ta, q.bc
	select {
	case w := <-bc:
		t.Fatalf("b's campaign ended while a leads: %v", w.err)
	default:
	}
	cs, err := b.Candidates(ctx)
	require.NoError(t, err)
	require.Equal(t, []string{"a", "b"}, []string{cs[0].Identity, cs[1].Identity})

	require.NoError(t, ta.Resign(ctx))
	tb := await(t, bc)
	m.won(b, tb)
	require.Greater(t, tb.Rev(), ta.Rev())
	require.ErrorIs(t, ta.Check(ctx), guard.ErrNotLeader)
	require.NoError(t, tb.Check(ctx))
}

func TestCampaignCancelled(t *testing.T) {
	c := pd.Get(t)
	a := candidate(t, c.Endpoints(), "a", testTTL)
	b := candidate(t, c.Endpoints(), "b", testTTL)
	ta := await(t, campaign(t.Context(), a))
	ctx, cancel := context.WithCancel(t.Context())
	bc := campaign(ctx, b)
	queued(t, a, 2)
	cancel()
	select {
	case w := <-bc:
		require.ErrorIs(t, w.err, context.Canceled)
	case <-time.After(wait):
		t.Fatal("a cancelled campaign did not return")
	}
	// b left the queue: a alone is listed once etcd has the deletion.
	queued(t, a, 1)
	require.NoError(t, ta.Check(t.Context()))
}

func TestKilledLeaderReplacedWithinTTL(t *testing.T) {
	c := pd.Get(t)
	q := leaderAndFollower(t, c.Endpoints(), c.Endpoints(), testTTL)
	a, b, m, ta, bc := q.a, q.b, q.m, q.ta, q.bc

	promised := ta.Until()
	killed := time.Now()
	election.Die(a)
	tb := await(t, bc)
	took := tb.Won().Sub(killed)
	t.Logf("failover %v after the kill, TTL %v; a's last promise ended %v after the kill",
		took.Round(time.Millisecond), b.TTL(), promised.Sub(killed).Round(time.Millisecond))
	m.won(b, tb)
	// Etcd kept the promise it made to a, and b won within the TTL of the
	// kill, give or take etcd's expiry loop (every 500 ms) and the watch.
	require.True(t, tb.Won().After(promised), "b won before a's lease was promised to end")
	require.Less(t, took, a.TTL()+2*time.Second)
}

func TestCheckUnreachable(t *testing.T) {
	c := pd.Get(t)
	p := newProxy(t, c.EtcdEndpoints()[0])
	e := candidate(t, []string{p.URL()}, "a", testTTL)
	p.Cut()
	_, err := e.Campaign(t.Context())
	require.ErrorIs(t, err, subject.ErrUnavailable)
	_, err = e.Leader(t.Context())
	require.ErrorIs(t, err, subject.ErrUnavailable)
	require.False(t, errors.Is(err, election.ErrNoLeader))
}
