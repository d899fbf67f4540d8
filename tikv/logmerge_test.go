package tikv

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/kvops/operator/invariant"
	"github.com/kvops/operator/logparse"
	"github.com/kvops/operator/subject"
)

func TestMergeLogsEntriesInTimeOrder(t *testing.T) {
	dir := t.TempDir()
	pd, a, b := filepath.Join(dir, "pd.log"), filepath.Join(dir, "tikv-1.log"), filepath.Join(dir, "tikv-2.log")
	writeFile(t, pd, logLine(1, "p1")+logLine(4, "p4")+logLine(9, "p9"), time.Time{})
	writeFile(t, a, logLine(2, "a2")+logLine(3, "a3")+logLine(9, "a9"), time.Time{})
	// A line with no entry before it is an error of that line alone.
	writeFile(t, b, "garbage\n"+logLine(0, "b0")+logLine(5, "b5"), time.Time{})
	src := MergeLogs(NewFileLogSource(pd), NewFileLogSource(a), NewFileLogSource(b))
	require.Equal(t, pd+","+a+","+b, src.Name())
	var got []string
	for e, err := range src.Entries(t.Context(), logBase.Add(time.Second), time.Time{}) {
		if err != nil {
			got = append(got, "error: "+errKind(err))
			continue
		}
		got = append(got, e.Message)
	}
	want := []string{"error: syntax", "p1", "a2", "a3", "p4", "b5", "p9", "a9"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("merged entries (-want +got):\n%s", diff)
	}
}

func TestMergeLogsGoesOnWithoutAMissingSource(t *testing.T) {
	dir := t.TempDir()
	a := filepath.Join(dir, "tikv-1.log")
	writeFile(t, a, logLine(1, `became leader at term 6`)+logLine(2, "a2"), time.Time{})
	src := MergeLogs(NewFileLogSource(filepath.Join(dir, "missing.log")), NewFileLogSource(a))
	var got []string
	for e, err := range src.Entries(t.Context(), time.Time{}, time.Time{}) {
		if err != nil {
			require.ErrorIs(t, err, ErrLogNotFound)
			var lse *LogSourceError
			require.ErrorAs(t, err, &lse)
			require.Equal(t, filepath.Join(dir, "missing.log"), lse.Source)
			got = append(got, "not found")
			continue
		}
		got = append(got, e.Message)
	}
	require.Equal(t, []string{"not found", "became leader at term 6", "a2"}, got)
}

// TestMergedChangesKeepTheirSource: every change read from merged logs
// names the log it came from, not the merged source's joined name.
func TestMergedChangesKeepTheirSource(t *testing.T) {
	dir := t.TempDir()
	pd, a, b := filepath.Join(dir, "pd.log"), filepath.Join(dir, "tikv-1.log"), filepath.Join(dir, "tikv-2.log")
	writeFile(t, pd, pdLeaderChanged(3, 7, 1, 2), time.Time{})
	writeFile(t, a, logLine(1, "became leader at term 6")+logLine(4, "became follower at term 7"), time.Time{})
	writeFile(t, b, logLine(2, "became leader at term 8")+logLine(3, "became candidate at term 9"), time.Time{})
	got, err := LogLeadershipChanges(t.Context(), MergeLogs(NewFileLogSource(pd), NewFileLogSource(a), NewFileLogSource(b)), time.Time{})
	require.NoError(t, err)
	at := func(i int) time.Time { return logBase.Add(time.Duration(i) * time.Second) }
	want := []subject.LeadershipChange{
		{At: at(1), Region: 1, Term: 6, Role: "leader", Source: a},
		{At: at(2), Region: 2, Term: 8, Role: "leader", Source: b},
		{At: at(3), Region: 7, From: 1, To: 2, Source: pd},
		{At: at(3), Region: 3, Term: 9, Role: "candidate", Source: b},
		{At: at(4), Region: 4, Term: 7, Role: "follower", Source: a},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("changes (-want +got):\n%s", diff)
	}
}

// TestMergedChangesWithoutAMissingFile: a missing log does not hide the
// changes of the healthy one; the error names it, is a partial read, and is
// not unavailability (tikv/dockerlog's tests add an unreachable engine).
func TestMergedChangesWithoutAMissingFile(t *testing.T) {
	dir := t.TempDir()
	a, missing := filepath.Join(dir, "tikv-1.log"), filepath.Join(dir, "missing.log")
	writeFile(t, a, logLine(1, "became leader at term 6")+logLine(2, "a2"), time.Time{})
	got, err := LogLeadershipChanges(t.Context(), MergeLogs(NewFileLogSource(missing), NewFileLogSource(a)), time.Time{})
	want := []subject.LeadershipChange{{At: logBase.Add(time.Second), Region: 1, Term: 6, Role: "leader", Source: a}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("changes of the healthy log (-want +got):\n%s", diff)
	}
	var pe *PartialLogError
	require.ErrorAs(t, err, &pe)
	require.Equal(t, []string{missing}, pe.Failed)
	require.ErrorIs(t, err, ErrLogNotFound)
	require.NotErrorIs(t, err, subject.ErrUnavailable)
}

// pdLeaderChanged is PD's "leader changed" line at logBase+i seconds.
func pdLeaderChanged(i, region, from, to int) string {
	return string(logparse.Format(logparse.Entry{
		Time: logBase.Add(time.Duration(i) * time.Second), Level: logparse.LevelInfo, Source: "region.go:900",
		Message: "leader changed",
		Fields:  []logparse.Field{{Key: "region-id", Value: fmt.Sprint(region)}, {Key: "from", Value: fmt.Sprint(from)}, {Key: "to", Value: fmt.Sprint(to)}},
	}))
}

// partialChurn is a leadership-churn check that judges what it can see
// when some logs cannot be read: a region over max in the changes it has
// is a violation (more changes would not undo it); a region it reported
// before and now finds under max is unknown (the missing logs may hold its
// changes), so that its alert is kept rather than resolved.
func partialChurn(sub *Subject, window time.Duration, max int) invariant.Check {
	var reported []string // the keys of the last call's violations
	return func(ctx context.Context, now time.Time) ([]invariant.Finding, error) {
		changes, err := sub.LeadershipChanges(ctx, now.Add(-window))
		var pe *PartialLogError
		if err != nil && !errors.As(err, &pe) {
			return nil, err
		}
		n := map[string]int{}
		for _, c := range changes {
			if c.Role == "" || c.Role == "leader" {
				n[fmt.Sprintf("region=%d", c.Region)]++
			}
		}
		var out []invariant.Finding
		for key, k := range n {
			if k > max {
				out = append(out, invariant.Finding{Key: key, Value: float64(k)})
			}
		}
		if pe != nil {
			for _, key := range reported {
				if n[key] <= max {
					out = append(out, invariant.Finding{Key: key, Unknown: true,
						Message: "unknown: " + strings.Join(pe.Failed, ", ") + " could not be read"})
				}
			}
		}
		reported = reported[:0]
		for _, f := range out {
			if !f.Unknown {
				reported = append(reported, f.Key)
			}
		}
		slices.SortFunc(out, func(a, b invariant.Finding) int { return strings.Compare(a.Key, b.Key) })
		return out, nil
	}
}

// TestChurnCheckWithAMissingLog: while one TiKV log is missing, the churn
// seen in the other logs still fires, and the alert raised from the
// missing log stays firing (unknown), neither resolved nor lost.
func TestChurnCheckWithAMissingLog(t *testing.T) {
	dir := t.TempDir()
	pd, kv := filepath.Join(dir, "pd.log"), filepath.Join(dir, "tikv-2.log")
	writeFile(t, pd, pdLeaderChanged(1, 7, 1, 2), time.Time{})
	// Region 8 changes leader three times in tikv-2's log.
	writeFile(t, kv, logLine(8, "became leader at term 6")+logLine(8, "became leader at term 7")+logLine(8, "became leader at term 8"), time.Time{})
	sub, err := New(Config{DisableMetrics: true, Logs: MergeLogs(NewFileLogSource(pd), NewFileLogSource(kv))})
	require.NoError(t, err)
	e, err := invariant.New([]invariant.Invariant{{Name: "leader_churn", Severity: invariant.SeverityWarning,
		Description: "no region changes leader more than twice in 10 min", Check: partialChurn(sub, 10*time.Minute, 2)}}, invariant.Config{})
	require.NoError(t, err)
	tick := func(at time.Duration) []string {
		rep, err := e.Evaluate(t.Context(), logBase.Add(at))
		require.NoError(t, err)
		require.Empty(t, rep.Errors)
		var out []string
		for _, tr := range rep.Transitions {
			out = append(out, fmt.Sprintf("%s: %s -> %s", tr.Key, tr.From, tr.To))
		}
		return out
	}
	require.Equal(t, []string{"region=8: inactive -> firing"}, tick(time.Minute))

	// tikv-2's log goes away while region 7 churns in PD's log.
	require.NoError(t, os.Remove(kv))
	appendFile(t, pd, pdLeaderChanged(20, 7, 2, 3)+pdLeaderChanged(21, 7, 3, 1))
	require.Equal(t, []string{"region=7: inactive -> firing"}, tick(2*time.Minute),
		"region 7 fires from PD's log; region 8, unseen, stays as it was")
	var states []string
	for _, a := range e.Alerts() {
		states = append(states, a.Key+" "+a.State.String())
	}
	slices.Sort(states)
	require.Equal(t, []string{"region=7 firing", "region=8 firing"}, states)
}

func TestMergeLogsStopsEarly(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.log"), filepath.Join(dir, "b.log")
	writeFile(t, a, logLine(1, "a1")+logLine(3, "a3"), time.Time{})
	writeFile(t, b, logLine(2, "b2"), time.Time{})
	var got []string
	for e, err := range MergeLogs(NewFileLogSource(a), NewFileLogSource(b)).Entries(t.Context(), time.Time{}, time.Time{}) {
		require.NoError(t, err)
		got = append(got, e.Message)
		if len(got) == 2 {
			break
		}
	}
	require.Equal(t, []string{"a1", "b2"}, got)
}

// TestMergeLogsFollow follows two files on synctest's clock: lines appended
// to either come out, and cancelling the context ends the stream with no
// goroutine left.
func TestMergeLogsFollow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		a, b := filepath.Join(dir, "a.log"), filepath.Join(dir, "b.log")
		writeFile(t, a, logLine(1, "a1"), time.Time{})
		writeFile(t, b, logLine(2, "b2"), time.Time{})
		src := MergeLogs(mustFileLog(t, FileLogConfig{Path: a, FollowInterval: time.Second}), mustFileLog(t, FileLogConfig{Path: b, FollowInterval: time.Second}))
		ctx, cancel := context.WithCancel(t.Context())
		got := make(chan string)
		done := make(chan struct{})
		go func() {
			defer close(done)
			for e, err := range src.Follow(ctx, time.Time{}) {
				if err != nil {
					got <- "error: " + errKind(err)
					continue
				}
				got <- e.Message
			}
		}()
		first := []string{<-got, <-got}
		slices.Sort(first)
		require.Equal(t, []string{"a1", "b2"}, first)
		appendFile(t, b, logLine(3, "b3"))
		require.Equal(t, "b3", <-got)
		appendFile(t, a, logLine(4, "a4"))
		require.Equal(t, "a4", <-got)
		cancel()
		<-done
	})
}
