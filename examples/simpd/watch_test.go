package main

import (
	"encoding/json"
	"errors"
	"net/http"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/kvops/operator/internal/needs"
)

// watchLine is one of examples/watch's -json lines.
type watchLine struct {
	Type      string `json:"type"`
	Invariant string `json:"invariant"`
	Key       string `json:"key"`
	To        string `json:"to"`
	Stores    []struct {
		ID    uint64 `json:"id"`
		State string `json:"state"`
	} `json:"stores"`
	Message string `json:"message"`
	Error   string `json:"error"`
}

// TestWatchJudgesSimpd runs examples/watch -pd against a simpd process,
// as a user would: watch lists the five stores Up; once the test stops
// store 2 through simpd's control API, watch reports it Disconnected and
// fires store_health for it; watch ran with no check error (its PD reads
// and, when Prometheus is installed, its metric queries through simpd's
// Prometheus all answered; without Prometheus on PATH the test checks
// PD's part, then skips, or fails under CI). Watch runs with -duration as its bound, and is
// stopped with SIGINT once it fired.
func TestWatchJudgesSimpd(t *testing.T) {
	args := []string{"-scenario", "none", "-speed", "10", "-scrape", "250ms", "-regions", "100"}
	_, ready := startSimpd(t, args...)
	watchArgs := []string{"-pd", ready.PD, "-json", "-interval", "250ms", "-grace", "1s", "-duration", "2m"}
	if ready.Prometheus == "" {
		// Judged on PD's view alone; the test skips at its end (fails
		// under CI), its PD part checked.
		defer needs.Missing(t, errors.New("no prometheus on PATH: simpd started none, and watch judged PD's view alone"))
		watchArgs = append(watchArgs, "-no-prometheus")
	} else {
		watchArgs = append(watchArgs, "-prometheus", ready.Prometheus)
	}
	w := start(t, nil, bins.watch, watchArgs...)
	decode := func(l string) watchLine {
		var wl watchLine
		require.NoError(t, json.Unmarshal([]byte(l), &wl), l)
		return wl
	}
	allUp := func(l string) bool {
		wl := decode(l)
		if wl.Type != "stores" || len(wl.Stores) != 5 {
			return false
		}
		for i, s := range wl.Stores {
			if s.ID != uint64(i+1) || s.State != "Up" {
				return false
			}
		}
		return true
	}
	_, i := w.await(t, 0, "the five stores Up", allUp)

	status, _, b := do(t, http.MethodPost, ready.PD+"/simpd/v1/stores/2/stop", "")
	require.Equal(t, http.StatusOK, status, "%s", b)
	_, j := w.await(t, i, "store 2 Disconnected", func(l string) bool {
		wl := decode(l)
		return wl.Type == "stores" && len(wl.Stores) == 5 && wl.Stores[1].State == "Disconnected"
	})
	w.await(t, j, "store_health firing for store 2", func(l string) bool {
		wl := decode(l)
		return wl.Type == "transition" && wl.Invariant == "store_health" && wl.Key == "store=2" && wl.To == "firing"
	})
	require.NoError(t, w.cmd.Process.Signal(syscall.SIGINT))
	require.NoError(t, w.wait(t), "watch ends cleanly on SIGINT; stderr:\n%s", w.stderr.String())
	for _, l := range w.Lines() {
		if wl := decode(l); wl.Type == "check_error" {
			t.Errorf("watch could not check %s: %s", wl.Invariant, wl.Error)
		}
	}
}
