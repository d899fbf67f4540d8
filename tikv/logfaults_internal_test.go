package tikv

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/client"
	gocmp "github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/kvops/operator/invariant"
	"github.com/kvops/operator/logparse"
	"github.com/kvops/operator/subject"
)

// The drills below break a Subject's log source between two evaluations of
// invariants that read leadership changes through the Subject, and check
// that the failure is a typed error naming the source, that no goroutine
// is left behind, and that the evaluator keeps every state and grace clock:
// a firing alert stays firing, a pending one keeps its first-seen time,
// nothing fires or resolves because the log could not be read.

// Names of the drills' invariants.
const (
	invChurn     = "leader_churn"      // fires at once
	invChurnHeld = "leader_churn_held" // fires after a minute
)

// churnInvariant is a leadership-churn check: a region whose leader
// changed more than max times in the window before now, as the subject's
// log tells, is a violation. PD's "leader changed" lines and TiKV's
// "became leader" lines count; followers do not.
func churnInvariant(name string, sub *Subject, now func() time.Time, window time.Duration, max int, grace time.Duration) invariant.Invariant {
	return invariant.Invariant{
		Name: name, Grace: grace, Severity: invariant.SeverityWarning,
		Description: fmt.Sprintf("no region changes leader more than %d times in %v", max, window),
		Check: func(ctx context.Context, _ time.Time) ([]invariant.Finding, error) {
			changes, err := sub.LeadershipChanges(ctx, now().Add(-window))
			if err != nil {
				// What was read before the error is not all there is:
				// judging on it could resolve a real alert.
				return nil, err
			}
			n := map[subject.RegionID]int{}
			for _, c := range changes {
				if c.Role == "" || c.Role == "leader" {
					n[c.Region]++
				}
			}
			var out []invariant.Finding
			for r, k := range n {
				if k > max {
					out = append(out, invariant.Finding{Key: fmt.Sprintf("region=%d", r), Value: float64(k),
						Message: fmt.Sprintf("region %d changed leader %d times in %v", r, k, window)})
				}
			}
			slices.SortFunc(out, func(a, b invariant.Finding) int { return cmp.Compare(a.Key, b.Key) })
			return out, nil
		},
	}
}

// churnLog is a PD log from base on: region 7 changes leader three times
// (churn), region 8 once (no churn), and a line of another kind.
func churnLog(base time.Time) string {
	var b strings.Builder
	for i, c := range []struct{ region, from, to int }{{7, 1, 2}, {8, 1, 3}, {7, 2, 3}, {7, 3, 1}} {
		b.Write(logparse.Format(logparse.Entry{
			Time: base.Add(time.Duration(i+1) * time.Second), Level: logparse.LevelInfo, Source: "region.go:900",
			Message: "leader changed",
			Fields:  []logparse.Field{{Key: "region-id", Value: fmt.Sprint(c.region)}, {Key: "from", Value: fmt.Sprint(c.from)}, {Key: "to", Value: fmt.Sprint(c.to)}},
		}))
	}
	b.Write(logparse.Format(logparse.Entry{Time: base.Add(5 * time.Second), Level: logparse.LevelWarn, Source: "cluster.go:1543",
		Message: "store disconnected", Fields: []logparse.Field{{Key: "store-id", Value: "4"}}}))
	return b.String()
}

// drill evaluates the churn invariants over a Subject reading src, at
// times it sets.
type drill struct {
	t   *testing.T
	e   *invariant.Evaluator
	now time.Time
}

func newDrill(t *testing.T, src LogSource) *drill {
	t.Helper()
	sub, err := New(Config{DisableMetrics: true, Logs: src})
	require.NoError(t, err)
	d := &drill{t: t}
	now := func() time.Time { return d.now }
	e, err := invariant.New([]invariant.Invariant{
		churnInvariant(invChurn, sub, now, 5*time.Minute, 2, 0),
		churnInvariant(invChurnHeld, sub, now, 5*time.Minute, 2, time.Minute),
	})
	require.NoError(t, err)
	d.e = e
	return d
}

// tick evaluates at now and returns the transitions as strings, and the
// checks' errors.
func (d *drill) tick(now time.Time) (transitions []string, errs []error) {
	d.t.Helper()
	d.now = now
	rep, err := d.e.Evaluate(d.t.Context(), now)
	require.NoError(d.t, err)
	for _, tr := range rep.Transitions {
		transitions = append(transitions, fmt.Sprintf("%s %s: %s -> %s", tr.Invariant, tr.Key, tr.From, tr.To))
	}
	for _, ce := range rep.Errors {
		errs = append(errs, ce.Err)
	}
	return transitions, errs
}

// run is the drill: a first evaluation at base+10s sees region 7's churn
// (firing at once, and pending for the held invariant); then breakIt
// breaks the source, and the evaluation at base+40s must fail with an
// error that want accepts, changing nothing. Then, when repair is not nil,
// it mends the source, and at base+80s the held alert fires: its grace
// clock ran from the first evaluation, across the failed one.
func (d *drill) run(base time.Time, breakIt func(), want func(error) bool, repair func()) {
	t := d.t
	t.Helper()
	tr, errs := d.tick(base.Add(10 * time.Second))
	require.Empty(t, errs, "the first evaluation reads the log: %v", errs)
	require.Equal(t, []string{
		invChurn + " region=7: inactive -> firing",
		invChurnHeld + " region=7: inactive -> pending",
	}, tr)
	before := d.e.Alerts()

	breakIt()
	tr, errs = d.tick(base.Add(40 * time.Second))
	if len(tr) != 0 {
		t.Errorf("the failed evaluation changed states: %v", tr)
	}
	require.Len(t, errs, 2, "both checks fail")
	for _, err := range errs {
		if !want(err) {
			t.Errorf("unexpected error: %v", err)
		}
		var lse *LogSourceError
		if !errors.As(err, &lse) || lse.Source == "" || !strings.Contains(err.Error(), lse.Source) {
			t.Errorf("the error does not name its source: %#v", err)
		}
		if !strings.HasPrefix(err.Error(), "tikv: leadership changes: ") {
			t.Errorf("the error does not say what failed: %v", err)
		}
	}
	if diff := gocmp.Diff(before, d.e.Alerts()); diff != "" {
		t.Errorf("states changed by the failed evaluation (-before +after):\n%s", diff)
	}
	if repair == nil {
		return
	}
	repair()
	tr, errs = d.tick(base.Add(80 * time.Second))
	require.Empty(t, errs, "the repaired source reads")
	require.Equal(t, []string{invChurnHeld + " region=7: pending -> firing"}, tr,
		"the held alert fires a minute after it was first seen, across the failed evaluation")
}

// fileDrill writes churnLog(logBase) to a file and returns its path and a
// drill reading it.
func fileDrill(t *testing.T) (string, *drill) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "pd.log")
	writeFile(t, path, churnLog(logBase), time.Time{})
	return path, newDrill(t, NewFileLogSource(path))
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
			func(err error) bool { return errors.Is(err, ErrLogNotFound) && errors.Is(err, subject.ErrNotFound) }},
		{"directory", func(path string) { require.NoError(t, os.Remove(path)); require.NoError(t, os.Mkdir(path, 0o755)) },
			func(err error) bool { return errors.Is(err, ErrLogRead) }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
			path, d := fileDrill(t)
			d.run(logBase, func() { tt.breakIt(path) }, tt.want, func() {
				require.NoError(t, os.RemoveAll(path))
				writeFile(t, path, churnLog(logBase), time.Time{})
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
	writeFile(t, path, churnLog(logBase), time.Time{})
	d := newDrill(t, NewFileLogSource(path))
	d.run(logBase,
		func() {
			require.NoError(t, os.Truncate(path, 0))
			appendFile(t, path, logLine(30, "after the truncation"))
		},
		func(err error) bool { return errors.Is(err, ErrLogTruncated) },
		nil)
	// Still within the window of the lost entries: still an error.
	tr, errs := d.tick(logBase.Add(4 * time.Minute))
	require.Empty(t, tr)
	require.Len(t, errs, 2)
	// The window starts after the lost entries: the log is judged again,
	// and it has no churn.
	tr, errs = d.tick(logBase.Add(6 * time.Minute))
	require.Empty(t, errs)
	require.Equal(t, []string{invChurn + " region=7: firing -> resolved", invChurnHeld + " region=7: pending -> inactive"}, tr)
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
			writeFile(t, path, logLine(30, "after the rotation"), time.Time{})
		}},
		{"copytruncate", func(path string) {
			b, err := os.ReadFile(path)
			require.NoError(t, err)
			writeFile(t, path+".1", string(b), time.Time{})
			require.NoError(t, os.Truncate(path, 0))
			appendFile(t, path, logLine(30, "after the truncation"))
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
			path, d := fileDrill(t)
			tr, errs := d.tick(logBase.Add(10 * time.Second))
			require.Empty(t, errs)
			require.Len(t, tr, 2)
			tt.rotate(path)
			tr, errs = d.tick(logBase.Add(80 * time.Second))
			require.Empty(t, errs)
			require.Equal(t, []string{invChurnHeld + " region=7: pending -> firing"}, tr)
		})
	}
}

// TestLogFaultBadLines: lines that do not parse, binary junk and an entry
// over the size limit among the log's lines are skipped; the changes
// around them are all counted.
func TestLogFaultBadLines(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	path := filepath.Join(t.TempDir(), "pd.log")
	log := churnLog(logBase)
	lines := strings.SplitAfter(log, "\n")
	junk := "\x00\x01\xff\xfe binary\n[2024/07/24 12:47:01.500 +00:00] [LOUD] [x.go:1] [bad level]\n[not a time] [INFO] [x]\n" +
		string(logparse.Format(logparse.Entry{Time: logBase.Add(1500 * time.Millisecond), Level: logparse.LevelInfo, Message: "big",
			Fields: []logparse.Field{{Key: "v", Value: strings.Repeat("x", 2<<20)}}}))
	writeFile(t, path, lines[0]+junk+strings.Join(lines[1:], ""), time.Time{})
	d := newDrill(t, NewFileLogSource(path, WithFileMaxEntrySize(1<<20)))
	tr, errs := d.tick(logBase.Add(10 * time.Second))
	require.Empty(t, errs)
	require.Equal(t, []string{invChurn + " region=7: inactive -> firing", invChurnHeld + " region=7: inactive -> pending"}, tr)
}

// churnLines returns churnLog(base) as logwriter commands, one per line.
func churnLines(base time.Time) []string {
	var out []string
	for _, l := range strings.Split(strings.TrimSuffix(churnLog(base), "\n"), "\n") {
		out = append(out, "out:"+l)
	}
	return out
}

// engineProxy forwards connections from a unix socket to the Docker
// Engine, and can be stopped (the engine is then unreachable through it)
// and started again on the same path.
type engineProxy struct {
	t         *testing.T
	path      string
	net, addr string // the engine's
	ln        net.Listener
	mu        sync.Mutex
	conns     []net.Conn
	wg        sync.WaitGroup
}

func newEngineProxy(t *testing.T, cli *client.Client) *engineProxy {
	t.Helper()
	u, err := url.Parse(cli.DaemonHost())
	require.NoError(t, err)
	p := &engineProxy{t: t, path: filepath.Join(t.TempDir(), "docker.sock"), net: u.Scheme, addr: u.Host}
	if u.Scheme == "unix" {
		p.addr = u.Path
	}
	if p.net != "unix" && p.net != "tcp" {
		t.Skipf("engine at %s: the proxy forwards unix and tcp only", cli.DaemonHost())
	}
	p.start()
	t.Cleanup(p.stop)
	return p
}

func (p *engineProxy) host() string { return "unix://" + p.path }

func (p *engineProxy) start() {
	ln, err := net.Listen("unix", p.path)
	require.NoError(p.t, err)
	p.ln = ln
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial(p.net, p.addr)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, up)
			p.mu.Unlock()
			p.wg.Add(2)
			go func() { defer p.wg.Done(); _, _ = io.Copy(up, c); up.Close() }()
			go func() { defer p.wg.Done(); _, _ = io.Copy(c, up); c.Close() }()
		}
	}()
}

// stop closes the socket and every connection through it, and waits for
// the proxy's goroutines.
func (p *engineProxy) stop() {
	if p.ln == nil {
		return
	}
	p.ln.Close()
	os.Remove(p.path)
	p.mu.Lock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
	p.mu.Unlock()
	p.wg.Wait()
	p.ln = nil
}

// TestLogFaultDockerUnreachable: the Docker Engine goes away between two
// evaluations (the socket the client talks to is closed), then comes back.
func TestLogFaultDockerUnreachable(t *testing.T) {
	cli := dockerClient(t)
	base := time.Now().UTC().Truncate(time.Second).Add(-20 * time.Second)
	id, _ := runWriter(t, cli, false, false, churnLines(base)...)
	waitExit(t, cli, id)
	proxy := newEngineProxy(t, cli)

	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	t.Setenv("DOCKER_HOST", proxy.host())
	src, err := NewDockerLogSource(id)
	require.NoError(t, err)
	defer src.Close()
	d := newDrill(t, src)
	d.run(base, proxy.stop,
		func(err error) bool { return errors.Is(err, ErrLogUnreachable) },
		proxy.start)
	proxy.stop()
}

// TestLogFaultDockerNoEngine: DOCKER_HOST names a unix socket or a TCP
// address where no engine listens. Needs no engine.
func TestLogFaultDockerNoEngine(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	deadTCP := "tcp://" + ln.Addr().String()
	require.NoError(t, ln.Close())
	for _, host := range []string{"unix://" + filepath.Join(t.TempDir(), "docker.sock"), deadTCP} {
		t.Run(host, func(t *testing.T) {
			defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
			t.Setenv("DOCKER_HOST", host)
			src, err := NewDockerLogSource("tikv-0")
			require.NoError(t, err)
			defer src.Close()
			d := newDrill(t, src)
			tr, errs := d.tick(logBase)
			require.Empty(t, tr)
			require.Len(t, errs, 2)
			for _, err := range errs {
				var lse *LogSourceError
				if !errors.Is(err, ErrLogUnreachable) || !errors.As(err, &lse) || lse.Source != "tikv-0" {
					t.Errorf("got %v, want ErrLogUnreachable naming tikv-0", err)
				}
			}
			require.Empty(t, d.e.Alerts())
		})
	}
}

// TestLogFaultDockerRemoved: the container is removed between two
// evaluations.
func TestLogFaultDockerRemoved(t *testing.T) {
	cli := dockerClient(t)
	base := time.Now().UTC().Truncate(time.Second).Add(-20 * time.Second)
	id, _ := runWriter(t, cli, false, true, append(churnLines(base), "wait")...)
	// The container keeps running, so that removing it is what breaks the
	// source: wait until the engine holds its lines, which it takes from
	// the container's output a little after the start.
	waitLogged(t, id, base, len(churnLines(base)))

	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	src, err := NewDockerLogSource(id)
	require.NoError(t, err)
	defer src.Close()
	d := newDrill(t, src)
	d.run(base,
		func() { require.NoError(t, cli.ContainerRemove(t.Context(), id, container.RemoveOptions{Force: true})) },
		func(err error) bool { return errors.Is(err, ErrLogNotFound) && errors.Is(err, subject.ErrNotFound) },
		nil)
}

// TestDockerLogSourceJustStarted: a read of a container that has just
// started sees what the engine has logged so far, which may be nothing
// yet: the engine takes the container's output a little after it is
// written. Nothing is lost by reading early: a later read, once the engine
// holds the lines, sees them all, and the early read does not make it
// report entries gone.
func TestDockerLogSourceJustStarted(t *testing.T) {
	cli := dockerClient(t)
	base := time.Now().UTC().Truncate(time.Second).Add(-20 * time.Second)
	lines := churnLines(base)
	id, _ := runWriter(t, cli, false, true, append(lines, "wait")...)
	src, err := NewDockerLogSource(id, WithDockerClient(cli))
	require.NoError(t, err)
	defer src.Close()
	var want []time.Time // the lines' times, in order
	for i := range lines {
		want = append(want, base.Add(time.Duration(i+1)*time.Second))
	}
	read := func() []time.Time {
		t.Helper()
		var got []time.Time
		for e, err := range src.Entries(t.Context(), base, time.Time{}) {
			require.NoError(t, err)
			got = append(got, e.Time)
		}
		return got
	}
	early := read()
	require.LessOrEqual(t, len(early), len(want))
	if len(early) > 0 {
		require.Equal(t, want[:len(early)], early, "the early read sees the first lines or none")
	}

	waitLogged(t, id, base, len(lines))
	require.Equal(t, want, read(), "a later read, after an early one of %d entries", len(early))
}

// waitLogged waits until the log of the running container id holds n
// entries from since on, following it through the engine (which sends
// each line once it has logged it), for at most a minute. It uses a client
// of its own, so that it leaves the test's connections as they were.
func waitLogged(t *testing.T, id string, since time.Time, n int) {
	t.Helper()
	src, err := NewDockerLogSource(id)
	require.NoError(t, err)
	defer src.Close()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	seen := 0
	for _, err := range src.Follow(ctx, since) {
		require.NoError(t, err, "following the container's log")
		if seen++; seen == n {
			return
		}
	}
	t.Fatalf("the container's log holds %d of %d entries after a minute", seen, n)
}

// TestLogFaultDockerFollowBroken: a followed container log ends when the
// container is removed or the engine becomes unreachable: a typed error
// naming the container, the stream ends, no goroutine is left behind.
func TestLogFaultDockerFollowBroken(t *testing.T) {
	cli := dockerClient(t)
	for _, tt := range []struct {
		name     string
		viaProxy bool
		want     []error
	}{
		{"removed", false, []error{ErrLogNotFound, ErrLogStopped}},
		{"engine unreachable", true, []error{ErrLogUnreachable}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			base := time.Now().UTC().Truncate(time.Second)
			id, _ := runWriter(t, cli, false, true, append(churnLines(base), "wait")...)
			var proxy *engineProxy
			if tt.viaProxy {
				proxy = newEngineProxy(t, cli)
			}

			defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
			if proxy != nil {
				t.Setenv("DOCKER_HOST", proxy.host())
			}
			src, err := NewDockerLogSource(id)
			require.NoError(t, err)
			defer src.Close()
			// A safety net only: the stream ends on the fault.
			ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
			defer cancel()
			next, stop := iter.Pull2(src.Follow(ctx, base))
			defer stop()
			for range 5 { // churnLog's lines
				_, err, ok := next()
				require.True(t, ok)
				require.NoError(t, err)
			}
			if proxy != nil {
				proxy.stop()
			} else {
				require.NoError(t, cli.ContainerRemove(ctx, id, container.RemoveOptions{Force: true}))
			}
			_, err, ok := next()
			require.True(t, ok, "the stream ended without an error")
			var lse *LogSourceError
			if !slices.ContainsFunc(tt.want, func(k error) bool { return errors.Is(err, k) }) || !errors.As(err, &lse) || lse.Source != id {
				t.Errorf("got %v, want one of %v naming the container", err, tt.want)
			}
			t.Logf("error: %v", err)
			if ctx.Err() != nil {
				t.Fatal("the follow ended by the safety timeout, not by the fault")
			}
			if _, _, ok := next(); ok {
				t.Error("the stream goes on after the error")
			}
		})
	}
}

// TestLogFaultDockerReplaced: the container is removed and another one
// started under the same name between two evaluations; its log does not
// hold the entries the first evaluation saw, which are in the window.
func TestLogFaultDockerReplaced(t *testing.T) {
	cli := dockerClient(t)
	base := time.Now().UTC().Truncate(time.Second).Add(-20 * time.Second)
	name := "kvops-logwriter-" + randomHex()
	start := func(args ...string) string {
		created, err := cli.ContainerCreate(t.Context(), &container.Config{Image: logwriterImage(t, cli), Cmd: args}, &container.HostConfig{}, nil, nil, name)
		require.NoError(t, err)
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			_ = cli.ContainerRemove(ctx, created.ID, container.RemoveOptions{Force: true})
		})
		require.NoError(t, cli.ContainerStart(t.Context(), created.ID, container.StartOptions{}))
		waitExit(t, cli, created.ID)
		return created.ID
	}
	first := start(churnLines(base)...)

	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	src, err := NewDockerLogSource(name)
	require.NoError(t, err)
	defer src.Close()
	d := newDrill(t, src)
	d.run(base,
		func() {
			require.NoError(t, cli.ContainerRemove(t.Context(), first, container.RemoveOptions{Force: true}))
			start("out:" + stamped(base, 30, "a new container"))
		},
		func(err error) bool { return errors.Is(err, ErrLogTruncated) },
		nil)
}
