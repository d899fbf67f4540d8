package tikv_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kvops/operator/pdclient"
	"github.com/kvops/operator/subject"
	"github.com/kvops/operator/tikv"
)

// interceptor answers the requests intercept picks instead of PD (or
// around PD: it may forward them itself), and forwards the others.
type interceptor struct {
	base      http.RoundTripper
	intercept func(base http.RoundTripper, r *http.Request) (*http.Response, error, bool)
}

func (i *interceptor) RoundTrip(r *http.Request) (*http.Response, error) {
	if resp, err, ok := i.intercept(i.base, r); ok {
		return resp, err
	}
	return i.base.RoundTrip(r)
}

// processWith is rc.process with the requests to PD going through
// intercept.
func (rc *restartCluster) processWith(t *testing.T, intercept func(http.RoundTripper, *http.Request) (*http.Response, error, bool)) *tikv.Subject {
	t.Helper()
	ledger := rc.openLedger(t)
	base := &http.Transport{}
	t.Cleanup(base.CloseIdleConnections)
	pd := pdclient.Config{Endpoints: []string{rc.sim.PDURL()}, HTTPClient: &http.Client{Transport: &interceptor{base: base, intercept: intercept}},
		BackoffBase: time.Millisecond, BackoffMax: time.Millisecond}
	sub, err := tikv.New(tikv.Config{
		PD: pd, DisableMetrics: true, Clock: rc.sim.Now,
		Sleep: func(ctx context.Context, d time.Duration) error {
			rc.sim.Advance(d)
			return ctx.Err()
		},
		Actions: tikv.ActionConfig{PollInterval: time.Second, Ledger: ledger},
	})
	require.NoError(t, err)
	return sub
}

// isEvictLeaderPost tells PD's request to add a store to the evict-leader
// scheduler.
func isEvictLeaderPost(r *http.Request) bool {
	if r.Method != http.MethodPost || !strings.HasSuffix(r.URL.Path, "/schedulers") || r.Body == nil {
		return false
	}
	b, err := r.GetBody()
	if err != nil {
		return false
	}
	body, _ := io.ReadAll(b)
	return strings.Contains(string(body), "evict-leader-scheduler")
}

// TestLedgerUndoneWhenTheEvictionIsRefused: PrepareRestart records the
// store in the ledger before it sends the eviction; when nothing reached PD
// (PD refused it, or the connection was refused) the record is undone, so
// that an eviction someone else makes afterwards is never taken for the
// library's: FinishRestart and ReconcileEvictions leave it. When the
// answer was lost (the eviction may be in place) the record is kept. Fixed
// by this work: the record stayed, and the next ReconcileEvictions removed
// the operator's hand-made eviction.
func TestLedgerUndoneWhenTheEvictionIsRefused(t *testing.T) {
	// armed is cleared once PrepareRestart returned: the hand-made
	// eviction afterwards goes through.
	var armed atomic.Bool
	refusal := func(_ http.RoundTripper, r *http.Request) (*http.Response, error, bool) {
		if !armed.Load() || !isEvictLeaderPost(r) {
			return nil, nil, false
		}
		// PD's answer to a scheduler it will not create: 400, text.
		return &http.Response{StatusCode: http.StatusBadRequest, Header: http.Header{"Content-Type": {"application/json; charset=UTF-8"}},
			Body: io.NopCloser(strings.NewReader(`"fail to create scheduler"`)), Request: r}, nil, true
	}
	dialRefused := func(_ http.RoundTripper, r *http.Request) (*http.Response, error, bool) {
		if !armed.Load() || !isEvictLeaderPost(r) {
			return nil, nil, false
		}
		return nil, &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}, true
	}
	lost := func(base http.RoundTripper, r *http.Request) (*http.Response, error, bool) {
		if !armed.Load() || !isEvictLeaderPost(r) {
			return nil, nil, false
		}
		resp, err := base.RoundTrip(r)
		if err == nil {
			_ = resp.Body.Close()
		}
		return nil, io.ErrUnexpectedEOF, true
	}
	for _, tt := range []struct {
		name       string
		intercept  func(http.RoundTripper, *http.Request) (*http.Response, error, bool)
		phase      subject.Phase
		wantLedger []subject.StoreID
	}{
		{"PD refuses the eviction", refusal, subject.PhaseRefused, nil},
		{"the connection is refused", dialRefused, subject.PhaseRefused, nil},
		{"the answer is lost: kept", lost, subject.PhaseUnconfirmed, []subject.StoreID{2}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rc := newRestartCluster(t)
			sub := rc.processWith(t, tt.intercept)
			ctx := t.Context()
			armed.Store(true)
			_, err := sub.PrepareRestart(ctx, 2, tikv.RestartOptions{EvictTimeout: time.Second})
			armed.Store(false)
			requireOutcome(t, err, tt.phase)
			_, _, evicted, ledger := rc.state(t, sub, 2)
			if len(tt.wantLedger) == 0 {
				require.Empty(t, ledger, "the record of a refused eviction is undone")
			} else {
				require.Equal(t, tt.wantLedger, ledger)
			}
			if tt.phase != subject.PhaseRefused {
				require.True(t, evicted)
				return
			}
			require.False(t, evicted)

			// Someone else evicts store 2 by hand (pd-ctl scheduler add
			// evict-leader-scheduler 2), then restarts it.
			require.NoError(t, sub.PD().EvictLeader(ctx, 2))
			require.NoError(t, rc.sim.RestartStore(2))
			res, err := sub.FinishRestart(ctx, 2, tikv.RestartOptions{})
			require.NoError(t, err)
			require.True(t, res.NoChange, res.Summary)
			res, err = sub.ReconcileEvictions(ctx)
			require.NoError(t, err)
			require.True(t, res.NoChange, res.Summary)
			require.Equal(t, "no eviction of this library is left; the evictions of stores [2], not made by this library, are left alone", res.Summary)
			_, _, evicted, _ = rc.state(t, sub, 2)
			require.True(t, evicted, "the hand-made eviction is still in place")
		})
	}
}

// TestReconcileEvictionsSummary: the summary says exactly what was done,
// and names no empty list. Fixed by this work: a run that only forgot a
// ledger entry said "removed the evictions of stores []".
func TestReconcileEvictionsSummary(t *testing.T) {
	for _, tt := range []struct {
		name     string
		ledger   []subject.StoreID // listed in the ledger
		evicted  []uint64          // evicted in PD
		goneLate uint64            // removed by someone else between the read and the removal
		dry      string
		real     string
		noChange bool
	}{
		{name: "nothing", dry: "no eviction of this library is left", real: "no eviction of this library is left", noChange: true},
		{name: "only another's", evicted: []uint64{4},
			dry:      "no eviction of this library is left; the evictions of stores [4], not made by this library, are left alone",
			real:     "no eviction of this library is left; the evictions of stores [4], not made by this library, are left alone",
			noChange: true},
		{name: "only a stale ledger entry", ledger: []subject.StoreID{3},
			dry:  "would forget stores [3] in the ledger, whose leaders PD no longer evicts",
			real: "forgot stores [3] in the ledger, whose leaders PD no longer evicts"},
		{name: "all three", ledger: []subject.StoreID{2, 3}, evicted: []uint64{2, 4},
			dry:  "would remove the evictions of stores [2]; would forget stores [3] in the ledger, whose leaders PD no longer evicts; would leave the evictions of stores [4], not made by this library",
			real: "removed the evictions of stores [2]; forgot stores [3] in the ledger, whose leaders PD no longer evicts; left the evictions of stores [4], not made by this library"},
		{name: "removed by someone else meanwhile", ledger: []subject.StoreID{2}, evicted: []uint64{2}, goneLate: 2,
			dry:  "would remove the evictions of stores [2]",
			real: "forgot stores [2] in the ledger, whose leaders PD no longer evicts"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rc := newRestartCluster(t)
			sub := rc.processWith(t, func(base http.RoundTripper, r *http.Request) (*http.Response, error, bool) {
				if tt.goneLate == 0 || r.Method != http.MethodDelete || !strings.HasSuffix(r.URL.Path, "/evict-leader-scheduler-2") {
					return nil, nil, false
				}
				// Someone else's removal goes first.
				other, err := http.NewRequestWithContext(r.Context(), http.MethodDelete, r.URL.String(), nil)
				require.NoError(t, err)
				resp, err := base.RoundTrip(other)
				require.NoError(t, err)
				_ = resp.Body.Close()
				return nil, nil, false
			})
			ctx := t.Context()
			for _, id := range tt.ledger {
				require.NoError(t, rc.open.Add(ctx, id))
			}
			for _, id := range tt.evicted {
				require.NoError(t, sub.PD().EvictLeader(ctx, id))
			}
			dry, err := sub.ReconcileEvictions(subject.WithDryRun(ctx))
			require.NoError(t, err)
			require.Equal(t, tt.dry, dry.Summary)
			res, err := sub.ReconcileEvictions(ctx)
			require.NoError(t, err)
			require.Equal(t, tt.real, res.Summary)
			require.Equal(t, tt.noChange, res.NoChange)
			ledger, err := rc.open.Stores(ctx)
			require.NoError(t, err)
			require.Empty(t, ledger, "every entry is dealt with")
		})
	}
}

// TestFileLedgerRemovesCrashLeftovers: a temporary file a crash left in the
// middle of a change is removed on open; the ledger itself is kept.
func TestFileLedgerRemovesCrashLeftovers(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "evictions.json")
	require.NoError(t, os.WriteFile(path, []byte("[2]"), 0o600))
	leftover := path + ".tmp-123456"
	require.NoError(t, os.WriteFile(leftover, []byte("[2,"), 0o600))
	l, err := tikv.OpenFileLedger(path, tikv.FileLedgerConfig{})
	require.NoError(t, err)
	defer l.Close()
	_, err = os.Stat(leftover)
	require.ErrorIs(t, err, os.ErrNotExist)
	ids, err := l.Stores(t.Context())
	require.NoError(t, err)
	require.Equal(t, []subject.StoreID{2}, ids)
}
