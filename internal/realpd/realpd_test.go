package realpd

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kvops/operator/internal/needs"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestRequire(t *testing.T) {
	empty := t.TempDir()
	for _, tt := range []struct {
		dir, ci             string
		wantSkip, wantFatal bool
	}{
		{"", "", true, false},
		{"", "false", true, false},
		{"", "true", false, true},
		{empty, "", false, true}, // set but wrong: always a failure
		{empty, "true", false, true},
	} {
		t.Setenv(EnvDir, tt.dir)
		t.Setenv("CI", tt.ci)
		f := &needs.RecordingTB{}
		Require(f)
		if f.DidSkip != tt.wantSkip || f.DidFail != tt.wantFatal {
			t.Errorf("%s=%q CI=%q: skipped %v failed %v, want %v %v", EnvDir, tt.dir, tt.ci, f.DidSkip, f.DidFail, tt.wantSkip, tt.wantFatal)
		}
		if !strings.Contains(f.Msg, "pd-server") {
			t.Errorf("%s=%q CI=%q: message %q does not name what is missing", EnvDir, tt.dir, tt.ci, f.Msg)
		}
	}
}

func TestBinaries(t *testing.T) {
	t.Setenv(EnvDir, "")
	_, err := Binaries("")
	require.ErrorIs(t, err, ErrNotConfigured)
	dir := t.TempDir()
	_, err = Binaries(dir)
	require.ErrorIs(t, err, ErrMissingBinary)
	for _, b := range []string{"pd-server", "pd-simulator"} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, b), nil, 0o644))
	}
	_, err = Binaries(dir)
	require.ErrorIs(t, err, ErrMissingBinary, "files that are not executable")
	_, err = New(context.Background(), Config{Dir: dir, Members: 2})
	require.Error(t, err, "two members")
}

func TestPickPorts(t *testing.T) {
	lo, hi := portRange()
	ports, err := pickPorts(6)
	require.NoError(t, err)
	seen := map[int]bool{}
	for _, p := range ports {
		require.False(t, seen[p], "port %d twice in %v", p, ports)
		seen[p] = true
		require.True(t, p >= lo && p < hi, "port %d outside [%d, %d)", p, lo, hi)
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
		require.NoError(t, err, "port %d", p)
		require.NoError(t, l.Close())
	}
}

func TestSimulatorConfig(t *testing.T) {
	got := SimulatorConfig(Config{Stores: 3, Regions: 50})
	want := `case-name = "stable"
total-store = 3
total-region = 50
sim-tick-interval = "100ms"

[raftstore]
pd-heartbeat-tick-interval = "5s"
pd-store-heartbeat-tick-interval = "10s"
`
	require.Equal(t, want, got)
}

// gone reports whether no process of the group runs any more.
func gone(pid int) bool { return errors.Is(syscall.Kill(-pid, 0), syscall.ESRCH) }

// TestPortTakenRetries: a port New chose is taken, by a server that even
// answers PD's API, before PD binds it. PD fails to bind and exits; New
// starts again on fresh ports, and never takes the other server for its
// PD.
func TestPortTakenRetries(t *testing.T) {
	Require(t)
	impostor := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"data-dir": "/someone/elses", "name": "pd1"}`)
	}))
	defer impostor.Close()
	taken, err := strconv.Atoi(strings.TrimPrefix(impostor.URL, "http://127.0.0.1:"))
	require.NoError(t, err)
	calls := 0
	pick := func(n int) ([]int, error) {
		calls++
		ports, err := pickPorts(n)
		if calls == 1 {
			ports[0] = taken
		}
		return ports, err
	}
	c, err := newCluster(context.Background(), Config{NoSimulator: true}, pick)
	require.NoError(t, err)
	defer func() { require.NoError(t, c.Stop()) }()
	require.Equal(t, 2, calls, "one attempt on the taken port, one more")
	require.NotEqual(t, impostor.URL, c.Endpoints()[0])
	l, err := c.Leader(context.Background())
	require.NoError(t, err)
	require.Equal(t, "pd1", l.Name())
}

// TestSingle: one member with the simulator, watched from its birth
// (NoWait: the stores registered and Down before their first heartbeat),
// then ready with every store Up, etcd served at the client URL, stores
// Down while the simulator is stopped and Up again after; Stop leaves no
// process and no file.
func TestSingle(t *testing.T) {
	Require(t)
	ctx := context.Background()
	start := time.Now()
	c, err := New(ctx, Config{Stores: 3, Regions: 30, MaxStoreDownTime: 5 * time.Second, NoWait: true})
	require.NoError(t, err)
	require.True(t, c.ReadyAt().IsZero())
	wctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	_, err = c.WaitStores(wctx, "stores registered, not heartbeaten yet", func(st []Store) bool { return len(st) > 0 && AllIn("Down")(st) })
	require.NoError(t, err)
	require.NoError(t, c.WaitReady(wctx))
	t.Logf("ready in %v", time.Since(start).Round(100*time.Millisecond))
	stopped := false
	defer func() {
		if !stopped {
			t.Logf("logs:\n%s", c.Logs())
			require.NoError(t, c.Stop())
		}
	}()

	st, err := c.Stores(ctx)
	require.NoError(t, err)
	require.Len(t, st, 3)
	leaders := 0
	for _, s := range st {
		require.Equal(t, "Up", s.State, "%+v", st)
		leaders += s.LeaderCount
	}
	require.Equal(t, 30, leaders)

	// PD's client URL serves etcd's v3 API (here through its JSON
	// gateway): the member list names pd1.
	status, _, body, err := c.http.do(ctx, http.MethodPost, "http://"+c.EtcdEndpoints()[0]+"/v3/cluster/member/list", []byte("{}"))
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, status, "%s", body)
	require.Contains(t, string(body), `"name":"pd1"`)

	require.NoError(t, c.StopStores())
	_, err = c.WaitStores(wctx, "stores Down", AllIn("Down"))
	require.NoError(t, err)
	require.NoError(t, c.StartStores())
	require.NoError(t, c.WaitReady(wctx))

	pids := []int{c.sim.cmd.Process.Pid, c.members[0].proc.cmd.Process.Pid}
	stopped = true
	require.NoError(t, c.Stop())
	require.NoError(t, c.Stop(), "a second Stop")
	for _, pid := range pids {
		require.True(t, gone(pid), "process group %d still runs", pid)
	}
	_, err = os.Stat(c.dir)
	require.ErrorIs(t, err, fs.ErrNotExist, "Stop left %s", c.dir)
	require.ErrorIs(t, c.StopStores(), ErrStopped)
}

// TestLeaderFailover: three members; the leader killed, another leads;
// the killed member started again rejoins as a follower. A member whose
// port was taken while it was down cannot start, and says so.
func TestLeaderFailover(t *testing.T) {
	c := Start(t, Config{Members: 3, NoSimulator: true})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	require.Len(t, c.Endpoints(), 3)
	old, err := c.Leader(ctx)
	require.NoError(t, err)
	require.NoError(t, old.Kill())
	require.False(t, old.Running())
	killed := time.Now()
	l, err := c.WaitLeaderOtherThan(ctx, old)
	require.NoError(t, err)
	t.Logf("%s led, killed; %s leads after %v", old.Name(), l.Name(), time.Since(killed).Round(100*time.Millisecond))

	require.NoError(t, old.Start(ctx))
	require.True(t, old.Running())
	var health []struct {
		Name   string `json:"name"`
		Health bool   `json:"health"`
	}
	require.NoError(t, c.http.get(ctx, old.URL(), "/pd/api/v1/health", &health))
	require.Len(t, health, 3)

	// Its port taken while it is down, a member cannot come back.
	f := c.Member(l.Name())
	require.NotNil(t, f)
	require.NoError(t, f.Kill())
	squat, err := net.Listen("tcp", f.clientAddr())
	require.NoError(t, err)
	defer squat.Close()
	err = f.Start(ctx)
	require.ErrorIs(t, err, ErrPortTaken)
}
