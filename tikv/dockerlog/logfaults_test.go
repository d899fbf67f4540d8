package dockerlog

import (
	"context"
	"errors"
	"io"
	"iter"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/client"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/kvops/operator/subject"
	"github.com/kvops/operator/tikv"
	"github.com/kvops/operator/tikv/internal/logdrill"
)

// The fault drills of Docker sources (see package tikv/internal/logdrill):
// a Subject reading a container's log, broken between two evaluations.

// logBase is when the drills that need no container start.
var logBase = time.Date(2024, 7, 24, 12, 47, 0, 0, time.UTC)

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
	id, _ := runWriter(t, cli, false, false, logdrill.ChurnLines(base)...)
	waitExit(t, cli, id)
	proxy := newEngineProxy(t, cli)

	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	t.Setenv("DOCKER_HOST", proxy.host())
	src, err := New(Config{Container: id})
	require.NoError(t, err)
	defer src.Close()
	d := logdrill.New(t, src)
	d.Run(base, proxy.stop,
		func(err error) bool { return errors.Is(err, tikv.ErrLogUnreachable) },
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
			src, err := New(Config{Container: "tikv-0"})
			require.NoError(t, err)
			defer src.Close()
			d := logdrill.New(t, src)
			tr, errs := d.Tick(logBase)
			require.Empty(t, tr)
			require.Len(t, errs, 2)
			for _, err := range errs {
				var lse *tikv.LogSourceError
				if !errors.Is(err, tikv.ErrLogUnreachable) || !errors.As(err, &lse) || lse.Source != "tikv-0" {
					t.Errorf("got %v, want tikv.ErrLogUnreachable naming tikv-0", err)
				}
			}
			require.Empty(t, d.E.Alerts())
		})
	}
}

// TestLogFaultDockerRemoved: the container is removed between two
// evaluations.
func TestLogFaultDockerRemoved(t *testing.T) {
	cli := dockerClient(t)
	base := time.Now().UTC().Truncate(time.Second).Add(-20 * time.Second)
	id, _ := runWriter(t, cli, false, true, append(logdrill.ChurnLines(base), "wait")...)
	// The container keeps running, so that removing it is what breaks the
	// source: wait until the engine holds its lines, which it takes from
	// the container's output a little after the start.
	waitLogged(t, id, base, len(logdrill.ChurnLines(base)))

	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	src, err := New(Config{Container: id})
	require.NoError(t, err)
	defer src.Close()
	d := logdrill.New(t, src)
	d.Run(base,
		func() { require.NoError(t, cli.ContainerRemove(t.Context(), id, container.RemoveOptions{Force: true})) },
		func(err error) bool {
			return errors.Is(err, tikv.ErrLogNotFound) && errors.Is(err, subject.ErrNotFound)
		},
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
	lines := logdrill.ChurnLines(base)
	id, _ := runWriter(t, cli, false, true, append(lines, "wait")...)
	src, err := New(Config{Container: id, Client: cli})
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
	src, err := New(Config{Container: id})
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
		{"removed", false, []error{tikv.ErrLogNotFound, tikv.ErrLogStopped}},
		{"engine unreachable", true, []error{tikv.ErrLogUnreachable}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			base := time.Now().UTC().Truncate(time.Second)
			id, _ := runWriter(t, cli, false, true, append(logdrill.ChurnLines(base), "wait")...)
			var proxy *engineProxy
			if tt.viaProxy {
				proxy = newEngineProxy(t, cli)
			}

			defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
			if proxy != nil {
				t.Setenv("DOCKER_HOST", proxy.host())
			}
			src, err := New(Config{Container: id})
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
			var lse *tikv.LogSourceError
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
	first := start(logdrill.ChurnLines(base)...)

	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	src, err := New(Config{Container: name})
	require.NoError(t, err)
	defer src.Close()
	d := logdrill.New(t, src)
	d.Run(base,
		func() {
			require.NoError(t, cli.ContainerRemove(t.Context(), first, container.RemoveOptions{Force: true}))
			start("out:" + stamped(base, 30, "a new container"))
		},
		func(err error) bool { return errors.Is(err, tikv.ErrLogTruncated) },
		nil)
}
