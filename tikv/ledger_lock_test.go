package tikv

import (
	"bufio"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/kvops/operator/subject"
)

// ledgerChildEnv makes the test binary, started by
// TestFileLedgerSecondProcess, a second process holding (or failing to
// hold) the ledger it names.
const ledgerChildEnv = "KVOPS_TIKV_LEDGER_CHILD"

// ledgerChild opens the ledger, reports on stdout, and holds it until its
// stdin closes.
func ledgerChild(path string) int {
	type report struct {
		PID    int    `json:"pid"`
		Opened bool   `json:"opened"`
		Holder int    `json:"holder"`
		Error  string `json:"error,omitempty"`
	}
	r := report{PID: os.Getpid()}
	l, err := OpenFileLedger(path, FileLedgerConfig{Identity: "child"})
	if err != nil {
		var le *subject.LockedError
		if errors.As(err, &le) {
			r.Holder = le.Holder.PID
		}
		r.Error = err.Error()
		_ = json.NewEncoder(os.Stdout).Encode(r)
		return 0
	}
	defer l.Close()
	r.Opened = true
	_ = json.NewEncoder(os.Stdout).Encode(r)
	_, _ = io.Copy(io.Discard, os.Stdin)
	return 0
}

// TestFileLedgerSecondProcess: while one process holds the ledger, a second
// opening it fails at once with a *subject.LockedError naming the first;
// this process too, while the child holds it. Once the holder has gone,
// the ledger opens again. Fixed by this work: any number of processes
// shared the file, each removing the others' evictions as not its own.
func TestFileLedgerSecondProcess(t *testing.T) {
	path := filepath.Join(t.TempDir(), "evictions.json")
	type report struct {
		PID    int    `json:"pid"`
		Opened bool   `json:"opened"`
		Holder int    `json:"holder"`
		Error  string `json:"error"`
	}
	start := func() (*exec.Cmd, io.WriteCloser, report) {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), ledgerChildEnv+"="+path)
		cmd.Stderr = os.Stderr
		stdin, err := cmd.StdinPipe()
		require.NoError(t, err)
		stdout, err := cmd.StdoutPipe()
		require.NoError(t, err)
		require.NoError(t, cmd.Start())
		t.Cleanup(func() { _ = stdin.Close(); _ = cmd.Process.Kill(); _ = cmd.Wait() })
		sc := bufio.NewScanner(stdout)
		require.True(t, sc.Scan(), "no report from the child")
		var r report
		require.NoError(t, json.Unmarshal(sc.Bytes(), &r))
		return cmd, stdin, r
	}
	first, stdin, r1 := start()
	require.True(t, r1.Opened, "%+v", r1)

	_, _, r2 := start()
	require.False(t, r2.Opened)
	require.Equal(t, first.Process.Pid, r2.Holder, "the error names the holder: %s", r2.Error)

	_, err := OpenFileLedger(path, FileLedgerConfig{})
	var le *subject.LockedError
	require.ErrorAs(t, err, &le)
	require.ErrorIs(t, err, subject.ErrPrecondition)
	require.Equal(t, first.Process.Pid, le.Holder.PID)
	require.Equal(t, "child", le.Holder.Identity)

	require.NoError(t, stdin.Close())
	require.NoError(t, first.Wait())
	l, err := OpenFileLedger(path, FileLedgerConfig{})
	require.NoError(t, err, "the holder has gone")
	require.NoError(t, l.Close())
}
