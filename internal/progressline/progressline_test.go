package progressline_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/kvops/operator/internal/progressline"
	"github.com/kvops/operator/subject"
)

// evicting is an eviction's report at its read n: 40 leaders, 4 moved a
// second.
func evicting(n int) subject.Progress {
	left := max(40-4*(n-1), 0)
	return subject.Progress{Action: "evict_leaders", Target: "store 3", Waiting: "store 3 leading at most 0 regions",
		Seen: fmt.Sprintf("store 3 still leads %d regions", left), Left: left, Total: 40, Unit: "leaders",
		Waited: time.Duration(n-1) * time.Second, Bound: 10 * time.Minute, Elapsed: time.Duration(n-1) * time.Second, Reads: n}
}

// TestTerminal: on a terminal the progress line is redrawn in place, the
// program's lines scroll above it, and once the action is done the screen
// holds the program's lines only.
func TestTerminal(t *testing.T) {
	var out bytes.Buffer
	w := progressline.New(&out, progressline.Config{Terminal: true, Width: 60})
	fmt.Fprintln(w, "12:00:00  prepare_restart store 3")
	w.Progress(evicting(1))
	w.Progress(evicting(2))
	mid := progressline.Screen(out.Bytes())
	fmt.Fprintln(w, "12:00:01  FIRING  store 2 is Down")
	w.Progress(evicting(3))
	w.Done()
	fmt.Fprintln(w, "12:00:03  store 3 is ready to restart")

	line := func(n int) string {
		s := []rune(evicting(n).String())
		return string(s[:58]) + "…"
	}
	want := "12:00:00  prepare_restart store 3\n" +
		"\r\x1b[K" + line(1) + "\r\x1b[K" + line(2) +
		"\r\x1b[K" + "12:00:01  FIRING  store 2 is Down\n" + "\r\x1b[K" + line(2) +
		"\r\x1b[K" + line(3) +
		"\r\x1b[K" + "12:00:03  store 3 is ready to restart\n"
	if diff := cmp.Diff(want, out.String()); diff != "" {
		t.Errorf("bytes written (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"12:00:00  prepare_restart store 3", line(2)}, mid); diff != "" {
		t.Errorf("screen while the action waits (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"12:00:00  prepare_restart store 3", "12:00:01  FIRING  store 2 is Down", "12:00:03  store 3 is ready to restart", ""},
		progressline.Screen(out.Bytes())); diff != "" {
		t.Errorf("screen once done (-want +got):\n%s", diff)
	}
	require.Len(t, []rune(line(1)), 59, "cut to the width, less the column the cursor takes")
}

// TestTerminalHoldsTheLineWhileALineIsOpen: a line the program has not
// ended is not overwritten; the progress line comes back once it ends.
func TestTerminalHoldsTheLineWhileALineIsOpen(t *testing.T) {
	var out bytes.Buffer
	w := progressline.New(&out, progressline.Config{Terminal: true, Width: 200})
	fmt.Fprint(w, "asking PD... ")
	w.Progress(evicting(1))
	fmt.Fprintln(w, "ok")
	want := "asking PD... ok\n" + "\r\x1b[K" + evicting(1).String()
	require.Equal(t, want, out.String())
}

// TestPlainLines: anywhere but a terminal, progress is plain lines: the
// wait's first report, one every Config.Every of the wait, a change of
// status, a failed read, a new wait, and the last report once done.
func TestPlainLines(t *testing.T) {
	var out bytes.Buffer
	w := progressline.New(&out, progressline.Config{Every: 5 * time.Second})
	fmt.Fprintln(w, "prepare_restart store 3")
	for n := 1; n <= 12; n++ {
		p := evicting(n)
		if n == 4 {
			p.ReadError = "connection refused"
		}
		w.Progress(p)
	}
	w.Done()
	fmt.Fprintln(w, "store 3 is ready to restart")
	restore := subject.Progress{Action: "finish_restart", Target: "store 3", Waiting: "store 3 Up", Seen: "store 3 is Down", Bound: 5 * time.Minute, Reads: 1}
	w.Progress(restore)
	restore.Status, restore.Reads = "RUNNING", 2
	w.Progress(restore)
	restore.Waiting, restore.Reads = "store 3 leading 50% of the mean", 1
	w.Progress(restore)
	w.Done()

	with := func(p subject.Progress, err string) subject.Progress { p.ReadError = err; return p }
	want := []string{
		"prepare_restart store 3",
		"  ... " + evicting(1).String(),
		"  ... " + with(evicting(4), "connection refused").String(), // a read failed
		"  ... " + evicting(5).String(),                             // the failure is over
		"  ... " + evicting(10).String(),                            // 5 s after the last line written
		"  ... " + evicting(12).String(),                            // the last, once done
		"store 3 is ready to restart",
		"  ... finish_restart store 3, 0s of 5m0s: store 3 is Down",
		"  ... finish_restart store 3, 0s of 5m0s: store 3 is Down", // RUNNING: a new status
		"  ... finish_restart store 3, 0s of 5m0s: store 3 is Down", // a new wait
		"",
	}
	if diff := cmp.Diff(want, strings.Split(out.String(), "\n")); diff != "" {
		t.Errorf("lines (-want +got):\n%s", diff)
	}
	require.NotContains(t, out.String(), "\r", "no redrawing outside a terminal")
}

func TestIsTerminal(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "out"))
	require.NoError(t, err)
	defer f.Close()
	require.False(t, progressline.IsTerminal(f), "a file")
	r, pw, err := os.Pipe()
	require.NoError(t, err)
	defer r.Close()
	defer pw.Close()
	require.False(t, progressline.IsTerminal(pw), "a pipe")
	null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	require.NoError(t, err)
	defer null.Close()
	t.Setenv("TERM", "xterm-256color")
	require.True(t, progressline.IsTerminal(null), "a character device")
	t.Setenv("TERM", "dumb")
	require.False(t, progressline.IsTerminal(null), "TERM=dumb")
}
