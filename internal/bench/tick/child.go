package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/kvops/operator/subject"
	"github.com/kvops/operator/tikv/tikvtest"
)

// The simulator runs in a child process of this program, so that the
// process measuring the operator's CPU and memory runs the operator only.
// The parent drives it over the child's stdin and stdout, one command per
// line, one answer per line:
//
//	advance 10s      -> ok <sim time, unix nanoseconds>
//	stop|start 3     -> ok
//	slow 3 300ms     -> ok          (write latency; 0 restores it)
//	fill 3 0.95      -> ok          (disk usage; clear 3 undoes it)
//	clear 3          -> ok
//	pdleader         -> ok          (PD leadership moves on)
//	mem              -> ok <heap bytes after GC> <peak RSS bytes>
//
// An error answers "err <message>". The child serves PD's API until its
// stdin closes.

// childEnv, set to "<stores> <regions> <start unix ns>", makes this
// program (or its test binary) the simulator child.
const childEnv = "TICKBENCH_SIM_CHILD"

// serveChildEnv is serveChild configured by childEnv's value.
func serveChildEnv(spec string, in io.Reader, out io.Writer) error {
	var stores, regions int
	var start int64
	if _, err := fmt.Sscanf(spec, "%d %d %d", &stores, &regions, &start); err != nil {
		return fmt.Errorf("%w: %s=%q: %v", errChild, childEnv, spec, err)
	}
	return serveChild(stores, regions, time.Unix(0, start), in, out)
}

// errChild is a failure of the child process or of its protocol.
var errChild = errors.New("simulator child")

// serveChild is the child's side: it builds the cluster, serves its PD API
// on a loopback port and prints "ready <PD URL> <sim time>".
func serveChild(stores, regions int, start time.Time, in io.Reader, out io.Writer) error {
	clock := &fixedClock{t: start}
	c, err := tikvtest.NewUnstartedCluster(simConfig(stores, regions, clock))
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: c.PDHandler(), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	fmt.Fprintf(out, "ready http://%s %d\n", ln.Addr(), c.Now().UnixNano())
	sc := bufio.NewScanner(in)
	for sc.Scan() {
		answer, err := childCommand(c, sc.Text())
		if err != nil {
			fmt.Fprintf(out, "err %v\n", err)
			continue
		}
		fmt.Fprintf(out, "ok%s\n", answer)
	}
	return c.Close()
}

// childCommand runs one command line on the cluster.
func childCommand(c *tikvtest.Cluster, line string) (string, error) {
	f := strings.Fields(line)
	if len(f) == 0 {
		return "", fmt.Errorf("empty command")
	}
	arg := func(i int) string {
		if i < len(f) {
			return f[i]
		}
		return ""
	}
	store := func() (subject.StoreID, error) {
		n, err := strconv.ParseUint(arg(1), 10, 64)
		return subject.StoreID(n), err
	}
	switch f[0] {
	case "advance":
		d, err := time.ParseDuration(arg(1))
		if err != nil {
			return "", err
		}
		c.Advance(d)
		return " " + strconv.FormatInt(c.Now().UnixNano(), 10), nil
	case "pdleader":
		c.PDLeaderChange()
		return "", nil
	case "mem":
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		_, rss := usage()
		return fmt.Sprintf(" %d %d", ms.HeapAlloc, rss), nil
	}
	id, err := store()
	if err != nil {
		return "", err
	}
	switch f[0] {
	case "stop":
		return "", c.StopStore(id)
	case "start":
		return "", c.StartStore(id)
	case "slow":
		d, err := time.ParseDuration(arg(2))
		if err != nil {
			return "", err
		}
		return "", c.SetWriteLatency(id, d)
	case "fill":
		v, err := strconv.ParseFloat(arg(2), 64)
		if err != nil {
			return "", err
		}
		return "", c.SetDiskUsage(id, v)
	case "clear":
		return "", c.ClearDiskUsage(id)
	}
	return "", fmt.Errorf("unknown command %q", f[0])
}

// simConfig is the simulated cluster: disks of 1 TiB, as in PD's recorded
// answers, so that 3,000 replicas of 96 MiB fill a quarter of each.
func simConfig(stores, regions int, clock tikvtest.TimeSource) tikvtest.Config {
	return tikvtest.Config{Stores: stores, Regions: regions, Clock: clock, Seed: 1, StoreCapacity: 1 << 40}
}

// fixedClock is the simulator's clock: it only reads the start time.
type fixedClock struct{ t time.Time }

func (c *fixedClock) Now() time.Time { return c.t }

// driver moves a simulated cluster: in a child process (childDriver) or
// in this one (localDriver, for tests).
type driver interface {
	// PDURL is the PD API's base URL.
	PDURL() string
	// Do runs one command line (see the protocol above) and returns what
	// follows "ok".
	Do(cmd string) (string, error)
	// Close stops the simulator.
	Close() error
}

// childDriver runs the simulator in a child process of this binary.
type childDriver struct {
	cmd   *exec.Cmd
	in    io.WriteCloser
	out   *bufio.Scanner
	pdURL string
	start time.Time
}

func startChild(ctx context.Context, stores, regions int, start time.Time) (*childDriver, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, exe)
	cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%d %d %d", childEnv, stores, regions, start.UnixNano()))
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	outPipe, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	d := &childDriver{cmd: cmd, in: in, out: bufio.NewScanner(outPipe)}
	if !d.out.Scan() {
		_ = d.Close()
		return nil, fmt.Errorf("%w: exited before it was ready: %v", errChild, d.out.Err())
	}
	var ns int64
	if _, err := fmt.Sscanf(d.out.Text(), "ready %s %d", &d.pdURL, &ns); err != nil {
		_ = d.Close()
		return nil, fmt.Errorf("%w: %q: %v", errChild, d.out.Text(), err)
	}
	d.start = time.Unix(0, ns)
	return d, nil
}

func (d *childDriver) PDURL() string { return d.pdURL }

func (d *childDriver) Do(cmd string) (string, error) {
	if _, err := fmt.Fprintln(d.in, cmd); err != nil {
		return "", fmt.Errorf("%w: %v", errChild, err)
	}
	if !d.out.Scan() {
		return "", fmt.Errorf("%w: no answer to %q: %v", errChild, cmd, d.out.Err())
	}
	line := d.out.Text()
	if rest, ok := strings.CutPrefix(line, "ok"); ok {
		return strings.TrimSpace(rest), nil
	}
	return "", fmt.Errorf("%w: %s: %s", errChild, cmd, line)
}

func (d *childDriver) Close() error {
	_ = d.in.Close()
	return d.cmd.Wait()
}

// localDriver runs the simulator in this process.
type localDriver struct {
	c   *tikvtest.Cluster
	srv *http.Server
	url string
}

func startLocal(stores, regions int, start time.Time) (*localDriver, error) {
	c, err := tikvtest.NewUnstartedCluster(simConfig(stores, regions, &fixedClock{t: start}))
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	d := &localDriver{c: c, srv: &http.Server{Handler: c.PDHandler(), ReadHeaderTimeout: 10 * time.Second}, url: "http://" + ln.Addr().String()}
	go func() { _ = d.srv.Serve(ln) }()
	return d, nil
}

func (d *localDriver) PDURL() string { return d.url }

func (d *localDriver) Do(cmd string) (string, error) {
	out, err := childCommand(d.c, cmd)
	return strings.TrimSpace(out), err
}

func (d *localDriver) Close() error { return errors.Join(d.srv.Close(), d.c.Close()) }

// advance moves the cluster's time on by step and returns the new time.
func advance(d driver, step time.Duration) (time.Time, error) {
	out, err := d.Do("advance " + step.String())
	if err != nil {
		return time.Time{}, err
	}
	ns, err := strconv.ParseInt(out, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("%w: advance answered %q", errChild, out)
	}
	return time.Unix(0, ns), nil
}
