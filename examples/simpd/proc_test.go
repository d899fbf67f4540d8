package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kvops/operator/internal/syncbuf"
)

// bins holds the programs TestMain builds: simpd and examples/watch.
var bins struct {
	dir               string
	simpd, watch, mcp string
}

func TestMain(m *testing.M) {
	if cfg := os.Getenv(envOperator); cfg != "" {
		// This test binary started again as the operator process.
		if err := operatorMain(cfg); err != nil {
			fmt.Fprintln(os.Stderr, "operator:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(buildAndRun(m))
}

func buildAndRun(m *testing.M) int {
	dir, err := os.MkdirTemp("", "simpd-test-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	bins.dir, bins.simpd, bins.watch, bins.mcp = dir, filepath.Join(dir, "simpd"), filepath.Join(dir, "watch"), filepath.Join(dir, "mcp")
	for out, pkg := range map[string]string{bins.simpd: ".", bins.watch: "../watch", bins.mcp: "../mcp"} {
		cmd := exec.Command("go", "build", "-o", out, pkg)
		if b, err := cmd.CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "go build %s: %v\n%s", pkg, err, b)
			return 1
		}
	}
	return m.Run()
}

// lineWait bounds every wait for a process's line; a wait ends as soon as
// the line comes.
const lineWait = 60 * time.Second

// proc is a child process whose stdout lines are kept as they come.
type proc struct {
	cmd    *exec.Cmd
	exited chan struct{} // closed once it exited and its output was read
	err    error         // Wait's, once exited is closed

	mu      sync.Mutex
	lines   []string
	changed chan struct{} // closed and replaced at each line
	stderr  syncbuf.Buffer
}

// start runs name with args (and env added) and reads its stdout.
func start(t *testing.T, env []string, name string, args ...string) *proc {
	t.Helper()
	p := &proc{cmd: exec.Command(name, args...), exited: make(chan struct{}), changed: make(chan struct{})}
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.Stderr = &p.stderr
	out, err := p.cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, p.cmd.Start())
	go func() {
		p.read(out)
		p.err = p.cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-p.exited:
			return
		default:
		}
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.exited:
		case <-time.After(lineWait):
			_ = p.cmd.Process.Kill()
			<-p.exited
			t.Errorf("%s did not stop on SIGTERM", name)
		}
	})
	return p
}

func (p *proc) read(r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		p.mu.Lock()
		p.lines = append(p.lines, sc.Text())
		close(p.changed)
		p.changed = make(chan struct{})
		p.mu.Unlock()
	}
	p.mu.Lock()
	close(p.changed) // no more lines: waiters look once more and give up
	p.changed = make(chan struct{})
	p.mu.Unlock()
}

// Lines returns the lines read so far.
func (p *proc) Lines() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.lines...)
}

// await returns the first line from index from on that match accepts,
// and its index, waiting (bounded) for it; it fails the test if the
// process ends or lineWait passes first.
func (p *proc) await(t *testing.T, from int, what string, match func(line string) bool) (string, int) {
	t.Helper()
	deadline := time.After(lineWait)
	for {
		p.mu.Lock()
		lines, changed := p.lines, p.changed
		p.mu.Unlock()
		for i := from; i < len(lines); i++ {
			if match(lines[i]) {
				return lines[i], i
			}
		}
		from = max(from, len(lines))
		select {
		case <-changed:
		case <-p.exited:
			if len(p.Lines()) > from {
				continue
			}
			t.Fatalf("%s exited (%v) before %s; stdout:\n%s\nstderr:\n%s", p.cmd.Path, p.err, what, joinLines(p.Lines()), p.stderr.String())
		case <-deadline:
			t.Fatalf("no %s within %v; stdout:\n%s\nstderr:\n%s", what, lineWait, joinLines(p.Lines()), p.stderr.String())
		}
	}
}

// wait waits (bounded) for the process to exit and returns Wait's error.
func (p *proc) wait(t *testing.T) error {
	t.Helper()
	select {
	case <-p.exited:
		return p.err
	case <-time.After(lineWait):
		t.Fatalf("%s still runs after %v; stdout:\n%s\nstderr:\n%s", p.cmd.Path, lineWait, joinLines(p.Lines()), p.stderr.String())
		return nil
	}
}

func joinLines(ls []string) string {
	out := ""
	for _, l := range ls {
		out += l + "\n"
	}
	return out
}

// event decodes a JSON line's "event" field, "" if it has none.
func event(line string) string {
	var e struct{ Event string }
	_ = json.Unmarshal([]byte(line), &e)
	return e.Event
}

// startSimpd runs simpd on a free port with args and returns it and its
// ready line.
func startSimpd(t *testing.T, args ...string) (*proc, readyLine) {
	t.Helper()
	p := start(t, nil, bins.simpd, append([]string{"-addr", "127.0.0.1:0"}, args...)...)
	line, i := p.await(t, 0, "ready line", func(string) bool { return true })
	require.Zero(t, i)
	var r readyLine
	require.NoError(t, json.Unmarshal([]byte(line), &r), line)
	require.Equal(t, "ready", r.Event, "the first line is the ready line: %s", line)
	return p, r
}
