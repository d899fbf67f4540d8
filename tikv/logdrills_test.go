package tikv_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/kvops/operator/logparse"
	"github.com/kvops/operator/subject"
	"github.com/kvops/operator/tikv"
	"github.com/kvops/operator/tikv/internal/logdrill"
)

// The fault drills of file sources (see package tikv/internal/logdrill);
// those of Docker sources are tikv/dockerlog's.

// fileDrill writes logdrill.ChurnLog(tikv.LogBase) to a file and returns its path and a
// drill reading it.
func fileDrill(t *testing.T) (string, *logdrill.Drill) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "pd.log")
	tikv.WriteFile(t, path, logdrill.ChurnLog(tikv.LogBase), time.Time{})
	return path, logdrill.New(t, tikv.NewFileLogSource(path))
}

// TestLogFaultFileUnreadable: the log file is deleted, or its path becomes
// a directory; then the file is written again.
func TestLogFaultFileUnreadable(t *testing.T) {
	for _, tt := range []struct {
		name    string
		breakIt func(path string)
		want    func(error) bool
	}{
		{"deleted", func(path string) { require.NoError(t, os.Remove(path)) },
			func(err error) bool {
				return errors.Is(err, tikv.ErrLogNotFound) && errors.Is(err, subject.ErrNotFound)
			}},
		{"directory", func(path string) { require.NoError(t, os.Remove(path)); require.NoError(t, os.Mkdir(path, 0o755)) },
			func(err error) bool { return errors.Is(err, tikv.ErrLogRead) }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
			path, d := fileDrill(t)
			d.Run(tikv.LogBase, func() { tt.breakIt(path) }, tt.want, func() {
				require.NoError(t, os.RemoveAll(path))
				tikv.WriteFile(t, path, logdrill.ChurnLog(tikv.LogBase), time.Time{})
			})
		})
	}
}

// TestLogFaultFileTruncated: the log is truncated between two evaluations
// and the entries it held are nowhere else. They were in the window: the
// evaluation fails rather than resolve the alert; once the window has
// moved past the lost entries, the log is judged again.
func TestLogFaultFileTruncated(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	path := filepath.Join(t.TempDir(), "pd.log")
	tikv.WriteFile(t, path, logdrill.ChurnLog(tikv.LogBase), time.Time{})
	d := logdrill.New(t, tikv.NewFileLogSource(path))
	d.Run(tikv.LogBase,
		func() {
			require.NoError(t, os.Truncate(path, 0))
			tikv.AppendFile(t, path, tikv.LogLine(30, "after the truncation"))
		},
		func(err error) bool { return errors.Is(err, tikv.ErrLogTruncated) },
		nil)
	// Still within the window of the lost entries: still an error.
	tr, errs := d.Tick(tikv.LogBase.Add(4 * time.Minute))
	require.Empty(t, tr)
	require.Len(t, errs, 2)
	// The window starts after the lost entries: the log is judged again,
	// and it has no churn.
	tr, errs = d.Tick(tikv.LogBase.Add(6 * time.Minute))
	require.Empty(t, errs)
	require.Equal(t, []string{logdrill.InvChurn + " region=7: firing -> resolved", logdrill.InvChurnHeld + " region=7: pending -> inactive"}, tr)
}

// TestLogFaultFileRotatedOrCopied: the log is rotated (renamed, a new file
// started) or copied then truncated (logrotate's copytruncate) between two
// evaluations. Nothing is missing, so nothing fails and nothing changes.
func TestLogFaultFileRotatedOrCopied(t *testing.T) {
	for _, tt := range []struct {
		name   string
		rotate func(path string)
	}{
		{"renamed", func(path string) {
			require.NoError(t, os.Rename(path, strings.TrimSuffix(path, ".log")+"-2024-07-24T12-47-20.000.log"))
			tikv.WriteFile(t, path, tikv.LogLine(30, "after the rotation"), time.Time{})
		}},
		{"copytruncate", func(path string) {
			b, err := os.ReadFile(path)
			require.NoError(t, err)
			tikv.WriteFile(t, path+".1", string(b), time.Time{})
			require.NoError(t, os.Truncate(path, 0))
			tikv.AppendFile(t, path, tikv.LogLine(30, "after the truncation"))
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
			path, d := fileDrill(t)
			tr, errs := d.Tick(tikv.LogBase.Add(10 * time.Second))
			require.Empty(t, errs)
			require.Len(t, tr, 2)
			tt.rotate(path)
			tr, errs = d.Tick(tikv.LogBase.Add(80 * time.Second))
			require.Empty(t, errs)
			require.Equal(t, []string{logdrill.InvChurnHeld + " region=7: pending -> firing"}, tr)
		})
	}
}

// TestLogFaultBadLines: lines that do not parse, binary junk and an entry
// over the size limit among the log's lines are skipped; the changes
// around them are all counted.
func TestLogFaultBadLines(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	path := filepath.Join(t.TempDir(), "pd.log")
	log := logdrill.ChurnLog(tikv.LogBase)
	lines := strings.SplitAfter(log, "\n")
	junk := "\x00\x01\xff\xfe binary\n[2024/07/24 12:47:01.500 +00:00] [LOUD] [x.go:1] [bad level]\n[not a time] [INFO] [x]\n" +
		string(logparse.Format(logparse.Entry{Time: tikv.LogBase.Add(1500 * time.Millisecond), Level: logparse.LevelInfo, Message: "big",
			Fields: []logparse.Field{{Key: "v", Value: strings.Repeat("x", 2<<20)}}}))
	tikv.WriteFile(t, path, lines[0]+junk+strings.Join(lines[1:], ""), time.Time{})
	src, err := tikv.NewFileLog(tikv.FileLogConfig{Path: path, MaxEntrySize: 1 << 20})
	require.NoError(t, err)
	d := logdrill.New(t, src)
	tr, errs := d.Tick(tikv.LogBase.Add(10 * time.Second))
	require.Empty(t, errs)
	require.Equal(t, []string{logdrill.InvChurn + " region=7: inactive -> firing", logdrill.InvChurnHeld + " region=7: inactive -> pending"}, tr)
}
