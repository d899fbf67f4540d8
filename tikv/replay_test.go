package tikv_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/kvops/operator/internal/pdfixture"
	"github.com/kvops/operator/pdclient"
	"github.com/kvops/operator/subject"
	"github.com/kvops/operator/tikv"
)

// replayPD answers with recorded exchanges, by method and path: names are
// files of testdata/pd-operators, or of another folder of testdata when
// they name it ("pd-maintenance/schedulers-default"). Any other request
// fails the test, so a test that passes sent nothing else.
func replayPD(t *testing.T, names ...string) *tikv.Subject {
	t.Helper()
	routes := map[string]pdfixture.Exchange{}
	for _, n := range names {
		if !strings.Contains(n, "/") {
			n = "pd-operators/" + n
		}
		ex, err := pdfixture.Read(filepath.Join("testdata", n+".json"))
		require.NoError(t, err)
		routes[ex.Request.Method+" "+ex.Request.Path] = ex
	}
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		ex, ok := routes[r.Method+" "+r.URL.Path]
		mu.Unlock()
		if !ok {
			if strings.HasSuffix(r.URL.Path, "/members") {
				http.NotFound(w, r) // no discovery: the one endpoint is all
				return
			}
			t.Errorf("unrecorded request %s %s", r.Method, r.URL.Path)
			http.Error(w, "not recorded", http.StatusTeapot)
			return
		}
		body, err := ex.ResponseBody()
		require.NoError(t, err)
		w.Header().Set("Content-Type", ex.Response.ContentType)
		w.WriteHeader(ex.Response.Status)
		_, _ = w.Write(body)
	}))
	t.Cleanup(srv.Close)
	sub, err := tikv.New(tikv.Config{PD: pdclient.Config{Endpoints: []string{srv.URL}}, DisableMetrics: true})
	require.NoError(t, err)
	return sub
}

// TestRecordedPendingSplitRefusesTheNext: the real PD showed a split left
// RUNNING on region 9; the next operator there is refused before it is
// sent, in a dry run too, as PD would refuse it (ErrAddOperator).
func TestRecordedPendingSplitRefusesTheNext(t *testing.T) {
	sub := replayPD(t, "region-after-split-timeout", "operator-status-running")
	for _, ctx := range []struct {
		name string
		ctx  context.Context
	}{{"dry run", subject.WithDryRun(t.Context())}, {"real", t.Context()}} {
		_, err := sub.SplitRegion(ctx.ctx, 9)
		requireOutcome(t, err, subject.PhaseRefused)
		require.ErrorIs(t, err, subject.ErrPrecondition, ctx.name)
		// The message names the region (the library's documented
		// promise: RELIABILITY.md); PD's description of its operator,
		// which the message quotes, is PD's wording and not checked.
		require.Regexp(t, `\bregion 9\b`, err.Error())
	}
}

// pdDefaults are the recorded answers of a PD running its default
// schedulers only (PD's own evict-slow-store and evict-stopping-store
// among them, evicting nothing) and not halted.
var pdDefaults = []string{"pd-maintenance/schedulers-default", "pd-maintenance/scheduler-evict-slow-config",
	"pd-maintenance/scheduler-evict-stopping-config", "pd-maintenance/config-schedule"}

// TestRecordedRestoreOfANeverEvictedStore: with no evict-leader scheduler
// (not among the recorded schedulers; its list a recorded plain-text 404),
// restoring says there is nothing to do, in a dry run as in the real call,
// and sends no DELETE.
func TestRecordedRestoreOfANeverEvictedStore(t *testing.T) {
	sub := replayPD(t, append(pdDefaults, "store-2-after-restore", "evict-leader-list-after-restore")...)
	dry, err := sub.RestoreLeaders(subject.WithDryRun(t.Context()), 2)
	require.NoError(t, err)
	real, err := sub.RestoreLeaders(t.Context(), 2)
	require.NoError(t, err)
	require.Equal(t, "store 2's leaders were not evicted; nothing to do", dry.Summary)
	require.Equal(t, dry.Summary, real.Summary)
}

// TestRecordedEvictDryRun: the dry run of an eviction on the recorded
// cluster counts the store's leaders and the stores left to lead.
func TestRecordedEvictDryRun(t *testing.T) {
	sub := replayPD(t, append(pdDefaults, "store-2-after-restore", "evict-leader-list-after-restore", "stores-evicting-2-after-1s")...)
	res, err := sub.EvictLeaders(subject.WithDryRun(t.Context()), 2)
	require.NoError(t, err)
	require.Equal(t, "would evict the 216 leaders of store 2 and keep new ones off it", res.Summary)
}
