package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/kvops/operator/pdclient"
	"github.com/kvops/operator/subject/guard"
)

// TestOperatorKilledMidEvictionResumes: an operator process (this test
// binary, operatorMain) evicts store 3's leaders from a simpd process,
// through a guard with a file journal and tikv's file ledger. Store 3
// keeps five leaders that no scheduler moves (simpd's stuck-leaders), so
// the eviction is still waiting for them when the test kills the operator
// with SIGKILL, at its first progress line. Started again, the operator
// replays the journal: the eviction is pending, and the cluster, which
// outlived the operator, shows the scheduler there but leaders left, so it
// stays pending (unresolved), and nothing disruptive is sent. Once the
// test frees the leaders, the operator sees the eviction done, the guard
// records it confirmed, and only then does the operator restore the
// leaders. Asserted from three sides: the operator's lines, the journal's
// records, and simpd's own lines for every request that changed PD (one
// eviction scheduler ever added, removed once, after the confirmation);
// and the cluster ends as it began: no eviction, PD's maintenance lock
// free, store 3 leading again.
func TestOperatorKilledMidEvictionResumes(t *testing.T) {
	sim, ready := startSimpd(t, "-scenario", "none", "-no-prometheus", "-regions", "100")
	dir := t.TempDir()
	cfg := operatorConfig{PD: ready.PD, Journal: filepath.Join(dir, "journal.jsonl"), Ledger: filepath.Join(dir, "evictions.json"), Store: 3}
	cfgJSON, err := json.Marshal(cfg)
	require.NoError(t, err)
	env := []string{envOperator + "=" + string(cfgJSON)}
	exe, err := os.Executable()
	require.NoError(t, err)
	pd, err := pdclient.New(pdclient.Config{Endpoints: []string{ready.PD}})
	require.NoError(t, err)
	t.Cleanup(pd.CloseIdleConnections)
	control := func(path string) {
		t.Helper()
		status, _, b := do(t, http.MethodPost, ready.PD+"/simpd/v1/"+path, "")
		require.Equal(t, http.StatusOK, status, "%s", b)
	}
	opLine := func(event string) func(string) bool {
		return func(l string) bool {
			var ol operatorLine
			return json.Unmarshal([]byte(l), &ol) == nil && ol.Event == event
		}
	}

	control("stores/3/stuck-leaders?count=5")

	// The first operator: killed in the middle of its eviction.
	first := start(t, env, exe, "-test.run=^$")
	first.await(t, 0, "the first operator's eviction under way", func(l string) bool {
		var ol operatorLine
		return json.Unmarshal([]byte(l), &ol) == nil && ol.Event == "progress" && ol.Left > 0
	})
	require.NoError(t, first.cmd.Process.Kill())
	require.Error(t, first.wait(t), "killed")
	recs := journal(t, cfg.Journal)
	evict := slices.IndexFunc(recs, func(r guard.Record) bool {
		return r.Action == guard.ActionEvictLeaders && r.Event == guard.EventSubmitted
	})
	require.GreaterOrEqual(t, evict, 0, "the eviction was submitted:\n%v", recs)
	evictID := recs[evict].ID
	require.Equal(t, guard.EventSubmitted, lastOf(recs, evictID).Event, "killed before its outcome was known")
	scheds, err := pd.Schedulers(t.Context())
	require.NoError(t, err)
	require.Contains(t, scheds, "evict-leader-scheduler", "the cluster outlived the operator, eviction and all")

	// The second: it finds the eviction pending and, while the cluster
	// does not show it done, leaves it so and sends nothing.
	second := start(t, env, exe, "-test.run=^$")
	_, i := second.await(t, 0, "the eviction pending after the replay", opLine("pending"))
	require.Contains(t, second.Lines()[i], evictID)
	// Its first check of the pending eviction is in the journal once the
	// replay is over (the "replayed" line follows it).
	second.await(t, 0, "the replay's end", opLine("replayed"))
	require.Equal(t, guard.EventUnresolved, lastOf(journal(t, cfg.Journal), evictID).Event,
		"checked against the cluster: the scheduler is there, five leaders are left")

	control("stores/3/stuck-leaders?count=0")
	second.await(t, i, "the eviction resolved", opLine("resolved"))
	second.await(t, i, "the leaders restored", opLine("restored"))
	require.NoError(t, second.wait(t), "stderr:\n%s", second.stderr.String())

	// The journal: one eviction, settled (confirmed) by the second
	// process before anything else was submitted; then the restore.
	recs = journal(t, cfg.Journal)
	var submitted []string
	for _, r := range recs {
		if r.Event == guard.EventSubmitted {
			submitted = append(submitted, r.Action)
		}
	}
	if diff := cmp.Diff([]string{guard.ActionEvictLeaders, guard.ActionRestoreLeaders}, submitted); diff != "" {
		t.Errorf("actions submitted (-want +got):\n%s", diff)
	}
	confirmed := slices.IndexFunc(recs, func(r guard.Record) bool { return r.ID == evictID && r.Event == guard.EventConfirmed })
	restore := slices.IndexFunc(recs, func(r guard.Record) bool {
		return r.Action == guard.ActionRestoreLeaders && r.Event == guard.EventSubmitted
	})
	require.Positive(t, confirmed, "the eviction was confirmed")
	require.Less(t, confirmed, restore, "confirmed before the restore was submitted")
	require.Equal(t, guard.EventConfirmed, lastOf(recs, recs[restore].ID).Event, "the restore confirmed")

	// simpd's lines: the scheduler added once (by the first operator),
	// store 3's eviction removed once (by the second), as PD removes one
	// store's: evict-leader-scheduler-{store}.
	sim.await(t, 0, "the scheduler's removal", func(l string) bool {
		return strings.Contains(l, `"method":"DELETE","path":"/pd/api/v1/schedulers/evict-leader-scheduler`)
	})
	var changes []string
	for _, l := range sim.Lines() {
		if event(l) != "request" {
			continue
		}
		var r requestLine
		require.NoError(t, json.Unmarshal([]byte(l), &r))
		if strings.HasPrefix(r.Path, "/pd/api/v1/schedulers") {
			changes = append(changes, r.Method+" "+r.Path)
			require.Equal(t, http.StatusOK, r.Status, "%s", l)
		}
	}
	if diff := cmp.Diff([]string{"POST /pd/api/v1/schedulers", "DELETE /pd/api/v1/schedulers/evict-leader-scheduler-3"}, changes); diff != "" {
		t.Errorf("scheduler requests PD received (-want +got):\n%s", diff)
	}

	// The cluster as it began.
	scheds, err = pd.Schedulers(t.Context())
	require.NoError(t, err)
	require.NotContains(t, scheds, "evict-leader-scheduler")
	tasks, err := pd.MaintenanceTasks(t.Context())
	require.NoError(t, err)
	require.Empty(t, tasks, "PD's maintenance lock released")
	st, err := pd.Store(t.Context(), 3)
	require.NoError(t, err)
	require.Positive(t, st.Status.LeaderCount, "store 3 leads again")
}

// journal reads the guard's journal file.
func journal(t *testing.T, path string) []guard.Record {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	var out []guard.Record
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var r guard.Record
		require.NoError(t, json.Unmarshal(sc.Bytes(), &r), "%s", sc.Bytes())
		out = append(out, r)
	}
	return out
}

// lastOf returns the last record of the action id.
func lastOf(recs []guard.Record, id string) guard.Record {
	var last guard.Record
	for _, r := range recs {
		if r.ID == id {
			last = r
		}
	}
	return last
}
