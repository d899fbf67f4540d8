package guard_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/kvops/operator/subject"
	"github.com/kvops/operator/subject/guard"
)

// childEnv makes the test binary, started by a test of this file, act as
// a second process instead of running the tests (see TestMain).
const childEnv = "KVOPS_GUARD_CHILD"

// childReport is what a child process prints, as one JSON line.
type childReport struct {
	PID    int    `json:"pid"`
	Opened bool   `json:"opened"`
	Locked bool   `json:"locked"`
	Holder int    `json:"holder"` // the holder's pid, when locked
	Error  string `json:"error,omitempty"`
	Evict  string `json:"evict"` // "ok" or the guard's error
	// For the file-size drill: the errors of the writes.
	Writes []string `json:"writes,omitempty"`
	EFBIG  bool     `json:"efbig"`
}

// runChild is a second process: "guard" opens the journal, builds a guard
// on it, replays it, evicts a store's leaders, reports, and holds the
// journal until its stdin closes; "fsize" writes to a journal under a
// file-size limit that cuts a record short.
func runChild(mode string) int {
	path := os.Getenv("KVOPS_GUARD_JOURNAL")
	r := childReport{PID: os.Getpid()}
	defer func() { _ = json.NewEncoder(os.Stdout).Encode(r) }()
	if mode == "fsize" {
		limit, _ := strconv.ParseUint(os.Getenv("KVOPS_GUARD_FSIZE"), 10, 64)
		signal.Ignore(syscall.SIGXFSZ)
		if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &syscall.Rlimit{Cur: limit, Max: limit}); err != nil {
			r.Error = err.Error()
			return 1
		}
		j, err := guard.OpenFileJournal(path, guard.JournalConfig{})
		if err != nil {
			r.Error = err.Error()
			return 1
		}
		defer j.Close()
		for _, line := range []string{"first\n", strings.Repeat("a record too long for the disk ", 20) + "\n", "x\n"} {
			_, err := j.Write([]byte(line))
			r.Writes = append(r.Writes, fmt.Sprint(err))
			r.EFBIG = r.EFBIG || errors.Is(err, syscall.EFBIG)
		}
		return 0
	}
	j, err := guard.OpenFileJournal(path, guard.JournalConfig{Identity: "child"})
	if err != nil {
		var le *subject.LockedError
		r.Locked = errors.As(err, &le)
		if r.Locked {
			r.Holder = le.Holder.PID
		}
		r.Error = err.Error()
		return 0
	}
	defer j.Close()
	r.Opened = true
	g, err := guard.New(newFake(5), guard.Config{Mode: guard.ModeAutomatic, Journal: j})
	if err == nil {
		err = g.Replay(context.Background(), j.Records())
	}
	if err != nil {
		r.Error = err.Error()
		return 1
	}
	store, _ := strconv.Atoi(os.Getenv("KVOPS_GUARD_EVICT"))
	r.Evict = "ok"
	if _, err := g.EvictLeaders(context.Background(), subject.StoreID(store)); err != nil {
		r.Evict = err.Error()
		if errors.Is(err, guard.ErrBusy) {
			r.Evict = "busy"
		}
	}
	// Report, then hold the journal until told to stop.
	_ = json.NewEncoder(os.Stdout).Encode(r)
	r = childReport{PID: os.Getpid(), Opened: true, Evict: "done"}
	_, _ = io.Copy(io.Discard, os.Stdin)
	return 0
}

// child is a second process started from this test binary.
type child struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	out   *bufio.Scanner
}

func startChild(t *testing.T, mode, journal string, env ...string) *child {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(append(os.Environ(), childEnv+"="+mode, "KVOPS_GUARD_JOURNAL="+journal), env...)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	c := &child{cmd: cmd, stdin: stdin, out: bufio.NewScanner(stdout)}
	t.Cleanup(func() {
		_ = stdin.Close()
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	return c
}

// report reads the child's next report.
func (c *child) report(t *testing.T) childReport {
	t.Helper()
	require.True(t, c.out.Scan(), "the child ended without a report: %v", c.out.Err())
	var r childReport
	require.NoError(t, json.Unmarshal(c.out.Bytes(), &r), "%s", c.out.Bytes())
	return r
}

// stop closes the child's stdin and waits for it to end.
func (c *child) stop(t *testing.T) {
	t.Helper()
	require.NoError(t, c.stdin.Close())
	require.Equal(t, "done", c.report(t).Evict)
	require.NoError(t, c.cmd.Wait())
}

// TestTwoGuardsOnOneJournal: two processes start a guard on the same
// journal at once, each to evict another store's leaders. Exactly one
// opens the journal (and evicts); the other is refused at once with a
// *subject.LockedError naming the first's pid, and evicts nothing. Once the
// first has gone (killed: the kernel releases the lock), a third opens the
// journal, replays the first's eviction and is refused its own by the
// blast radius. Fixed by this work: two MCP servers on one -journal both
// passed the blast radius, and stores 1 and 2 ended up evicted together.
func TestTwoGuardsOnOneJournal(t *testing.T) {
	journal := filepath.Join(t.TempDir(), "journal.jsonl")
	a := startChild(t, "guard", journal, "KVOPS_GUARD_EVICT=1")
	b := startChild(t, "guard", journal, "KVOPS_GUARD_EVICT=2")
	ra, rb := a.report(t), b.report(t)
	require.NotEqual(t, ra.Opened, rb.Opened, "exactly one of two processes opens the journal: %+v %+v", ra, rb)
	winner, loser, lost := a, rb, ra
	if rb.Opened {
		winner, loser, lost = b, ra, rb
	}
	require.True(t, loser.Locked, "%+v", loser)
	require.Equal(t, lost.PID, loser.Holder, "the error names the holder: %s", loser.Error)
	require.Equal(t, "ok", lost.Evict)
	require.Empty(t, loser.Evict, "the refused process evicted nothing")

	// The holder dies without closing anything.
	require.NoError(t, winner.cmd.Process.Kill())
	_ = winner.cmd.Wait()

	c := startChild(t, "guard", journal, "KVOPS_GUARD_EVICT=3")
	rc := c.report(t)
	require.True(t, rc.Opened, "a dead holder's lock is released: %+v", rc)
	require.Equal(t, "busy", rc.Evict, "the first's eviction is replayed and counts against the blast radius")
	c.stop(t)
}

// TestSecondOpenInOneProcess: a second open of a journal in the same
// process is refused like another process's, naming this process.
func TestSecondOpenInOneProcess(t *testing.T) {
	path := filepath.Join(t.TempDir(), "journal.jsonl")
	j, err := guard.OpenFileJournal(path, guard.JournalConfig{Identity: "first"})
	require.NoError(t, err)
	_, err = guard.OpenFileJournal(path, guard.JournalConfig{})
	var le *subject.LockedError
	require.ErrorAs(t, err, &le)
	require.ErrorIs(t, err, subject.ErrPrecondition)
	require.Equal(t, os.Getpid(), le.Holder.PID)
	require.Equal(t, "first", le.Holder.Identity)
	require.Equal(t, path, le.Path)
	require.NoError(t, j.Close())
	require.NoError(t, j.Close(), "a second close does nothing")
	j, err = guard.OpenFileJournal(path, guard.JournalConfig{})
	require.NoError(t, err, "closed, it can be opened again")
	require.NoError(t, j.Close())
}

// TestFileJournalRepairsATornTail: a journal whose last line was cut short
// is cut back to its last whole line on open, says what it cut, and the
// next record starts a line of its own. Fixed by this work: the next
// record was appended to the torn bytes, and both were lost.
func TestFileJournalRepairsATornTail(t *testing.T) {
	whole := `{"schema":1,"id":"a1","event":"requested","action":"evict_leaders"}` + "\n"
	for _, tt := range []struct {
		name, content string
		want          *guard.TornTailError
	}{
		{"whole lines", whole + whole, nil},
		{"empty", "", nil},
		{"torn after two lines", whole + whole + `{"schema":1,"id":"a2","ev`,
			&guard.TornTailError{Line: 3, Offset: int64(2 * len(whole)), Len: 25, Tail: []byte(`{"schema":1,"id":"a2","ev`), Repaired: true}},
		{"a whole record without its newline", whole + whole[:len(whole)-1],
			&guard.TornTailError{Line: 2, Offset: int64(len(whole)), Len: int64(len(whole) - 1), Tail: []byte(whole[:len(whole)-1]), Repaired: true}},
		{"zeroes a crash left in the last block", whole + "\x00\x00\x00\x00",
			&guard.TornTailError{Line: 2, Offset: int64(len(whole)), Len: 4, Tail: []byte("\x00\x00\x00\x00"), Repaired: true}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "journal.jsonl")
			require.NoError(t, os.WriteFile(path, []byte(tt.content), 0o600))
			j, err := guard.OpenFileJournal(path, guard.JournalConfig{})
			require.NoError(t, err)
			defer j.Close()
			if tt.want != nil {
				tt.want.Path = path
			}
			require.Equal(t, tt.want, j.Repaired())
			kept := tt.content
			if tt.want != nil {
				kept = tt.content[:tt.want.Offset]
				require.ErrorIs(t, j.Repaired(), subject.ErrInvalid)
			}
			got, err := io.ReadAll(j.Records())
			require.NoError(t, err)
			require.Equal(t, kept, string(got), "Records is the repaired journal")

			_, err = j.Write([]byte("next\n"))
			require.NoError(t, err)
			b, err := os.ReadFile(path)
			require.NoError(t, err)
			require.Equal(t, kept+"next\n", string(b))
			got, err = io.ReadAll(j.Records())
			require.NoError(t, err)
			require.Equal(t, kept, string(got), "Records is the journal as it was opened")
		})
	}
}

// TestFileJournalAcrossCrashes: three starts of a guard on one journal,
// the first crashing while it wrote the outcome of an eviction. The
// second cuts the torn record off, confirms the eviction by a dry run and
// restores the leaders; the third finds nothing pending and evicts
// another store. Fixed by this work: the second start's records were
// appended to the torn bytes, so that at the third start the eviction
// looked pending (or in effect) again, and every disruptive action was
// refused.
func TestFileJournalAcrossCrashes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "journal.jsonl")
	starts := 0
	start := func() (*guard.Guard, *guard.FileJournal, error) {
		j, err := guard.OpenFileJournal(path, guard.JournalConfig{})
		require.NoError(t, err)
		starts++
		next := ids()
		newID := func() string { return fmt.Sprintf("s%d-%s", starts, next()) }
		g, err := guard.New(newFake(5), guard.Config{Mode: guard.ModeAutomatic, Journal: j, NewID: newID,
			Confirm: func(context.Context, guard.Pending) (guard.Resolution, error) {
				return guard.Resolution{Outcome: guard.OutcomeApplied, By: "test"}, nil
			}})
		require.NoError(t, err)
		return g, j, g.Replay(t.Context(), j.Records())
	}
	g, j, err := start()
	require.NoError(t, err)
	_, err = g.EvictLeaders(t.Context(), 2)
	require.NoError(t, err)
	require.NoError(t, j.Close())
	// The crash: the confirmed record cut short.
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	lines := bytes.SplitAfter(b, []byte("\n"))
	last := lines[len(lines)-2]
	require.Contains(t, string(last), `"event":"confirmed"`)
	require.NoError(t, os.WriteFile(path, b[:len(b)-len(last)+len(last)/2], 0o600))

	g, j, err = start()
	require.NoError(t, err, "the cut-off record is not in Records")
	require.NotNil(t, j.Repaired())
	require.Empty(t, g.Pending(), "the eviction, found submitted, was confirmed")
	ev, err := g.EvictedStores(t.Context())
	require.NoError(t, err)
	require.Equal(t, []subject.StoreID{2}, ev)
	_, err = g.RestoreLeaders(t.Context(), 2)
	require.NoError(t, err)
	require.NoError(t, j.Close())

	g, j, err = start()
	require.NoError(t, err)
	defer j.Close()
	require.Nil(t, j.Repaired())
	require.Empty(t, g.Pending())
	ev, err = g.EvictedStores(t.Context())
	require.NoError(t, err)
	require.Empty(t, ev, "the restore was recorded")
	_, err = g.EvictLeaders(t.Context(), 3)
	require.NoError(t, err)
	b, err = os.ReadFile(path)
	require.NoError(t, err)
	for line := range bytes.Lines(b) {
		var rec guard.Record
		require.NoError(t, json.Unmarshal(line, &rec), "every line of the journal is a record: %q", line)
	}
}

// TestSubmittedRecordIsInTheFileBeforeTheRequest: while the subject
// carries out the action, the journal's file (read by another open)
// already holds its submitted record: Write returned only once the
// record was written and synced.
func TestSubmittedRecordIsInTheFileBeforeTheRequest(t *testing.T) {
	path := filepath.Join(t.TempDir(), "journal.jsonl")
	j, err := guard.OpenFileJournal(path, guard.JournalConfig{})
	require.NoError(t, err)
	defer j.Close()
	f := newFake(5)
	f.block["drain_store store 4"] = make(chan struct{})
	f.started = make(chan string, 1)
	g, err := guard.New(f, guard.Config{Mode: guard.ModeAutomatic, Journal: j, NewID: ids()})
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { _, err := g.DrainStore(t.Context(), 4); done <- err }()
	<-f.started
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, guard.EventSubmitted, lastEvent(t, b))
	close(f.block["drain_store store 4"])
	require.NoError(t, <-done)
}

// TestFileJournalShortWrite: a record cut short by the file system (here
// a file-size limit, as a full disk would) fails the write, and what was
// written of it is cut off at once, so the next record starts on a line of
// its own. Run in a second process, since the limit is the process's.
func TestFileJournalShortWrite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "journal.jsonl")
	c := startChild(t, "fsize", path, "KVOPS_GUARD_FSIZE=300")
	r := c.report(t)
	require.Empty(t, r.Error)
	require.Equal(t, "<nil>", r.Writes[0])
	require.NotEqual(t, "<nil>", r.Writes[1])
	require.True(t, r.EFBIG, "the second write failed with EFBIG: %v", r.Writes)
	require.Equal(t, "<nil>", r.Writes[2], "the journal goes on after a failed write")
	require.NoError(t, c.cmd.Wait())
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, "first\nx\n", string(b), "nothing of the failed record is left")
}

// TestFileJournalWrites: a write must be whole lines; a closed journal
// refuses writes.
func TestFileJournalWrites(t *testing.T) {
	j, err := guard.OpenFileJournal(filepath.Join(t.TempDir(), "j"), guard.JournalConfig{})
	require.NoError(t, err)
	_, err = j.Write([]byte("no newline"))
	require.ErrorIs(t, err, subject.ErrInvalid)
	n, err := j.Write(nil)
	require.NoError(t, err)
	require.Zero(t, n)
	require.NoError(t, j.Close())
	_, err = j.Write([]byte("late\n"))
	require.ErrorIs(t, err, os.ErrClosed)
	_, err = io.ReadAll(j.Records())
	require.ErrorIs(t, err, os.ErrClosed)
	_, err = guard.OpenFileJournal("", guard.JournalConfig{})
	require.ErrorIs(t, err, subject.ErrInvalid)
}
