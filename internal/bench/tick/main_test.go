package main

import (
	"bytes"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/kvops/operator/internal/promtest"
)

// TestMain lets the test binary be the simulator child, as the program
// is.
func TestMain(m *testing.M) {
	if spec := os.Getenv(childEnv); spec != "" {
		if err := serveChildEnv(spec, os.Stdin, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestSoakNoGoroutineGrowth runs 500 ticks with faults cycling, on an
// injected clock, and checks the operator's goroutines are as many after
// tick 500 as after tick 100. The evaluator runs one check at a time and
// promclient sends one query at a time, so that every connection the soak
// uses exists from the first tick on.
func TestSoakNoGoroutineGrowth(t *testing.T) {
	promtest.Require(t)
	res, err := soak(t.Context(), soakConfig{ticks: 6 * faultCycle, marks: []int{faultCycle, 6 * faultCycle}, promConcurrent: 1, evalConcurrent: 1})
	require.NoError(t, err)
	require.Len(t, res.marks, 2)
	require.Zero(t, res.failedChecks, "checks failed during the soak, PD's elections aside")
	require.Positive(t, res.electionChecks, "PD's leader changes failed no check: were they elections?")
	require.NotZero(t, res.violations, "the faults were never seen")
	t.Logf("marks: %+v", res.marks)
	require.Equal(t, res.marks[0].goroutines, res.marks[1].goroutines, "goroutines after the first fault cycle and after five more, one per store")
}

// TestTickProgram runs the benchmark at a small size, the simulator in a
// child process, and checks its last line.
func TestTickProgram(t *testing.T) {
	promtest.Require(t)
	var out bytes.Buffer
	require.NoError(t, runTick(t.Context(), config{stores: 20, regions: 2000, ticks: 3, seedTicks: 1}, &out))
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	var f struct {
		stores, regions, pd, prom, seedPD, seedProm int
		bytesIn, ms, cpu, rss, seedBytes, seedMS    float64
	}
	_, err := fmt.Sscanf(lines[len(lines)-1], "stores=%d regions=%d pdRequests=%d promQueries=%d bytesIn=%g tickMs=%g clientCPUms=%g peakRSSMB=%g seedPDRequests=%d seedPromQueries=%d seedBytesIn=%g seedTickMs=%g",
		&f.stores, &f.regions, &f.pd, &f.prom, &f.bytesIn, &f.ms, &f.cpu, &f.rss, &f.seedPD, &f.seedProm, &f.seedBytes, &f.seedMS)
	require.NoError(t, err, "last line: %s", lines[len(lines)-1])
	require.Equal(t, []int{20, 2000}, []int{f.stores, f.regions})
	require.LessOrEqual(t, f.pd, 3, "PD requests per tick")
	require.LessOrEqual(t, f.prom, 12, "Prometheus queries per tick")
	// The seed design: 1 + 1 page of 10,240 regions (AllRegions' default,
	// PD's maximum) + one store list per store; 10 queries per store.
	require.Equal(t, 1+1+20, f.seedPD)
	require.Equal(t, 10*20, f.seedProm)
	require.Greater(t, f.seedBytes, f.bytesIn)

	// The alert rules, judged each tick beside the invariants: at least
	// one instant query per rule.
	var r struct{ rules, queries int }
	var ruleMs float64
	_, err = fmt.Sscanf(lines[len(lines)-2], "rules=%d ruleQueries=%d ruleMs=%g", &r.rules, &r.queries, &ruleMs)
	require.NoError(t, err, "line before the last: %s", lines[len(lines)-2])
	require.Equal(t, 8, r.rules, "the rules of %s", rulesFile)
	require.GreaterOrEqual(t, r.queries, r.rules, "every rule queried Prometheus")
	require.Positive(t, ruleMs)
}
