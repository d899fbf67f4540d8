package tikv_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/stretchr/testify/require"

	"github.com/kvops/operator/pdclient"
	"github.com/kvops/operator/subject"
	"github.com/kvops/operator/tikv"
	"github.com/kvops/operator/tikv/tikvtest"
)

// loggedCluster is a simulated cluster (as newCluster's) that writes its
// logs to dir, and a Subject over it with the log source given.
type loggedCluster struct {
	cluster
	dir string
}

func newLoggedCluster(t *testing.T) *loggedCluster {
	t.Helper()
	dir := t.TempDir()
	cl, err := tikvtest.NewUnstartedCluster(tikvtest.Config{Stores: 5, Regions: 60, Clock: &fixedClock{t: start}, Seed: 1, LogDir: dir})
	require.NoError(t, err)
	require.NoError(t, cl.Start(t.Context()))
	t.Cleanup(func() { _ = cl.Close() })
	cl.Advance(time.Second)
	c := &loggedCluster{cluster: cluster{sim: cl}, dir: dir}
	c.sub = c.subject(t, tikv.NewFileLogSource(c.pdLog()))
	return c
}

func (c *loggedCluster) pdLog() string { return filepath.Join(c.dir, "pd.log") }

func (c *loggedCluster) storeLog(id subject.StoreID) string {
	return filepath.Join(c.dir, fmt.Sprintf("tikv-%d.log", id))
}

// subject returns a Subject over the cluster reading logs from src (none
// when nil), whose actions advance the simulation while they wait.
func (c *loggedCluster) subject(t *testing.T, src tikv.LogSource) *tikv.Subject {
	t.Helper()
	sub, err := tikv.New(tikv.Config{
		PD:             pdclient.Config{Endpoints: []string{c.sim.PDURL()}},
		DisableMetrics: true,
		Logs:           src,
		Clock:          c.sim.Now,
		Actions:        tikv.ActionConfig{PollInterval: time.Second},
		Sleep: func(ctx context.Context, d time.Duration) error {
			c.sim.Advance(d)
			return ctx.Err()
		},
	})
	require.NoError(t, err)
	return sub
}

// transfer moves the leader of the n-th region (in key order) to another
// voter through the Subject and returns the move.
func transfer(t *testing.T, c *cluster, n int) (region uint64, from, to subject.StoreID, peer uint64) {
	t.Helper()
	i := 0
	for r, err := range c.sub.PD().AllRegions(t.Context()) {
		require.NoError(t, err)
		if i++; i <= n {
			continue
		}
		from, to = subject.StoreID(r.Leader.StoreID), otherVoter(t, &r)
		p, ok := peerOn(&r, to)
		require.True(t, ok)
		_, err := c.sub.TransferLeader(t.Context(), subject.RegionID(r.ID), to)
		require.NoError(t, err)
		return r.ID, from, to, p.ID
	}
	t.Fatalf("fewer than %d regions", n+1)
	return
}

// TestLeadershipChangesFromPDLog moves leaders through the Subject and
// reads them back through the Subject from PD's log file.
func TestLeadershipChangesFromPDLog(t *testing.T) {
	c := newLoggedCluster(t)
	pdLog := c.pdLog()
	before := c.sim.Now()
	got, err := c.sub.LeadershipChanges(t.Context(), before)
	require.NoError(t, err)
	require.Empty(t, got, "no leader moved yet")

	var want []subject.LeadershipChange
	for n := range 3 {
		c.sim.Advance(time.Second)
		at := c.sim.Now()
		region, from, to, _ := transfer(t, &c.cluster, n)
		require.NotEqual(t, from, to)
		want = append(want, subject.LeadershipChange{At: at, Region: subject.RegionID(region), From: from, To: to, Source: pdLog})
	}
	got, err = c.sub.LeadershipChanges(t.Context(), before)
	require.NoError(t, err)
	// The operator completes on the simulation's next tick: the line is
	// stamped then, within the action's polling.
	if diff := cmp.Diff(want, got, cmpopts.EquateApproxTime(2*time.Second)); diff != "" {
		t.Errorf("changes (-want +got):\n%s", diff)
	}
	// since is inclusive and filters: from the last change on, one.
	last, err := c.sub.LeadershipChanges(t.Context(), got[2].At)
	require.NoError(t, err)
	if diff := cmp.Diff(got[2:], last); diff != "" {
		t.Errorf("since the last change (-want +got):\n%s", diff)
	}
}

// TestLeadershipChangesFromStoreLog reads the raft role changes of one
// store's log: the store that took the leadership says "became leader at
// term N", the one that gave it up "became follower".
func TestLeadershipChangesFromStoreLog(t *testing.T) {
	c := newLoggedCluster(t)
	before := c.sim.Now()
	region, from, to, peer := transfer(t, &c.cluster, 0)

	got, err := c.subject(t, tikv.NewFileLogSource(c.storeLog(to))).LeadershipChanges(t.Context(), before)
	require.NoError(t, err)
	require.Len(t, got, 1, "the new leader's store: %v", got)
	g := got[0]
	if g.Region != subject.RegionID(region) || g.Role != "leader" || g.Peer != peer || g.Term < 2 ||
		g.Source != c.storeLog(to) || g.At.Before(before) || g.From != 0 || g.To != 0 {
		t.Errorf("on store %d: %+v, want region %d peer %d became leader", to, g, region, peer)
	}

	got, err = c.subject(t, tikv.NewFileLogSource(c.storeLog(from))).LeadershipChanges(t.Context(), before)
	require.NoError(t, err)
	require.Len(t, got, 1, "the old leader's store: %v", got)
	if got[0].Region != subject.RegionID(region) || got[0].Role != "follower" || got[0].Term != g.Term || !got[0].At.Equal(g.At) {
		t.Errorf("on store %d: %+v, want region %d became follower at term %d", from, got[0], region, g.Term)
	}
}

// TestLeadershipChangesWithoutLogs: a Subject without a log source says
// it cannot, with an error matching subject.ErrNotSupported.
func TestLeadershipChangesWithoutLogs(t *testing.T) {
	c := newLoggedCluster(t)
	got, err := c.subject(t, nil).LeadershipChanges(t.Context(), start)
	if !errors.Is(err, subject.ErrNotSupported) || got != nil {
		t.Errorf("got %v, %v; want ErrNotSupported", got, err)
	}
}
