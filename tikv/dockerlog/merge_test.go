package dockerlog

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/kvops/operator/logparse"
	"github.com/kvops/operator/subject"
	"github.com/kvops/operator/tikv"
)

// TestMergedChangesWithoutAMissingSource: a log that is missing, and a
// Docker engine that cannot be reached, do not hide the changes of the
// healthy log; the error names the failed sources and matches their
// causes.
func TestMergedChangesWithoutAMissingSource(t *testing.T) {
	dir := t.TempDir()
	a, missing := filepath.Join(dir, "tikv-1.log"), filepath.Join(dir, "missing.log")
	var log []byte
	for i, msg := range []string{"became leader at term 6", "a2"} {
		log = append(log, logparse.Format(logparse.Entry{
			Time: logBase.Add(time.Duration(i+1) * time.Second), Level: logparse.LevelInfo,
			Source: "raft.rs:1228", Message: msg, Fields: []logparse.Field{{Key: "region_id", Value: "1"}},
		})...)
	}
	require.NoError(t, os.WriteFile(a, log, 0o644))
	docker, err := New(Config{Container: "tikv-2", Host: "unix://" + filepath.Join(dir, "docker.sock")})
	require.NoError(t, err)
	defer docker.Close()
	sub, err := tikv.New(tikv.Config{DisableMetrics: true,
		Logs: tikv.MergeLogs(tikv.NewFileLogSource(missing), tikv.NewFileLogSource(a), tikv.MergeLogs(docker))})
	require.NoError(t, err)

	got, err := sub.LeadershipChanges(t.Context(), time.Time{})
	want := []subject.LeadershipChange{{At: logBase.Add(time.Second), Region: 1, Term: 6, Role: "leader", Source: a}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("changes of the healthy log (-want +got):\n%s", diff)
	}
	var pe *tikv.PartialLogError
	require.ErrorAs(t, err, &pe)
	require.Equal(t, []string{missing, "tikv-2"}, pe.Failed)
	require.ErrorIs(t, err, tikv.ErrLogNotFound)
	require.ErrorIs(t, err, tikv.ErrLogUnreachable)
	require.ErrorIs(t, err, subject.ErrUnavailable, "the Docker engine could not be reached")
	// PartialLogError.Error names the sources that failed: its documented
	// promise, so the wording is checked.
	require.Contains(t, err.Error(), missing)
	require.Contains(t, err.Error(), "tikv-2")
}
