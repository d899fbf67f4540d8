package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/kvops/operator/subject"
	"github.com/kvops/operator/tikv"
)

// TestSimulated runs the command as a newcomer would, without flags: it
// prints the leader moves the simulated PD logged, one line each.
func TestSimulated(t *testing.T) {
	var out, errOut bytes.Buffer
	require.NoError(t, run(t.Context(), options{since: time.Hour, moves: 3}, &out, &errOut))
	require.Contains(t, errOut.String(), "simulated cluster: PD at http://127.0.0.1:")
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	require.Len(t, lines, 3, "one line per move:\n%s", out.String())
	re := regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z  region (\d+) +store (\d) -> (\d) +\S+/pd\.log$`)
	for _, l := range lines {
		m := re.FindStringSubmatch(l)
		require.NotNil(t, m, "line %q", l)
		require.NotEqual(t, m[2], m[3], "a move goes to another store: %q", l)
	}

	// -json: the same changes, as JSON objects.
	out.Reset()
	require.NoError(t, run(t.Context(), options{since: time.Hour, moves: 2, json: true}, &out, &errOut))
	dec := json.NewDecoder(&out)
	n := 0
	for dec.More() {
		var c subject.LeadershipChange
		require.NoError(t, dec.Decode(&c))
		require.True(t, c.Region != 0 && c.From != 0 && c.To != 0 && c.From != c.To && strings.HasSuffix(c.Source, "pd.log"), "%+v", c)
		n++
	}
	require.Equal(t, 2, n)
}

// TestFile reads a log file: the changes since the time asked, a bad line
// skipped.
func TestFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tikv.log")
	now := time.Now().UTC().Truncate(time.Millisecond)
	at := func(d time.Duration) string { return now.Add(d).Format("2006/01/02 15:04:05.000 -07:00") }
	log := "[" + at(-2*time.Hour) + `] [INFO] [raft.rs:1228] ["became leader at term 5"] [term=5] [raft_id=91] [region_id=90]
[` + at(-time.Minute) + `] [INFO] [raft.rs:1228] ["became leader at term 6"] [term=6] [raft_id=91] [region_id=90]
not a log line
[` + at(-time.Second) + `] [INFO] [raft.rs:1084] ["became follower at term 7"] [term=7] [raft_id=91] [region_id=90]
`
	require.NoError(t, os.WriteFile(path, []byte(log), 0o644))
	var out, errOut bytes.Buffer
	require.NoError(t, run(t.Context(), options{file: path, since: time.Hour}, &out, &errOut))
	want := now.Add(-time.Minute).Format("2006-01-02T15:04:05.000Z07:00") + "  region 90     peer 91 became leader at term 6      " + path + "\n" +
		now.Add(-time.Second).Format("2006-01-02T15:04:05.000Z07:00") + "  region 90     peer 91 became follower at term 7    " + path + "\n"
	if diff := cmp.Diff(want, out.String()); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestBadFlags(t *testing.T) {
	var out, errOut bytes.Buffer
	// A usage error says which flags are wrong: the command's own
	// message to the person who typed them, so its wording is checked.
	require.ErrorContains(t, run(t.Context(), options{file: "a", container: "b"}, &out, &errOut), "not both")
	require.ErrorContains(t, run(t.Context(), options{since: -time.Minute}, &out, &errOut), "-since")
	missing := filepath.Join(t.TempDir(), "missing.log")
	err := run(t.Context(), options{file: missing, since: time.Hour}, &out, &errOut)
	require.ErrorIs(t, err, tikv.ErrLogNotFound)
	var lse *tikv.LogSourceError
	require.ErrorAs(t, err, &lse)
	require.Equal(t, missing, lse.Source)
	require.Empty(t, out.String())
}
