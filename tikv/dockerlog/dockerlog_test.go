package dockerlog

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/docker/docker/api/types/build"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/client"
	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/kvops/operator/internal/needs"
	"github.com/kvops/operator/logparse"
	"github.com/kvops/operator/subject"
	"github.com/kvops/operator/tikv"
)

func TestMain(m *testing.M) {
	code := m.Run()
	writerImage.remove()
	if code == 0 {
		// The Docker sources stop their goroutines before they return.
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goroutine leak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// writerImage is the FROM scratch image holding internal/logwriter, built
// once for all the tests that need it and removed after them.
var writerImage testImage

type testImage struct {
	once sync.Once
	tag  string
	err  error
}

func (ti *testImage) remove() {
	if ti.tag == "" {
		return
	}
	cli, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		return
	}
	defer cli.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := cli.ImageRemove(ctx, ti.tag, image.RemoveOptions{Force: true, PruneChildren: true}); err != nil {
		fmt.Fprintln(os.Stderr, "removing test image:", err)
	}
}

// dockerClient returns a client of the local engine, or skips the test
// when there is none (fails when CI=true).
func dockerClient(t *testing.T) *client.Client {
	t.Helper()
	cli, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	require.NoError(t, err)
	t.Cleanup(func() { cli.Close() })
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if _, err := cli.Ping(ctx); err != nil {
		needs.Missing(t, fmt.Errorf("the Docker Engine is unreachable: %w", err))
	}
	return cli
}

func randomHex() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// logwriterImage builds internal/logwriter statically and an image FROM
// scratch holding it.
func logwriterImage(t *testing.T, cli *client.Client) string {
	t.Helper()
	writerImage.once.Do(func() {
		writerImage.err = buildWriterImage(cli, "kvops-logwriter:test-"+randomHex())
	})
	require.NoError(t, writerImage.err, "building the logwriter image")
	return writerImage.tag
}

func buildWriterImage(cli *client.Client, tag string) error {
	dir, err := os.MkdirTemp("", "logwriter")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "logwriter")
	goBin, err := exec.LookPath("go")
	if err != nil {
		return err
	}
	cmd := exec.Command(goBin, "build", "-o", bin, "github.com/kvops/operator/internal/logwriter")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build: %v\n%s", err, out)
	}
	binary, err := os.ReadFile(bin)
	if err != nil {
		return err
	}
	var ctxTar bytes.Buffer
	tw := tar.NewWriter(&ctxTar)
	dockerfile := "FROM scratch\nCOPY logwriter /logwriter\nENTRYPOINT [\"/logwriter\"]\n"
	for _, f := range []struct {
		name string
		mode int64
		data []byte
	}{{"Dockerfile", 0o644, []byte(dockerfile)}, {"logwriter", 0o755, binary}} {
		if err := tw.WriteHeader(&tar.Header{Name: f.name, Mode: f.mode, Size: int64(len(f.data))}); err != nil {
			return err
		}
		if _, err := tw.Write(f.data); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	resp, err := cli.ImageBuild(ctx, &ctxTar, build.ImageBuildOptions{Tags: []string{tag}, Remove: true, ForceRemove: true})
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	writerImage.tag = tag // remove it even if the build reports an error
	dec := json.NewDecoder(resp.Body)
	for {
		var msg struct {
			Error string `json:"error"`
		}
		if err := dec.Decode(&msg); err == io.EOF {
			return nil
		} else if err != nil {
			return err
		}
		if msg.Error != "" {
			return errors.New("image build: " + msg.Error)
		}
	}
}

// runWriter starts a logwriter container with the given commands. With
// stdin, the container's stdin is attached and returned.
func runWriter(t *testing.T, cli *client.Client, tty, stdin bool, args ...string) (id string, in io.Writer) {
	t.Helper()
	tag := logwriterImage(t, cli)
	ctx := t.Context()
	cfg := &container.Config{Image: tag, Cmd: args, Tty: tty, OpenStdin: stdin, AttachStdin: stdin}
	created, err := cli.ContainerCreate(ctx, cfg, &container.HostConfig{}, nil, nil, "kvops-logwriter-"+randomHex())
	require.NoError(t, err)
	id = created.ID
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_ = cli.ContainerRemove(ctx, id, container.RemoveOptions{Force: true})
	})
	if stdin {
		hj, err := cli.ContainerAttach(ctx, id, container.AttachOptions{Stream: true, Stdin: true})
		require.NoError(t, err)
		t.Cleanup(hj.Close)
		in = hj.Conn
	}
	require.NoError(t, cli.ContainerStart(ctx, id, container.StartOptions{}))
	return id, in
}

// follow follows a container's log from since, until the test ends or,
// as a safety net only (every wait of a test ends on an event), two
// minutes pass; it returns the stream's next.
func follow(t *testing.T, cli *client.Client, id string, since time.Time) func() (logparse.Entry, error, bool) {
	t.Helper()
	src, err := New(Config{Container: id, Client: cli})
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	next, stop := iter.Pull2(src.Follow(ctx, since))
	t.Cleanup(func() { stop(); cancel() })
	return next
}

func waitExit(t *testing.T, cli *client.Client, id string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	okc, errc := cli.ContainerWait(ctx, id, container.WaitConditionNotRunning)
	select {
	case res := <-okc:
		require.Zero(t, res.StatusCode, "logwriter exit status")
	case err := <-errc:
		require.NoError(t, err)
	}
}

// stamped returns a line of the unified format stamped base+i seconds.
func stamped(base time.Time, i int, msg string) string {
	return strings.TrimSuffix(string(logparse.Format(logparse.Entry{
		Time: base.Add(time.Duration(i) * time.Second), Level: logparse.LevelInfo,
		Source: "raft.rs:1228", Message: msg, Fields: []logparse.Field{{Key: "i", Value: fmt.Sprint(i)}},
	})), "\n")
}

// errKind names the kind of a source's error.
func errKind(err error) string {
	for _, k := range []struct {
		err  error
		name string
	}{{tikv.ErrLogNotFound, "not found"}, {tikv.ErrLogPermission, "permission"}, {tikv.ErrLogUnreachable, "unreachable"},
		{tikv.ErrLogStopped, "stopped"}, {tikv.ErrLogTruncated, "truncated"}, {tikv.ErrLogRead, "read"}, {logparse.ErrSyntax, "syntax"}, {logparse.ErrTooLong, "too long"}} {
		if errors.Is(err, k.err) {
			return k.name
		}
	}
	return err.Error()
}

type got struct {
	Msg, Cont string
	At        time.Time
	BigLen    int
}

// collect runs a source's stream and returns its entries sorted by time
// (stdout and stderr are separate pipes, which the engine may interleave
// either way) and its errors' kinds.
func collect(seq func(func(logparse.Entry, error) bool)) ([]got, []string) {
	var out []got
	var errs []string
	for e, err := range seq {
		if err != nil {
			errs = append(errs, errKind(err))
			continue
		}
		v, _ := e.Lookup("v")
		out = append(out, got{Msg: e.Message, Cont: e.Continuation, At: e.Time, BigLen: len(v)})
	}
	slices.SortStableFunc(out, func(a, b got) int { return a.At.Compare(b.At) })
	return out, errs
}

func TestDockerLogSourceEntries(t *testing.T) {
	cli := dockerClient(t)
	// Lines stamped around now: the engine filters on when it received a
	// line, the source then on the line's own time.
	base := time.Now().UTC().Truncate(time.Second).Add(-10 * time.Second)
	args := []string{
		"out:" + stamped(base, 0, "zero"),
		"err:" + stamped(base, 1, "one"),
		"out:" + stamped(base, 2, "two") + "\ngoroutine 1 [running]:\n\tmain.go:12",
		"err:" + stamped(base, 3, "three"),
		"out:[2024/07/24 12:47:05.500 +00:00] [LOUD] [a.rs:1] [x]",
		"out:" + stamped(base, 4, "four"),
		"big:out:2000000:huge", // several MB would do too; the engine splits it into 16 KiB messages
		"out:" + stamped(base, 5, "five"),
		"part:" + stamped(base, 6, "last, without its newline"),
	}
	for _, tty := range []bool{false, true} {
		t.Run(fmt.Sprintf("tty=%v", tty), func(t *testing.T) {
			id, _ := runWriter(t, cli, tty, false, args...)
			waitExit(t, cli, id)
			src, err := New(Config{Container: id, Client: cli})
			require.NoError(t, err)
			defer src.Close()
			if src.Name() != id {
				t.Errorf("Name() = %q", src.Name())
			}

			all, errs := collect(src.Entries(t.Context(), time.Time{}, time.Time{}))
			want := []got{
				{Msg: "huge", At: time.Date(2024, 7, 24, 12, 47, 12, 0, time.UTC), BigLen: 2000000},
				{Msg: "zero", At: base},
				{Msg: "one", At: base.Add(time.Second)},
				{Msg: "two", Cont: "goroutine 1 [running]:\n\tmain.go:12", At: base.Add(2 * time.Second)},
				{Msg: "three", At: base.Add(3 * time.Second)},
				{Msg: "four", At: base.Add(4 * time.Second)},
				{Msg: "five", At: base.Add(5 * time.Second)},
				{Msg: "last, without its newline", At: base.Add(6 * time.Second)},
			}
			if diff := cmp.Diff(want, all); diff != "" {
				t.Errorf("all entries (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff([]string{"syntax"}, errs); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}

			window, errs := collect(src.Entries(t.Context(), base.Add(time.Second), base.Add(4*time.Second)))
			if diff := cmp.Diff(want[2:5], window); diff != "" {
				t.Errorf("entries in [1s, 4s) (-want +got):\n%s", diff)
			}
			if len(errs) > 1 {
				t.Errorf("errors in window: %v", errs)
			}
			// The client negotiated the engine's API version.
			sv, err := cli.ServerVersion(t.Context())
			require.NoError(t, err)
			if cli.ClientVersion() != sv.APIVersion {
				t.Errorf("client API version %s, engine's %s", cli.ClientVersion(), sv.APIVersion)
			}
		})
	}
}

func TestDockerLogSourceFollow(t *testing.T) {
	cli := dockerClient(t)
	base := time.Now().UTC().Truncate(time.Second).Add(-10 * time.Second)
	for _, tty := range []bool{false, true} {
		t.Run(fmt.Sprintf("tty=%v", tty), func(t *testing.T) {
			id, stdin := runWriter(t, cli, tty, true, "out:"+stamped(base, 0, "before"), "out:"+stamped(base, 1, "zero"), "wait")
			next := follow(t, cli, id, base.Add(time.Second))
			expect := func(want string) {
				t.Helper()
				e, err, ok := next()
				require.True(t, ok, "the stream ended")
				require.NoError(t, err)
				require.Equal(t, want, e.Message)
			}
			expect("zero")
			for i, cmd := range []string{"out", "err", "out"} {
				msg := fmt.Sprint("line", i)
				_, err := fmt.Fprintf(stdin, "%s:%q\n", cmd, stamped(base, 2+i, msg))
				require.NoError(t, err)
				expect(msg)
			}
			_, err := io.WriteString(stdin, "exit\n")
			require.NoError(t, err)
			_, err, ok := next()
			require.True(t, ok)
			if !errors.Is(err, tikv.ErrLogStopped) {
				t.Fatalf("after the container exited: %v, want tikv.ErrLogStopped", err)
			}
			if _, _, ok := next(); ok {
				t.Error("the stream goes on after the error")
			}
		})
	}
}

// TestWriterEchoOffBeforeItWrites: the logwriter turns its terminal's echo
// off before it writes anything, so that a test that writes commands to
// its stdin once it has read a line of its log never finds them echoed
// into the log (TestDockerLogSourceFollow/tty=true once read
// "out:\"[2026/...] [line0] ...\"" as a log line: echo was turned off only
// at "wait", after the lines the test had read).
func TestWriterEchoOffBeforeItWrites(t *testing.T) {
	cli := dockerClient(t)
	for _, tt := range []struct {
		tty  bool
		want string
	}{{true, "stdin echo off"}, {false, "stdin is no terminal"}} {
		t.Run(fmt.Sprintf("tty=%v", tt.tty), func(t *testing.T) {
			id, stdin := runWriter(t, cli, tt.tty, true, "echo:", "wait")
			e, err, ok := follow(t, cli, id, time.Time{})()
			require.True(t, ok, "the stream ended")
			require.NoError(t, err)
			require.Equal(t, tt.want, e.Message, "the first line the writer printed")
			_, err = io.WriteString(stdin, "exit\n")
			require.NoError(t, err)
		})
	}
}

func TestDockerLogSourceFollowRemoved(t *testing.T) {
	cli := dockerClient(t)
	base := time.Now().UTC().Truncate(time.Second)
	id, _ := runWriter(t, cli, false, true, "out:"+stamped(base, 0, "zero"), "wait")
	src, err := New(Config{Container: id, Client: cli})
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	next, stop := iter.Pull2(src.Follow(ctx, time.Time{}))
	defer stop()
	e, err, ok := next()
	require.True(t, ok)
	require.NoError(t, err)
	require.Equal(t, "zero", e.Message)
	require.NoError(t, cli.ContainerRemove(ctx, id, container.RemoveOptions{Force: true}))
	_, err, ok = next()
	require.True(t, ok, "the stream ended without an error")
	if !errors.Is(err, tikv.ErrLogNotFound) && !errors.Is(err, tikv.ErrLogStopped) {
		t.Fatalf("after removal: %v, want tikv.ErrLogNotFound or tikv.ErrLogStopped", err)
	}
	if ctx.Err() != nil {
		t.Fatal("the follow ended by the safety timeout, not by the removal")
	}
}

func TestDockerLogSourceFollowCancel(t *testing.T) {
	cli := dockerClient(t)
	id, _ := runWriter(t, cli, false, true, "wait")
	src, err := New(Config{Container: id, Client: cli})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan []string)
	go func() {
		_, errs := collect(src.Follow(ctx, time.Time{}))
		done <- errs
	}()
	cancel()
	if errs := <-done; len(errs) != 0 {
		t.Errorf("cancelling gave errors %v", errs)
	}
}

func TestDockerLogSourceNotFound(t *testing.T) {
	cli := dockerClient(t)
	src, err := New(Config{Container: "kvops-no-such-container-" + randomHex(), Client: cli})
	require.NoError(t, err)
	_, errs := collect(src.Entries(t.Context(), time.Time{}, time.Time{}))
	if diff := cmp.Diff([]string{"not found"}, errs); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// TestDockerLogSourceUnreachable needs no engine: it points the source
// (Config.Host) at a socket nobody listens on.
func TestDockerLogSourceUnreachable(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "docker.sock")
	src, err := New(Config{Container: "tikv0", Host: "unix://" + sock})
	require.NoError(t, err)
	defer src.Close()
	var got error
	for _, err := range src.Entries(t.Context(), time.Time{}, time.Time{}) {
		got = err
	}
	if !errors.Is(got, tikv.ErrLogUnreachable) {
		t.Errorf("got %v, want tikv.ErrLogUnreachable", got)
	}
	var lse *tikv.LogSourceError
	if !errors.As(got, &lse) || lse.Source != "tikv0" {
		t.Errorf("got %#v", got)
	}

	// Permission denied on the engine's socket cannot be caused for root,
	// who may connect to any socket: the error the client returns then is
	// classified instead.
	perm := fmt.Errorf("permission denied while trying to connect to the Docker daemon socket: %w",
		&url.Error{Op: "Get", URL: "http://%2Fvar%2Frun%2Fdocker.sock/v1.41/containers/json",
			Err: &net.OpError{Op: "dial", Net: "unix", Err: os.NewSyscallError("connect", syscall.EACCES)}})
	if err := src.err("inspect", perm); !errors.Is(err, tikv.ErrLogPermission) {
		t.Errorf("permission: %v", err)
	}
}

// TestLineWriterKeepsLinesWhole: the engine sends stdout and stderr in
// messages of at most 16 KiB, which it may interleave; a long line of one
// stream still reaches the reader whole.
func TestLineWriterKeepsLinesWhole(t *testing.T) {
	var sink bytes.Buffer
	out, errOut := &lineWriter{w: &sink, limit: 1 << 20}, &lineWriter{w: &sink, limit: 1 << 20}
	base := time.Date(2024, 7, 24, 12, 47, 0, 0, time.UTC)
	long := string(logparse.Format(logparse.Entry{Time: base, Level: logparse.LevelInfo, Message: "long",
		Fields: []logparse.Field{{Key: "v", Value: strings.Repeat("x", 40000)}}}))
	for i := 0; i < len(long); i += 16 << 10 {
		_, err := out.Write([]byte(long[i:min(i+16<<10, len(long))]))
		require.NoError(t, err)
		_, err = errOut.Write([]byte(stamped(base, i+1, fmt.Sprint("err", i)) + "\n"))
		require.NoError(t, err)
	}
	_, err := out.Write([]byte(stamped(base, 99, "last, without its newline")))
	require.NoError(t, err)
	require.NoError(t, out.flush())
	require.NoError(t, errOut.flush())
	var got []string
	for e, err := range logparse.NewReader(&sink).All() {
		require.NoError(t, err)
		v, _ := e.Lookup("v")
		got = append(got, fmt.Sprint(e.Message, " ", len(v)))
	}
	want := []string{"err0 0", "err16384 0", "long 40000", "err32768 0", "last, without its newline 0"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	// A line longer than the limit goes through as it comes.
	sink.Reset()
	small := &lineWriter{w: &sink, limit: 10}
	_, err = small.Write([]byte("0123456789abc"))
	require.NoError(t, err)
	require.Equal(t, "0123456789abc", sink.String())
}

// TestNewConfig: the zero fields of a Config take their documented
// defaults, and a Config that cannot work is refused with a typed error.
func TestNewConfig(t *testing.T) {
	t.Setenv("DOCKER_HOST", "unix:///run/kvops-test/docker.sock")
	cli, err := client.NewClientWithOpts(client.WithHost("unix:///run/kvops-test/other.sock"))
	require.NoError(t, err)
	defer cli.Close()
	for _, tt := range []struct {
		name      string
		cfg       Config
		slack     time.Duration
		max       int
		host      string
		ownClient bool
	}{
		{"defaults", Config{Container: "tikv0"}, DefaultSlack, logparse.DefaultMaxEntrySize, "unix:///run/kvops-test/docker.sock", true},
		{"host", Config{Container: "tikv0", Host: "tcp://127.0.0.1:2375"}, DefaultSlack, logparse.DefaultMaxEntrySize, "tcp://127.0.0.1:2375", true},
		{"no slack", Config{Container: "tikv0", Slack: -1}, 0, logparse.DefaultMaxEntrySize, "unix:///run/kvops-test/docker.sock", true},
		{"set", Config{Container: "tikv0", Slack: time.Second, MaxEntrySize: 1 << 10}, time.Second, 1 << 10, "unix:///run/kvops-test/docker.sock", true},
		// The caller's client, which Close leaves to the caller; Host is
		// ignored.
		{"client", Config{Container: "tikv0", Client: cli, Host: "tcp://127.0.0.1:1"}, DefaultSlack, logparse.DefaultMaxEntrySize, "unix:///run/kvops-test/other.sock", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			src, err := New(tt.cfg)
			require.NoError(t, err)
			defer src.Close()
			got := []any{src.slack, src.max, src.cli.DaemonHost(), src.ownClient, src.Name()}
			if diff := cmp.Diff([]any{tt.slack, tt.max, tt.host, tt.ownClient, "tikv0"}, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}

	_, err = New(Config{})
	require.ErrorIs(t, err, subject.ErrInvalid, "no container")
	_, err = New(Config{Container: "tikv0", Host: "not a host"})
	require.ErrorIs(t, err, tikv.ErrLogUnreachable)
	var lse *tikv.LogSourceError
	require.ErrorAs(t, err, &lse)
	require.Equal(t, "tikv0", lse.Source)
}
