package tikv

import (
	"context"
	"path/filepath"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

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
			require.Contains(t, err.Error(), "missing.log")
			got = append(got, "not found")
			continue
		}
		got = append(got, e.Message)
	}
	require.Equal(t, []string{"not found", "became leader at term 6", "a2"}, got)
	// LogLeadershipChanges stops at the source's error and says which.
	_, err := LogLeadershipChanges(t.Context(), src, time.Time{})
	require.ErrorIs(t, err, subject.ErrNotFound)
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
		src := MergeLogs(NewFileLogSource(a, WithPollInterval(time.Second)), NewFileLogSource(b, WithPollInterval(time.Second)))
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
