package tikv_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/kvops/operator/pdclient"
	"github.com/kvops/operator/subject"
	"github.com/kvops/operator/tikv"
	"github.com/kvops/operator/tikv/tikvtest"
)

var errCrashed = errors.New("the process crashed")

// crashTransport stands for a process that dies at its n-th request to
// PD: the request reaches PD first when sent is true (its answer is lost),
// not at all otherwise. From then on nothing is sent, and the process's
// context is cancelled.
type crashTransport struct {
	base   http.RoundTripper
	at     int64 // 0: never
	sent   bool
	cancel context.CancelFunc
	n      atomic.Int64
	dead   atomic.Bool
}

func (c *crashTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if c.dead.Load() {
		return nil, errCrashed
	}
	if n := c.n.Add(1); n == c.at {
		c.dead.Store(true)
		if c.sent {
			resp, err := c.base.RoundTrip(r.WithContext(context.WithoutCancel(r.Context())))
			if err == nil {
				_ = resp.Body.Close()
			}
		}
		c.cancel()
		return nil, errCrashed
	}
	return c.base.RoundTrip(r)
}

// restartCluster is a simulated cluster with enough leaders per store for
// balance-leader's tolerance of ten not to matter, and an eviction ledger
// in a file.
type restartCluster struct {
	sim    *tikvtest.Cluster
	ledger string
	open   *tikv.FileLedger // the ledger of the latest process
}

func newRestartCluster(t *testing.T) *restartCluster {
	t.Helper()
	cl, err := tikvtest.NewUnstartedCluster(tikvtest.Config{Stores: 5, Regions: 500, Clock: &fixedClock{t: start}, Seed: 1})
	require.NoError(t, err)
	require.NoError(t, cl.Start(t.Context()))
	t.Cleanup(func() { _ = cl.Close() })
	cl.Advance(time.Second)
	return &restartCluster{sim: cl, ledger: filepath.Join(t.TempDir(), "evictions.json")}
}

// process is one run of a program using the library: a Subject of its
// own over the cluster, sharing the ledger file, dying at its crashAt-th
// request (never when 0).
func (rc *restartCluster) process(t *testing.T, crashAt int64, sent bool) (*tikv.Subject, context.Context, *crashTransport) {
	t.Helper()
	ledger := rc.openLedger(t)
	ctx, cancel := context.WithCancel(t.Context())
	t.Cleanup(cancel)
	tr := &crashTransport{base: &http.Transport{}, at: crashAt, sent: sent, cancel: cancel}
	t.Cleanup(tr.base.(*http.Transport).CloseIdleConnections)
	pd := pdclient.Config{Endpoints: []string{rc.sim.PDURL()}, HTTPClient: &http.Client{Transport: tr},
		BackoffBase: time.Millisecond, BackoffMax: time.Millisecond}
	sub, err := tikv.New(tikv.Config{
		PD: pd, DisableMetrics: true, Clock: rc.sim.Now,
		Sleep: func(ctx context.Context, d time.Duration) error {
			if err := ctx.Err(); err != nil {
				return err
			}
			rc.sim.Advance(d)
			return ctx.Err()
		},
		Actions: tikv.ActionConfig{PollInterval: time.Second, Ledger: ledger},
	})
	require.NoError(t, err)
	return sub, ctx, tr
}

// openLedger opens the ledger for a new process: the previous one is
// gone, and its lock released, as the kernel releases a dead process's.
func (rc *restartCluster) openLedger(t *testing.T) *tikv.FileLedger {
	t.Helper()
	if rc.open != nil {
		require.NoError(t, rc.open.Close())
	}
	ledger, err := tikv.OpenFileLedger(rc.ledger, tikv.FileLedgerConfig{})
	require.NoError(t, err)
	rc.open = ledger
	t.Cleanup(func() { _ = ledger.Close() })
	return ledger
}

func (rc *restartCluster) state(t *testing.T, sub *tikv.Subject, store subject.StoreID) (leaders int, mean float64, evicted bool, ledger []subject.StoreID) {
	t.Helper()
	ctx := t.Context()
	stores, err := sub.Stores(ctx)
	require.NoError(t, err)
	sum := 0
	for _, st := range stores {
		sum += st.LeaderCount
		if st.ID == store {
			leaders = st.LeaderCount
		}
	}
	cfg, err := sub.PD().EvictLeaderConfig(ctx)
	if err == nil {
		for _, id := range cfg.Stores() {
			evicted = evicted || id == uint64(store)
		}
	} else {
		require.ErrorIs(t, err, pdclient.ErrNotFound)
	}
	ledger, err = rc.open.Stores(ctx)
	require.NoError(t, err)
	return leaders, float64(sum) / float64(len(stores)), evicted, ledger
}

func TestRestartStore(t *testing.T) {
	rc := newRestartCluster(t)
	sub, ctx, _ := rc.process(t, 0, false)
	res, err := sub.PrepareRestart(subject.WithDryRun(ctx), 2, tikv.RestartOptions{})
	require.NoError(t, err)
	require.Contains(t, res.Summary, "would evict the 100 leaders of store 2")
	res, err = sub.PrepareRestart(ctx, 2, tikv.RestartOptions{})
	require.NoError(t, err)
	require.Equal(t, "store 2 is ready to restart: evicted the leaders of store 2 (0 left)", res.Summary)
	leaders, mean, evicted, ledger := rc.state(t, sub, 2)
	require.Zero(t, leaders)
	require.True(t, evicted)
	require.Equal(t, []subject.StoreID{2}, ledger)
	require.Equal(t, 100.0, mean)

	restarted := rc.sim.Now()
	require.NoError(t, rc.sim.RestartStore(2))
	rc.sim.Advance(time.Second)
	res, err = sub.FinishRestart(ctx, 2, tikv.RestartOptions{StartedAfter: restarted.Add(-time.Second)})
	require.NoError(t, err)
	require.Contains(t, res.Summary, "store 2 is back: Up, its eviction removed, leading")
	leaders, mean, evicted, ledger = rc.state(t, sub, 2)
	require.GreaterOrEqual(t, float64(leaders), mean/2)
	require.False(t, evicted)
	require.Empty(t, ledger)
}

func TestPrepareRestartNeedsAStableCluster(t *testing.T) {
	rc := newRestartCluster(t)
	sub, ctx, _ := rc.process(t, 0, false)
	require.NoError(t, sub.CheckStable(ctx, 0))
	require.NoError(t, rc.sim.StopStore(3))
	rc.sim.Advance(25 * time.Second)
	err := sub.CheckStable(ctx, 0)
	require.ErrorIs(t, err, subject.ErrPrecondition)
	// CheckStable's error "says why", every reason found: its documented
	// promise, so the reasons' wording is checked.
	require.Contains(t, err.Error(), "store 3 is Disconnected")
	require.NoError(t, sub.CheckStable(ctx, 3), "the store acted on is not held against stability")
	_, err = sub.PrepareRestart(ctx, 2, tikv.RestartOptions{})
	requireOutcome(t, err, subject.PhaseRefused)
	require.ErrorIs(t, err, subject.ErrPrecondition)
	require.Contains(t, err.Error(), "cluster not stable: store 3 is Disconnected")
	// Down peers too, once the store is Down.
	require.NoError(t, sub.PD().SetMaxStoreDownTime(ctx, time.Minute))
	rc.sim.Advance(time.Minute)
	err = sub.CheckStable(ctx, 3)
	require.ErrorIs(t, err, subject.ErrPrecondition)
	require.Contains(t, err.Error(), "regions have a down peer")
	_, _, evicted, ledger := rc.state(t, sub, 2)
	require.False(t, evicted)
	require.Empty(t, ledger)
}

// TestRestartResumesAfterCrash crashes the process at every request that
// PrepareRestart and then FinishRestart make, before the request reaches
// PD and after PD carried it out, and checks that a new process calling
// the same again ends where an uninterrupted run ends.
func TestRestartResumesAfterCrash(t *testing.T) {
	prepared := func(t *testing.T, rc *restartCluster, sub *tikv.Subject) {
		leaders, _, evicted, ledger := rc.state(t, sub, 2)
		require.Zero(t, leaders)
		require.True(t, evicted)
		require.Equal(t, []subject.StoreID{2}, ledger)
	}
	finished := func(t *testing.T, rc *restartCluster, sub *tikv.Subject) {
		leaders, mean, evicted, ledger := rc.state(t, sub, 2)
		require.GreaterOrEqual(t, float64(leaders), mean/2)
		require.False(t, evicted)
		require.Empty(t, ledger)
	}
	prepare := func(ctx context.Context, sub *tikv.Subject) error {
		_, err := sub.PrepareRestart(ctx, 2, tikv.RestartOptions{})
		return err
	}
	finish := func(ctx context.Context, sub *tikv.Subject) error {
		_, err := sub.FinishRestart(ctx, 2, tikv.RestartOptions{})
		return err
	}
	steps := []struct {
		name  string
		setup func(t *testing.T, rc *restartCluster)
		run   func(context.Context, *tikv.Subject) error
		check func(*testing.T, *restartCluster, *tikv.Subject)
	}{
		{"prepare", func(*testing.T, *restartCluster) {}, prepare, prepared},
		{"finish", func(t *testing.T, rc *restartCluster) {
			sub, ctx, _ := rc.process(t, 0, false)
			require.NoError(t, prepare(ctx, sub))
			require.NoError(t, rc.sim.RestartStore(2))
		}, finish, finished},
	}
	for _, step := range steps {
		// How many requests an uninterrupted run makes.
		rc := newRestartCluster(t)
		step.setup(t, rc)
		sub, ctx, tr := rc.process(t, 0, false)
		require.NoError(t, step.run(ctx, sub))
		step.check(t, rc, sub)
		total := tr.n.Load()
		t.Logf("%s: %d requests uninterrupted", step.name, total)
		for at := int64(1); at <= total; at++ {
			for _, sent := range []bool{false, true} {
				t.Run(fmt.Sprintf("%s/crash at request %d, sent %v", step.name, at, sent), func(t *testing.T) {
					rc := newRestartCluster(t)
					step.setup(t, rc)
					sub, ctx, tr := rc.process(t, at, sent)
					err := step.run(ctx, sub)
					if tr.dead.Load() {
						require.Error(t, err, "the crashed run cannot have finished")
					} else {
						// The client's member discovery makes the count vary
						// by a request or two: this run finished first.
						require.NoError(t, err)
					}
					again, ctx, _ := rc.process(t, 0, false)
					require.NoError(t, step.run(ctx, again), "resuming after the crash")
					step.check(t, rc, again)
				})
			}
		}
	}
}

// TestReconcileEvictions removes the evictions this library left and only
// those.
func TestReconcileEvictions(t *testing.T) {
	rc := newRestartCluster(t)
	sub, ctx, _ := rc.process(t, 0, false)
	_, err := sub.PrepareRestart(ctx, 2, tikv.RestartOptions{})
	require.NoError(t, err)
	// Someone else evicts store 4 by hand (pd-ctl scheduler add ...).
	require.NoError(t, sub.PD().EvictLeader(ctx, 4))
	// FinishRestart leaves an eviction it did not make.
	require.NoError(t, rc.sim.RestartStore(4))
	res, err := sub.FinishRestart(ctx, 4, tikv.RestartOptions{})
	require.NoError(t, err)
	require.Equal(t, "store 4 is Up; its eviction was not made by this library and is left in place; nothing to do", res.Summary)
	require.True(t, res.NoChange)

	res, err = sub.ReconcileEvictions(subject.WithDryRun(ctx))
	require.NoError(t, err)
	require.Equal(t, "would remove the evictions of stores [2]; would leave the evictions of stores [4], not made by this library", res.Summary)
	res, err = sub.ReconcileEvictions(ctx)
	require.NoError(t, err)
	require.Equal(t, "removed the evictions of stores [2]; left the evictions of stores [4], not made by this library", res.Summary)
	cfg, err := sub.PD().EvictLeaderConfig(ctx)
	require.NoError(t, err)
	if diff := cmp.Diff([]uint64{4}, cfg.Stores()); diff != "" {
		t.Errorf("evicted stores (-want +got):\n%s", diff)
	}
	_, _, _, ledger := rc.state(t, sub, 2)
	require.Empty(t, ledger)

	plain := newCluster(t, nil)
	_, err = plain.sub.ReconcileEvictions(ctx)
	requireOutcome(t, err, subject.PhaseRefused)
	require.ErrorIs(t, err, subject.ErrInvalid)
	_, ok := plain.sub.Capabilities().Action("reconcile_evictions")
	require.False(t, ok, "listed without a ledger")
	_, ok = sub.Capabilities().Action("reconcile_evictions")
	require.True(t, ok)
}

func TestFileLedger(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "l.json")
	l, err := tikv.OpenFileLedger(path, tikv.FileLedgerConfig{})
	require.NoError(t, err)
	ids, err := l.Stores(ctx)
	require.NoError(t, err)
	require.Empty(t, ids)
	for _, id := range []subject.StoreID{3, 1, 3} {
		require.NoError(t, l.Add(ctx, id))
	}
	require.NoError(t, l.Remove(ctx, 7))
	require.NoError(t, l.Close())
	l, err = tikv.OpenFileLedger(path, tikv.FileLedgerConfig{})
	require.NoError(t, err)
	ids, err = l.Stores(ctx)
	require.NoError(t, err)
	require.Equal(t, []subject.StoreID{1, 3}, ids)
	require.NoError(t, l.Remove(ctx, 1))
	ids, err = l.Stores(ctx)
	require.NoError(t, err)
	require.Equal(t, []subject.StoreID{3}, ids)
	require.NoError(t, l.Close())
	require.NoError(t, l.Close(), "a second close does nothing")
	_, err = l.Stores(ctx)
	require.ErrorIs(t, err, os.ErrClosed)
	require.ErrorIs(t, l.Add(ctx, 4), os.ErrClosed)

	bad := filepath.Join(t.TempDir(), "bad.json")
	require.NoError(t, os.WriteFile(bad, []byte("{not json"), 0o600))
	_, err = tikv.OpenFileLedger(bad, tikv.FileLedgerConfig{})
	require.ErrorIs(t, err, subject.ErrInvalid, "a malformed ledger is refused, never read as empty")
	_, err = tikv.OpenFileLedger("", tikv.FileLedgerConfig{})
	require.ErrorIs(t, err, subject.ErrInvalid)
}
