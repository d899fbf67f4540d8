package tikv

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/kvops/operator/logparse"
	"github.com/kvops/operator/subject"
	"github.com/stretchr/testify/require"
)

var logBase = time.Date(2024, 7, 24, 12, 47, 0, 0, time.UTC)

// logLine returns a TiKV line written i seconds after logBase.
func logLine(i int, msg string) string {
	return string(logparse.Format(logparse.Entry{
		Time: logBase.Add(time.Duration(i) * time.Second), Level: logparse.LevelInfo,
		Source: "raft.rs:1228", Message: msg, Fields: []logparse.Field{{Key: "region_id", Value: fmt.Sprint(i)}},
	}))
}

func writeFile(t *testing.T, path, content string, mod time.Time) {
	t.Helper()
	require.NoError(t, os.WriteFile(path, []byte(content), 0o644))
	if !mod.IsZero() {
		require.NoError(t, os.Chtimes(path, mod, mod))
	}
}

func appendFile(t *testing.T, path, content string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY|os.O_CREATE, 0o644)
	require.NoError(t, err)
	_, err = f.WriteString(content)
	require.NoError(t, err)
	require.NoError(t, f.Close())
}

// messages collects what a source yielded: messages, and "error: <kind>"
// for errors.
func messages(seq func(func(logparse.Entry, error) bool)) []string {
	var out []string
	for e, err := range seq {
		if err != nil {
			out = append(out, "error: "+errKind(err))
			continue
		}
		out = append(out, e.Message)
	}
	return out
}

func errKind(err error) string {
	for _, k := range []struct {
		err  error
		name string
	}{{ErrLogNotFound, "not found"}, {ErrLogPermission, "permission"}, {ErrLogUnreachable, "unreachable"},
		{ErrLogStopped, "stopped"}, {ErrLogTruncated, "truncated"}, {ErrLogRead, "read"}, {logparse.ErrSyntax, "syntax"}, {logparse.ErrTooLong, "too long"}} {
		if errors.Is(err, k.err) {
			return k.name
		}
	}
	return err.Error()
}

func TestFileLogSourceEntries(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "tikv.log")
	// Two rotated files, the older one entirely before the window.
	writeFile(t, filepath.Join(dir, "tikv-2024-07-24T12-46-00.000.log"), logLine(-60, "ancient"), logBase.Add(-50*time.Second))
	writeFile(t, filepath.Join(dir, "tikv-2024-07-24T12-47-03.000.log"), logLine(1, "r1")+logLine(2, "r2")+"garbage [x\n"+logLine(3, "r3"), logBase.Add(3*time.Second))
	writeFile(t, path, logLine(4, "c4")+logLine(5, "c5")+"[2024/07/24 12:47:05.500 +00:00] [LOUD] [a.rs:1] [x]\n"+logLine(6, "c6"), time.Time{})
	// Files that are not rotations of tikv.log.
	writeFile(t, filepath.Join(dir, "pd.log"), logLine(4, "other"), time.Time{})
	writeFile(t, filepath.Join(dir, "tikv-old.log.gz"), "binary", time.Time{})

	src := NewFileLogSource(path)
	if src.Name() != path {
		t.Errorf("Name() = %q", src.Name())
	}
	tests := []struct {
		name         string
		since, until time.Time
		want         []string
	}{
		{"everything from the window start", logBase.Add(2 * time.Second), time.Time{},
			[]string{"r2", "r3", "c4", "c5", "error: syntax", "c6"}},
		{"until excludes its bound", logBase.Add(2 * time.Second), logBase.Add(5 * time.Second),
			[]string{"r2", "r3", "c4"}},
		{"the current file only", logBase.Add(4 * time.Second), logBase.Add(5 * time.Second), []string{"c4"}},
		{"before everything", time.Time{}, logBase.Add(-59 * time.Second), []string{"ancient"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := messages(src.Entries(t.Context(), tt.since, tt.until))
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}

	// Stopping early stops.
	n := 0
	for range src.Entries(t.Context(), time.Time{}, time.Time{}) {
		n++
		break
	}
	if n != 1 {
		t.Errorf("break after one entry gave %d", n)
	}
	// A cancelled context yields nothing.
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if got := messages(src.Entries(ctx, time.Time{}, time.Time{})); len(got) != 0 {
		t.Errorf("cancelled: %v", got)
	}
}

func TestFileLogSourceErrors(t *testing.T) {
	dir := t.TempDir()
	src := NewFileLogSource(filepath.Join(dir, "missing.log"))
	var got error
	for _, err := range src.Entries(t.Context(), time.Time{}, time.Time{}) {
		got = err
	}
	if !errors.Is(got, ErrLogNotFound) || !errors.Is(got, subject.ErrNotFound) || !errors.Is(got, fs.ErrNotExist) {
		t.Errorf("missing file: %v", got)
	}
	var lse *LogSourceError
	if !errors.As(got, &lse) || lse.Source != src.Name() || lse.Op != "open" {
		t.Errorf("missing file: %#v", got)
	}
	for _, err := range src.Follow(t.Context(), time.Time{}) {
		got = err
	}
	if !errors.Is(got, ErrLogNotFound) {
		t.Errorf("following a missing file: %v", got)
	}

	// A directory is not a log.
	for _, err := range NewFileLogSource(dir).Entries(t.Context(), time.Time{}, time.Time{}) {
		got = err
	}
	if !errors.Is(got, ErrLogRead) {
		t.Errorf("directory: %v", got)
	}

	// Permission denied. Root reads anything, so there the error the
	// kernel would give is classified instead.
	locked := filepath.Join(dir, "locked.log")
	writeFile(t, locked, logLine(1, "x"), time.Time{})
	require.NoError(t, os.Chmod(locked, 0))
	var permErr error
	if os.Geteuid() == 0 {
		permErr = (&FileLogSource{path: locked}).err("open", &fs.PathError{Op: "open", Path: locked, Err: syscall.EACCES})
	} else {
		for _, err := range NewFileLogSource(locked).Entries(t.Context(), time.Time{}, time.Time{}) {
			permErr = err
		}
	}
	if !errors.Is(permErr, ErrLogPermission) || !errors.Is(permErr, fs.ErrPermission) {
		t.Errorf("permission: %v", permErr)
	}
}

// TestFileLogSourceFollow follows a file across new lines, a rotation (with
// a last line the old file got without its newline) and a truncation. The
// poll interval runs on synctest's clock.
func TestFileLogSourceFollow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, "tikv.log")
		writeFile(t, path, logLine(0, "old")+logLine(1, "a"), time.Time{})
		src := mustFileLog(t, FileLogConfig{Path: path, FollowInterval: time.Second})

		ctx, cancel := context.WithCancel(t.Context())
		got := make(chan string)
		done := make(chan struct{})
		go func() {
			defer close(done)
			for e, err := range src.Follow(ctx, logBase.Add(time.Second)) {
				if err != nil {
					got <- "error: " + errKind(err)
					continue
				}
				got <- e.Message
			}
		}()
		expect := func(want ...string) {
			t.Helper()
			for _, w := range want {
				if g := <-got; g != w {
					t.Fatalf("got %q, want %q", g, w)
				}
			}
		}
		expect("a")

		// New lines, one written in two halves.
		l2 := logLine(2, "b")
		appendFile(t, path, logLine(2, "b0")+l2[:10])
		expect("b0")
		appendFile(t, path, l2[10:])
		expect("b")

		// Rotation: the old file gets a last line without its newline,
		// is renamed, and a new file appears.
		l3 := logLine(3, "c")
		appendFile(t, path, l3[:len(l3)-1])
		require.NoError(t, os.Rename(path, filepath.Join(dir, "tikv-2024-07-24T12-47-03.000.log")))
		synctest.Wait()
		time.Sleep(2 * time.Second) // polls that find no tikv.log
		writeFile(t, path, logLine(4, "d")+"panic!\n", time.Time{})
		expect("c", "d")

		// Truncation (copytruncate): the file restarts shorter.
		require.NoError(t, os.Truncate(path, 0))
		appendFile(t, path, logLine(5, "e"))
		expect("e")

		cancel()
		<-done
	})
}

func TestFileLogSourceFollowContinuation(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, "tikv.log")
		writeFile(t, path, logLine(1, "panic")+"goroutine 1 [running]:\n\tmain.go:12\n", time.Time{})
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		for e, err := range NewFileLogSource(path).Follow(ctx, time.Time{}) {
			require.NoError(t, err)
			if e.Message != "panic" || e.Continuation != "goroutine 1 [running]:\n\tmain.go:12" {
				t.Errorf("entry %q with continuation %q", e.Message, e.Continuation)
			}
			if !strings.HasPrefix(string(logparse.Format(e)), "[2024/07/24 12:47:01.000 +00:00]") {
				t.Errorf("time %v", e.Time)
			}
			break
		}
	})
}

func TestLogLeadershipChanges(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "pd.log")
	writeFile(t, path, `[2024/07/24 12:47:00.000 +00:00] [INFO] [region.go:900] ["leader changed"] [region-id=1] [from=5] [to=4]
[2024/07/24 12:47:01.000 +00:00] [INFO] [region.go:900] ["leader changed"] [region-id=2] [from=4] [to=5]
[2024/07/24 12:47:01.500 +00:00] [LOUD] [x.go:1] [bad line]
[2024/07/24 12:47:02.000 +00:00] [INFO] [raft.rs:1228] ["became leader at term 6"] [term=6] [raft_id=91] [region_id=90]
[2024/07/24 12:47:03.000 +00:00] [INFO] [cluster.go:1907] ["store has changed to serving"] [store-id=5]
`, time.Time{})
	got, err := LogLeadershipChanges(t.Context(), NewFileLogSource(path), logBase.Add(time.Second))
	require.NoError(t, err)
	want := []subject.LeadershipChange{
		{At: logBase.Add(time.Second), Region: 2, From: 4, To: 5, Source: path},
		{At: logBase.Add(2 * time.Second), Region: 90, Peer: 91, Term: 6, Role: "leader", Source: path},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	_, err = LogLeadershipChanges(t.Context(), NewFileLogSource(filepath.Join(dir, "missing.log")), time.Time{})
	if !errors.Is(err, ErrLogNotFound) {
		t.Errorf("missing file: %v", err)
	}
}

// TestFileLogSourceEntriesGone: entries an earlier read saw that a later
// read of the same window no longer finds (truncated away, or rotated into
// a compressed file) end the read with ErrLogTruncated, until the window
// no longer reaches back to them.
func TestFileLogSourceEntriesGone(t *testing.T) {
	for _, tt := range []struct {
		name string
		lose func(path string)
	}{
		{"truncated", func(path string) { require.NoError(t, os.Truncate(path, 0)) }},
		{"rotated and compressed", func(path string) { require.NoError(t, os.Rename(path, path+".1.gz")) }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "tikv.log")
			writeFile(t, path, logLine(1, "a")+logLine(2, "b"), time.Time{})
			src := NewFileLogSource(path)
			require.Equal(t, []string{"a", "b"}, messages(src.Entries(t.Context(), logBase, time.Time{})))
			tt.lose(path)
			appendFile(t, path, logLine(5, "c"))
			require.Equal(t, []string{"c", "error: truncated"}, messages(src.Entries(t.Context(), logBase, time.Time{})))
			// Again: the entries are still gone.
			require.Equal(t, []string{"c", "error: truncated"}, messages(src.Entries(t.Context(), logBase.Add(2*time.Second), time.Time{})))
			// A window after them, or a bounded one, reads as it is.
			require.Equal(t, []string{"c"}, messages(src.Entries(t.Context(), logBase.Add(3*time.Second), time.Time{})))
			require.Equal(t, []string{"c"}, messages(src.Entries(t.Context(), logBase, logBase.Add(time.Minute))))
			var lse *LogSourceError
			for _, err := range src.Entries(t.Context(), logBase, time.Time{}) {
				if err != nil {
					require.ErrorAs(t, err, &lse)
					require.Equal(t, path, lse.Source)
					// The time of the lost entries is in the message
					// only: naming it is the documented promise of
					// ErrLogTruncated (RELIABILITY.md), so the wording
					// is checked.
					require.Contains(t, err.Error(), "2024-07-24T12:47:02Z")
				}
			}
			require.NotNil(t, lse)
		})
	}
}

func mustFileLog(t *testing.T, cfg FileLogConfig) *FileLogSource {
	t.Helper()
	s, err := NewFileLog(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestNewFileLogConfig(t *testing.T) {
	s, err := NewFileLog(FileLogConfig{Path: "tikv.log"})
	if err != nil {
		t.Fatal(err)
	}
	if s.poll != DefaultFollowInterval || s.Name() != "tikv.log" || len(s.opts) != 0 {
		t.Errorf("zero fields: poll %v, name %q, %d reader options", s.poll, s.Name(), len(s.opts))
	}
	for _, cfg := range []FileLogConfig{{}, {Path: "x", FollowInterval: -time.Second}, {Path: "x", MaxEntrySize: -1}} {
		if _, err := NewFileLog(cfg); !errors.Is(err, subject.ErrInvalid) {
			t.Errorf("NewFileLog(%+v) = %v, want ErrInvalid", cfg, err)
		}
	}
}
