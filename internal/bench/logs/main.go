// Command logs measures how fast package logparse reads a real PD log, next
// to GNU grep on the same file in the same run.
//
//	go run ./internal/bench/logs -mb 100
//
// It repeats logparse/testdata/pd-balance-leader.log into a temporary file
// of at least -mb megabytes (10^6 bytes), then times, best of -runs:
//
//   - parse: a logparse.Reader over the file through its borrowing form
//     (AllRaw, which does not allocate), every field of every entry looked
//     at;
//   - parse, owned: the same through a plain range over All, every entry
//     an owned copy (what a caller that keeps entries pays);
//   - leadership: a logparse.EventReader over the file, every event turned
//     into a subject.LeadershipChange;
//   - grep: grep -c "leader changed" on the file.
//
// Each is timed by the wall clock and by CPU time (this process's for
// logparse, grep's own for grep), best of -runs: on a shared machine the
// wall time also counts waiting for a CPU, and a process started anew
// waits more than one already running.
//
// Its last line is
//
//	mb=N parseMBps=X parseOwnedMBps=O leadershipMBps=Y grepMBps=Z leadershipCPUMBps=C grepCPUMBps=G
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"iter"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/kvops/operator/internal/bench/modroot"
	"github.com/kvops/operator/logparse"
)

func main() {
	mb := flag.Int("mb", 100, "size of the input in megabytes (10^6 bytes)")
	runs := flag.Int("runs", 3, "runs of each measurement; the best is reported")
	logPath := flag.String("log", "", "the log to repeat (default: logparse/testdata/pd-balance-leader.log of this module)")
	flag.Parse()
	if err := run(*mb, *runs, *logPath); err != nil {
		fmt.Fprintln(os.Stderr, "logs:", err)
		os.Exit(1)
	}
}

func run(mb, runs int, logPath string) error {
	if mb <= 0 || runs <= 0 {
		return errors.New("-mb and -runs must be positive")
	}
	if logPath == "" {
		root, err := moduleRoot()
		if err != nil {
			return err
		}
		logPath = filepath.Join(root, "logparse", "testdata", "pd-balance-leader.log")
	}
	one, err := os.ReadFile(logPath)
	if err != nil {
		return err
	}
	f, err := os.CreateTemp("", "pd-log-*.log")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	want := int64(mb) * 1e6
	var size int64
	copies := 0
	for size < want {
		if _, err := f.Write(one); err != nil {
			return err
		}
		size += int64(len(one))
		copies++
	}
	if err := f.Close(); err != nil {
		return err
	}
	leaderPerCopy := bytes.Count(one, []byte("leader changed"))
	fmt.Printf("input: %s repeated %d times, %.1f MB, %d lines with \"leader changed\"\n", filepath.Base(logPath), copies, float64(size)/1e6, leaderPerCopy*copies)
	// Read it once so that every measurement finds it in the page cache.
	if err := readAll(f.Name()); err != nil {
		return err
	}

	parse, _, err := best(runs, func() (time.Duration, error) { return inProcess(func() error { return fullParseRaw(f.Name()) }) })
	if err != nil {
		return err
	}
	owned, _, err := best(runs, func() (time.Duration, error) { return inProcess(func() error { return fullParse(f.Name()) }) })
	if err != nil {
		return err
	}
	leadership, leadershipCPU, err := best(runs, func() (time.Duration, error) {
		return inProcess(func() error { return leadershipOnly(f.Name(), leaderPerCopy*copies) })
	})
	if err != nil {
		return err
	}
	grep, grepCPU, err := best(runs, func() (time.Duration, error) { return grepCount(f.Name(), leaderPerCopy*copies) })
	if err != nil {
		return err
	}
	rate := func(d time.Duration) float64 { return float64(size) / 1e6 / d.Seconds() }
	fmt.Printf("full parse (every field):  %v, %.0f MB/s (borrowed: AllRaw)\n", parse, rate(parse))
	fmt.Printf("full parse, owned entries: %v, %.0f MB/s (range All)\n", owned, rate(owned))
	fmt.Printf("leadership extraction:     %v, %.0f MB/s; CPU time %v, %.0f MB/s\n", leadership, rate(leadership), leadershipCPU, rate(leadershipCPU))
	fmt.Printf("grep -c \"leader changed\":  %v, %.0f MB/s; CPU time %v, %.0f MB/s\n", grep, rate(grep), grepCPU, rate(grepCPU))
	fmt.Printf("leadership/grep: %.2fx by wall time, %.2fx by CPU time\n", rate(leadership)/rate(grep), rate(leadershipCPU)/rate(grepCPU))
	fmt.Printf("mb=%d parseMBps=%.0f parseOwnedMBps=%.0f leadershipMBps=%.0f grepMBps=%.0f leadershipCPUMBps=%.0f grepCPUMBps=%.0f\n",
		mb, rate(parse), rate(owned), rate(leadership), rate(grep), rate(leadershipCPU), rate(grepCPU))
	return nil
}

// best runs f runs times and returns the least wall time and the least
// CPU time that f reported.
func best(runs int, f func() (cpu time.Duration, err error)) (wall, cpu time.Duration, err error) {
	for i := 0; i < runs; i++ {
		start := time.Now()
		c, err := f()
		if err != nil {
			return 0, 0, err
		}
		if d := time.Since(start); i == 0 || d < wall {
			wall = d
		}
		if i == 0 || c < cpu {
			cpu = c
		}
	}
	return wall, cpu, nil
}

// inProcess runs f and returns the CPU time this process spent meanwhile.
func inProcess(f func() error) (time.Duration, error) {
	cpu0 := cpuTime()
	err := f()
	return cpuTime() - cpu0, err
}

func readAll(path string) error {
	data, err := os.ReadFile(path)
	if err == nil && len(data) == 0 {
		err = errors.New("empty input")
	}
	return err
}

// fullParseRaw reads every entry through the borrowing form and looks at
// every field.
func fullParseRaw(path string) error {
	return parseAll(path, (*logparse.Reader).AllRaw, func(e *logparse.RawEntry) int {
		n := len(e.Source) + len(e.Message) + e.Time.Nanosecond()
		for _, f := range e.Fields {
			n += len(f.Key) + len(f.Value)
		}
		return n
	})
}

// fullParse reads every entry as an owned copy and looks at every field.
func fullParse(path string) error {
	return parseAll(path, (*logparse.Reader).All, func(e logparse.Entry) int {
		n := len(e.Source) + len(e.Message) + e.Time.Nanosecond()
		for _, f := range e.Fields {
			n += len(f.Key) + len(f.Value)
		}
		return n
	})
}

// parseAll ranges over the entries that all hands out for a Reader of the
// file, adding up what look finds in each.
func parseAll[E any](path string, all func(*logparse.Reader) iter.Seq2[E, error], look func(E) int) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	var entries, sum int
	for e, err := range all(logparse.NewReader(f)) {
		if err != nil {
			return err
		}
		entries++
		sum += look(e)
	}
	if entries == 0 || sum == 0 {
		return errors.New("nothing parsed")
	}
	return nil
}

// leadershipOnly extracts the events and checks their number.
func leadershipOnly(path string, wantLeader int) error {
	leader := 0
	err := eachItem(path, func(f *os.File) func() error {
		r := logparse.NewEventReader(f)
		return func() error {
			ev, err := r.Next()
			if c, ok := ev.Change(); err == nil && ok && c.From != 0 {
				leader++
			}
			return err
		}
	})
	if err == nil && leader != wantLeader {
		err = fmt.Errorf("found %d leader changes, want %d", leader, wantLeader)
	}
	return err
}

// eachItem opens the file and calls the step that newStep makes for it
// until the step returns io.EOF.
func eachItem(path string, newStep func(*os.File) func() error) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	step := newStep(f)
	for {
		if err := step(); err == io.EOF {
			return nil
		} else if err != nil {
			return err
		}
	}
}

// grepCount runs grep and returns its CPU time.
func grepCount(path string, want int) (time.Duration, error) {
	cmd := exec.Command("grep", "-c", "leader changed", path)
	out, err := cmd.Output()
	if err != nil {
		return 0, fmt.Errorf("grep: %w", err)
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(out)))
	if err != nil || n != want {
		return 0, fmt.Errorf("grep counted %q, want %d", out, want)
	}
	return cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime(), nil
}

// moduleRoot is the module's root directory.
func moduleRoot() (string, error) {
	dir, err := modroot.Find()
	if err != nil {
		return "", fmt.Errorf("%w: %s", err, "give -log")
	}
	return dir, nil
}
