package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/kvops/operator/internal/promtest"
	"github.com/kvops/operator/invariant"
	"github.com/kvops/operator/subject"
)

// TestRunSimulated starts the main job as a newcomer does, with -json, for
// a few seconds: it must start the simulated cluster and a real
// Prometheus, print the stores and the first fault as JSON lines, and stop
// cleanly when its context ends.
func TestRunSimulated(t *testing.T) {
	promtest.Require(t)
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	var out bytes.Buffer
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	err := run(ctx, options{json: true}, &out)
	require.True(t, errors.Is(err, context.DeadlineExceeded), "run: %v", err)
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
	require.GreaterOrEqual(t, types["fault"], 1, "the first fault comes after 3s; output:\n%s", out.String())
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
