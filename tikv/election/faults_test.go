package election_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kvops/operator/internal/realpd"
	"github.com/kvops/operator/subject"
	"github.com/kvops/operator/tikv/election"
)

// TestPartitionFromPD cuts the leader off from PD: the guard refuses at
// once (etcd cannot confirm the term), the term ends before etcd can let
// another candidate win, the guard then refuses with the term's end, and
// the other candidate wins once the lease expired.
func TestPartitionFromPD(t *testing.T) {
	c := pd.Get(t)
	ctx := t.Context()
	p := newProxy(t, c.EtcdEndpoints()[0])
	q := leaderAndFollower(t, []string{p.URL()}, c.Endpoints(), testTTL)
	a, b, m, ta, bc := q.a, q.b, q.m, q.ta, q.bc
	g := newGuard(t, ta)
	_, err := g.SetScheduleLimit(ctx, subject.LeaderLimit, 8)
	require.NoError(t, err, "the leader acts before the partition")

	cut := time.Now()
	p.Cut()
	refused := 0
	_, err = g.SetScheduleLimit(ctx, subject.LeaderLimit, 6)
	refusedNotLeader(t, err)
	require.ErrorIs(t, err, subject.ErrUnavailable, "etcd cannot confirm the term")
	refused++

	select {
	case <-ta.Done():
	case <-time.After(wait):
		t.Fatal("the partitioned leader's term did not end")
	}
	ended := time.Now()
	require.ErrorIs(t, ta.Err(), election.ErrSessionExpired)
	_, err = g.SetScheduleLimit(ctx, subject.LeaderLimit, 4)
	refusedNotLeader(t, err)
	require.ErrorIs(t, err, election.ErrSessionExpired)
	refused++

	tb := await(t, bc)
	m.won(b, tb)
	t.Logf("partition: a's term ended %v after the cut, b won %v after it (TTL %v); the guard refused %d actions",
		ended.Sub(cut).Round(time.Millisecond), tb.Won().Sub(cut).Round(time.Millisecond), a.TTL(), refused)
	require.Less(t, ended.Sub(cut), a.TTL(), "a stops within one TTL")
	require.True(t, ended.Before(tb.Won()), "a's term ended before b won")
	require.True(t, tb.Won().After(ta.Until()), "b won before a's lease was promised to end")
	require.Less(t, tb.Won().Sub(cut), a.TTL()+2*time.Second)
}

// TestPDLeaderChangeDuringCampaign kills PD's leader while one candidate
// leads and another campaigns: there is never more than one leader, and
// the waiting candidate still takes over once the leader resigns.
func TestPDLeaderChangeDuringCampaign(t *testing.T) {
	c := realpd.Start(t, realpd.Config{Members: 3, NoSimulator: true})
	ctx := t.Context()
	// The default TTL: a PD leader change must not depose the leader.
	q := leaderAndFollower(t, c.Endpoints(), c.Endpoints(), election.DefaultTTL)
	b, m, ta, bc := q.b, q.m, q.ta, q.bc

	old, err := c.Leader(ctx)
	require.NoError(t, err)
	require.NoError(t, old.Kill())
	wctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	now, err := c.WaitLeaderOtherThan(wctx, old)
	require.NoError(t, err)
	t.Logf("PD leader %s killed, %s leads", old.Name(), now.Name())

	// Whatever PD went through, either a still leads and b waits, or a's
	// term ended and b took over; m fails the test on two at once.
	var tb *election.Term
	require.NoError(t, checkSoon(ctx, ta))
	select {
	case <-ta.Done():
		t.Logf("the PD leader change ended a's term: %v", ta.Err())
		tb = await(t, bc)
	case w := <-bc:
		t.Fatalf("b's campaign ended while a leads: %v, %v", w.term, w.err)
	default:
		t.Logf("a still leads after the PD leader change")
		require.NoError(t, ta.Resign(ctx))
		tb = await(t, bc)
	}
	m.won(b, tb)
	require.NoError(t, tb.Check(ctx))
}

// checkSoon confirms term with etcd, retrying for a while as PD's members
// settle after a leader change; a term that ended is fine too.
func checkSoon(ctx context.Context, term *election.Term) error {
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	for {
		err := term.Check(ctx)
		if err == nil || term.Err() != nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(200 * time.Millisecond):
		}
	}
}
