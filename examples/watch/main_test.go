package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/kvops/operator/internal/promtest"
	"github.com/kvops/operator/invariant"
	"github.com/kvops/operator/subject"
	"github.com/kvops/operator/tikv"
	"github.com/kvops/operator/tikv/tikvtest"
)

// TestRunSimulated starts the main job as a newcomer does, with -json: it
// must start the simulated cluster and a real Prometheus, print the stores
// and the first fault (3 s after the start) as JSON lines, and stop
// cleanly when its context ends, which the test ends once the fault is
// printed (within a minute).
func TestRunSimulated(t *testing.T) {
	promtest.Require(t)
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	out := &untilFault{cancel: cancel}
	err := run(ctx, options{json: true}, out)
	require.ErrorIs(t, err, context.Canceled, "run ended before the first fault: %v; output:\n%s", err, out.String())
	types := map[string]int{}
	for line := range strings.SplitSeq(strings.TrimSpace(out.String()), "\n") {
		var rec map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &rec), "line %q", line)
		types[rec["type"].(string)]++
		if rec["type"] == "info" {
			require.Contains(t, rec["message"], "Prometheus at http://127.0.0.1:")
		}
	}
	require.Equal(t, 1, types["info"], "output:\n%s", out.String())
	require.GreaterOrEqual(t, types["stores"], 1, "output:\n%s", out.String())
	require.GreaterOrEqual(t, types["fault"], 1, "output:\n%s", out.String())
}

// untilFault collects the output and calls cancel once a whole line of
// type "fault" has been written.
type untilFault struct {
	mu     sync.Mutex
	b      bytes.Buffer
	cancel context.CancelFunc
}

func (u *untilFault) Write(p []byte) (int, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	start := u.b.Len()
	u.b.Write(p)
	// Look at the lines this write completed (a line may span writes).
	all := u.b.Bytes()
	from := bytes.LastIndexByte(all[:start], '\n') + 1
	for line := range bytes.SplitSeq(all[from:], []byte("\n")) {
		var rec struct{ Type string }
		if json.Unmarshal(line, &rec) == nil && rec.Type == "fault" {
			u.cancel()
		}
	}
	return len(p), nil
}

func (u *untilFault) String() string {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.b.String()
}

func TestPrinterText(t *testing.T) {
	var out bytes.Buffer
	p := newPrinter(&out, false)
	at := time.Date(2026, 11, 27, 12, 0, 5, 0, time.UTC)
	p.stores(at, []subject.Store{{ID: 1, State: subject.StateUp}, {ID: 2, State: subject.StateDisconnected}})
	alert := invariant.Alert{Severity: invariant.SeverityCritical, Message: "store 2 is Disconnected"}
	p.transition(invariant.Transition{Invariant: "store_health", Key: "store=2", From: invariant.StateInactive, To: invariant.StateFiring, At: at, Alert: alert})
	p.transition(invariant.Transition{Invariant: "store_health", Key: "store=2", From: invariant.StateFiring, To: invariant.StateResolved, At: at, Alert: alert})
	p.transition(invariant.Transition{Invariant: "store_health", Key: "store=3", From: invariant.StatePending, To: invariant.StateInactive, At: at, Alert: alert})
	want := `12:00:05  stores    1:Up  2:Disconnected
12:00:05  FIRING    critical store_health store=2: store 2 is Disconnected
12:00:05  RESOLVED  critical store_health store=2: no longer seen (was: store 2 is Disconnected)
12:00:05  CLEARED   critical store_health store=3: no longer seen (was: store 2 is Disconnected)
`
	require.Equal(t, want, out.String())
}

// TestRealClusterWithoutPrometheus: -pd with -no-prometheus registers only
// the invariants PD's view answers, and an evaluation of a healthy cluster
// fails none of them; without the flag the four metric invariants are
// registered (and would fail on every tick with no Prometheus).
func TestRealClusterWithoutPrometheus(t *testing.T) {
	cl, err := tikvtest.NewUnstartedCluster(tikvtest.Config{Stores: 3, Regions: 30, Seed: 1})
	require.NoError(t, err)
	require.NoError(t, cl.Start(t.Context()))
	t.Cleanup(func() { _ = cl.Close() })
	pdOnly := []string{tikv.InvLeaderImbalance, tikv.InvLowSpace, tikv.InvRegionPeers, tikv.InvStoreHealth}
	tests := []struct {
		name         string
		noPrometheus bool
		want         []string
		info         string
	}{
		{name: "-no-prometheus", noPrometheus: true, want: pdOnly, info: "without metrics (-no-prometheus)"},
		{
			name: "default", want: []string{tikv.InvCPUUsage, tikv.InvDiskUsage, tikv.InvLeaderImbalance, tikv.InvLowSpace,
				tikv.InvRegionPeers, tikv.InvStoreHealth, tikv.InvStoreRestart, tikv.InvWriteLatency},
			info: "metrics from Prometheus at http://127.0.0.1:9090",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			w, err := setup(t.Context(), options{pd: cl.PDURL(), noPrometheus: tt.noPrometheus}, newPrinter(&out, false))
			require.NoError(t, err)
			defer w.close()
			require.Contains(t, out.String(), tt.info)
			var names []string
			for _, inv := range w.sub.Invariants() {
				names = append(names, inv.Name)
			}
			slices.Sort(names)
			if diff := cmp.Diff(tt.want, names); diff != "" {
				t.Errorf("invariants (-want +got):\n%s", diff)
			}
			if !tt.noPrometheus {
				return
			}
			rep, err := w.eval.Evaluate(t.Context(), cl.Now())
			require.NoError(t, err)
			require.Empty(t, rep.Errors, "a healthy cluster judged without Prometheus")
		})
	}
	_, err = setup(t.Context(), options{noPrometheus: true}, newPrinter(io.Discard, false))
	require.Error(t, err, "-no-prometheus without -pd")
}
