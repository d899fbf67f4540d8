package main

import (
	"bytes"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/kvops/operator/internal/realpd"
	"github.com/kvops/operator/internal/syncbuf"
)

// TestMain runs a replica when the test binary is started as one (the
// parent starts this binary again), and the tests otherwise.
func TestMain(m *testing.M) {
	if asReplica() {
		os.Exit(0)
	}
	goleak.VerifyTestMain(m)
}

// check asserts what the example promises: the second replica took over
// within the TTL, the guard refused the follower, the journal shows the
// first term preparing the restart and the second finishing it, and two
// never acted at once.
func check(t *testing.T, cfg Config) {
	t.Helper()
	logs := &syncbuf.Buffer{}
	cfg.Exe, cfg.Log = os.Args[0], logs
	rep, err := run(t.Context(), cfg)
	var out bytes.Buffer
	if rep != nil {
		rep.print(&out)
	}
	require.NoError(t, err, "report:\n%s\nreplicas:\n%s", out.String(), logs.String())
	t.Logf("report:\n%s", out.String())
	require.Zero(t, rep.TwoActing, "two replicas acted at once")
	require.Positive(t, rep.Refused, "the follower was refused while not the leader")
	require.Equal(t, cfg.TTL, rep.TTL)
	// The kill comes after a keep-alive; the lease ends within one TTL
	// of it, and etcd revokes expired leases every 500 ms.
	require.Positive(t, rep.Failover)
	require.Less(t, rep.Failover, rep.TTL+2*time.Second)
	require.Len(t, rep.Acts, 2, "two terms acted: %+v", rep.Acts)
	first, second := rep.Acts[0], rep.Acts[1]
	require.Equal(t, "a", first.Replica)
	require.Equal(t, []string{"prepare_restart store 1"}, first.Submitted)
	require.Equal(t, []string{"confirmed"}, first.Ended)
	require.Equal(t, "b", second.Replica)
	require.Greater(t, second.Term, first.Term)
	require.Equal(t, []string{"finish_restart store 1"}, second.Submitted, "b finished a's restart, and did not start its own")
	require.Equal(t, []string{"confirmed"}, second.Ended)
	require.True(t, strings.Contains(out.String(), "restart of store 1 begun: true"), "b found the restart in the journal")
}

// TestSimulatedCluster: the default, the simulated cluster, with the
// election on a real PD's etcd.
func TestSimulatedCluster(t *testing.T) {
	c := realpd.Start(t, realpd.Config{NoSimulator: true})
	check(t, Config{Etcd: c.Endpoints(), TTL: 5 * time.Second})
}

// TestRealPD: -pd, a real PD with pd-simulator's stores for both.
func TestRealPD(t *testing.T) {
	c := realpd.Start(t, realpd.Config{})
	check(t, Config{PD: c.Endpoints()[0], TTL: 5 * time.Second})
}
