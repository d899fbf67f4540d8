package main

import (
	"bytes"
	"context"
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/kvops/operator/internal/progressline"
	"github.com/kvops/operator/invariant"
	"github.com/kvops/operator/pdclient"
	"github.com/kvops/operator/subject"
	"github.com/kvops/operator/tikv"
	"github.com/kvops/operator/tikv/tikvtest"
)

// TestPrinterProgress: an action's progress on a terminal is one line
// redrawn under the transitions printed meanwhile, and gives way to the
// action's outcome; elsewhere it is plain lines; with -json, one object
// per report.
func TestPrinterProgress(t *testing.T) {
	at := time.Date(2026, 11, 27, 12, 0, 45, 0, time.UTC)
	report := func(left int, waited time.Duration) subject.Progress {
		return subject.Progress{Action: "evict_leaders", Target: "store 5", Waiting: "store 5 leading at most 0 regions",
			Seen: "store 5 still leads " + map[int]string{40: "40", 12: "12", 0: "0"}[left] + " regions",
			Left: left, Total: 40, Unit: "leaders", Waited: waited, Bound: 10 * time.Minute, Reads: int(waited/(500*time.Millisecond)) + 1}
	}
	alert := invariant.Alert{Severity: invariant.SeverityWarning, Message: "store 5 leads 12 regions, mean 40"}
	play := func(p *printer) {
		p.acting(at, "the operator evicts store 5's leaders")
		p.progress(report(40, 0))
		p.progress(report(12, 500*time.Millisecond))
		p.transition(invariant.Transition{Invariant: "leader_imbalance", Key: "store=5", From: invariant.StateInactive, To: invariant.StatePending, At: at, Alert: alert})
		p.progress(report(0, time.Second))
		p.action(at.Add(time.Second), subject.Result{Action: "evict_leaders", Target: "store 5", Summary: "evicted the leaders of store 5 (0 left)"}, nil)
	}
	acting := "12:00:45  act       the operator evicts store 5's leaders"
	pending := "12:00:45  PENDING   warning  leader_imbalance store=5: store 5 leads 12 regions, mean 40"
	done := "12:00:46  done      evict_leaders store 5: evicted the leaders of store 5 (0 left)"

	t.Run("terminal", func(t *testing.T) {
		t.Setenv("COLUMNS", "") // 80 columns
		var out bytes.Buffer
		play(newPrinterTo(&out, false, true))
		require.Contains(t, out.String(), "\r\x1b[Kevict_leaders store 5, 500ms of 10m0s: store 5 still leads 12 regions (12 of 4…",
			"redrawn in place, cut to the width")
		if diff := cmp.Diff([]string{acting, pending, done, ""}, progressline.Screen(out.Bytes())); diff != "" {
			t.Errorf("screen at the end (-want +got):\n%s", diff)
		}
	})
	t.Run("plain", func(t *testing.T) {
		var out bytes.Buffer
		play(newPrinterTo(&out, false, false))
		want := []string{acting, "  ... " + report(40, 0).String(), pending, "  ... " + report(0, time.Second).String(), done, ""}
		if diff := cmp.Diff(want, strings.Split(out.String(), "\n")); diff != "" {
			t.Errorf("lines (-want +got):\n%s", diff)
		}
	})
	t.Run("json", func(t *testing.T) {
		var out bytes.Buffer
		play(newPrinterTo(&out, true, false))
		var types []string
		var lefts []float64
		for line := range strings.SplitSeq(strings.TrimSpace(out.String()), "\n") {
			var rec struct {
				Type     string
				Progress map[string]any
			}
			require.NoError(t, json.Unmarshal([]byte(line), &rec))
			types = append(types, rec.Type)
			if rec.Type == "progress" {
				lefts = append(lefts, rec.Progress["left"].(float64))
			}
		}
		require.Equal(t, []string{"acting", "progress", "progress", "transition", "progress", "action"}, types)
		require.Equal(t, []float64{40, 12, 0}, lefts)
	})
}

type manualClock struct{ t time.Time }

func (c *manualClock) Now() time.Time { return c.t }

// TestScheduleActs runs the simulated scenario's steps on a cluster whose
// time moves only when the actions wait: the operator's eviction of store
// 5 shows its progress and its outcome, then its restore does; stopping
// the simulation ends an action under way.
func TestScheduleActs(t *testing.T) {
	cl := tikvtest.NewCluster(t, tikvtest.Config{Stores: 5, Regions: 200, Seed: 1,
		Clock: &manualClock{t: time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)}})
	cl.Advance(time.Second)
	sub, err := tikv.New(tikv.Config{
		PD: pdclient.Config{Endpoints: []string{cl.PDURL()}}, DisableMetrics: true, Clock: cl.Now,
		Actions: tikv.ActionConfig{PollInterval: 100 * time.Millisecond},
		Sleep: func(ctx context.Context, d time.Duration) error {
			cl.Advance(d)
			return ctx.Err()
		},
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = sub.Close() })
	var out bytes.Buffer
	p := newPrinterTo(&out, false, false)
	s := newSchedule(t.Context(), cl)

	s.due(45*time.Second, sub, p)
	s.wait()
	evict := out.String()
	require.Contains(t, evict, "act       the operator evicts store 5's leaders")
	require.Contains(t, evict, "  ... evict_leaders store 5, 0s of 10m0s: store 5 still leads ")
	require.Contains(t, evict, "done      evict_leaders store 5: evicted the leaders of store 5 (0 left)")
	require.Less(t, strings.Index(evict, "  ... evict_leaders"), strings.Index(evict, "done      evict_leaders"), "progress before the outcome")

	out.Reset()
	s.due(52*time.Second, sub, p)
	s.wait()
	require.Contains(t, out.String(), "done      restore_leaders store 5: store 5 may lead regions again")

	// An action under way when the simulation stops (its context ends,
	// here during the eviction's third pause) ends at once, and says
	// what was left.
	require.NoError(t, cl.SetStuckLeaders(4, 3))
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	pauses := 0
	stopping, err := tikv.New(tikv.Config{
		PD: pdclient.Config{Endpoints: []string{cl.PDURL()}}, DisableMetrics: true, Clock: cl.Now,
		Actions: tikv.ActionConfig{PollInterval: 100 * time.Millisecond},
		Sleep: func(ctx context.Context, d time.Duration) error {
			if pauses++; pauses == 3 {
				cancel()
			}
			cl.Advance(d)
			return ctx.Err()
		},
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = stopping.Close() })
	s = &schedule{ctx: ctx, steps: []step{{what: "the operator evicts store 4's leaders",
		act: func(ctx context.Context, sub subject.Actor) (subject.Result, error) { return sub.EvictLeaders(ctx, 4) }}}}
	out.Reset()
	s.due(0, stopping, p)
	s.wait()
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	require.GreaterOrEqual(t, len(lines), 3, "%s", out.String())
	lastProgress, failed := lines[len(lines)-2], lines[len(lines)-1]
	require.True(t, strings.HasPrefix(lastProgress, "  ... evict_leaders store 4, "), "its progress: %s", out.String())
	require.Contains(t, failed, "FAILED    tikv: evict_leaders store 4: unconfirmed")
	left := regexp.MustCompile(`store 4 still leads \d+ regions`)
	require.Equal(t, left.FindString(lastProgress), left.FindString(failed), "the outcome says what was left, as last shown")
	require.NotEqual(t, "store 4 still leads 0 regions", left.FindString(failed))
}
