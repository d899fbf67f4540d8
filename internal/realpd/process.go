package realpd

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
)

// process is one child process, in a process group of its own, its
// standard output and error going to a file.
type process struct {
	cmd    *exec.Cmd
	out    *os.File
	exited chan struct{} // closed once the process has exited and been reaped
	err    error         // Wait's error; read after exited is closed
	once   sync.Once
}

// spawn starts name with args and env added to ours, writing its output to
// outPath.
func spawn(path string, args, env []string, outPath string) (*process, error) {
	out, err := os.OpenFile(outPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("realpd: %w", err)
	}
	cmd := exec.Command(path, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		out.Close()
		return nil, fmt.Errorf("realpd: start %s: %w", path, err)
	}
	p := &process{cmd: cmd, out: out, exited: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		out.Close()
		close(p.exited)
	}()
	return p, nil
}

// running reports whether the process has not exited yet.
func (p *process) running() bool {
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// kill kills the process's group with SIGKILL and waits for the process.
// It is safe to call more than once.
func (p *process) kill() error {
	var err error
	p.once.Do(func() {
		if p.running() {
			err = signalGroup(p.cmd.Process.Pid, syscall.SIGKILL)
			if errors.Is(err, syscall.ESRCH) { // exited meanwhile
				err = nil
			}
		}
		<-p.exited
	})
	return err
}

// signal sends sig to the process's group.
func (p *process) signal(sig syscall.Signal) error {
	if !p.running() {
		return fmt.Errorf("%w: pid %d", ErrExited, p.cmd.Process.Pid)
	}
	return signalGroup(p.cmd.Process.Pid, sig)
}

// tail returns the last n lines of the files, one after the other.
func tail(paths []string, n int) string {
	var b strings.Builder
	for _, path := range paths {
		f, err := os.Open(path)
		if err != nil {
			continue
		}
		var lines []string
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			lines = append(lines, sc.Text())
			if len(lines) > 2*n {
				lines = append(lines[:0], lines[len(lines)-n:]...)
			}
		}
		f.Close()
		for _, l := range lines[max(0, len(lines)-n):] {
			b.WriteString(l)
			b.WriteByte('\n')
		}
	}
	return b.String()
}

// contains reports whether any of the files holds s.
func contains(paths []string, s string) bool {
	for _, path := range paths {
		b, err := os.ReadFile(path)
		if err == nil && strings.Contains(string(b), s) {
			return true
		}
	}
	return false
}
