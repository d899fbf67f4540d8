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

const (
	realPDRecording = "../../tikv/record/testdata/realpd-stores-down.jsonl"
	slowStore       = "../../tikv/replay/testdata/slow-store.jsonl.gz"
)

// TestServeRecording runs simpd -recording on the real PD's recording
// (three stores Up, Disconnected at 20 s, Down at 30 s; no series) at ten
// times real time, and examples/watch -pd against it: simpd answers what
// was recorded (the stores, derived GET /stores and /store/{id}, PD's text
// 404 for a scheduler not running), refuses writes and the control API's
// actions, and watch sees the three stores go Disconnected (or Down) and fires
// store_health for each, with no check error.
func TestServeRecording(t *testing.T) {
	p, ready := startSimpd(t, "-recording", realPDRecording, "-speed", "10")
	require.Equal(t, "recording", ready.Scenario)
	require.Equal(t, realPDRecording, ready.Recording)
	require.Empty(t, ready.Prometheus, "the recording has no series")

	status, ct, b := do(t, http.MethodGet, ready.PD+"/pd/api/v1/scheduler-config/evict-leader-scheduler/list", "")
	require.Equal(t, http.StatusNotFound, status)
	require.Equal(t, "text/plain; charset=utf-8", ct)
	require.Equal(t, "404 page not found\n", string(b))
	var stores struct {
		Count  int `json:"count"`
		Stores []struct {
			Store struct {
				ID        uint64 `json:"id"`
				StateName string `json:"state_name"`
			} `json:"store"`
		} `json:"stores"`
	}
	status, _, b = do(t, http.MethodGet, ready.PD+"/pd/api/v1/stores", "")
	require.Equal(t, http.StatusOK, status, "%s", b)
	require.NoError(t, json.Unmarshal(b, &stores))
	require.Equal(t, 3, stores.Count)
	status, _, b = do(t, http.MethodGet, ready.PD+"/pd/api/v1/store/2", "")
	require.Equal(t, http.StatusOK, status, "%s", b)
	status, _, _ = do(t, http.MethodPost, ready.PD+"/pd/api/v1/schedulers", `{"name":"evict-leader-scheduler","store_id":1}`)
	require.Equal(t, http.StatusForbidden, status)
	status, _, _ = do(t, http.MethodPost, ready.PD+"/simpd/v1/stores/1/stop", "")
	require.Equal(t, http.StatusNotFound, status)
	status, _, b = do(t, http.MethodGet, ready.PD+"/simpd/v1/status", "")
	require.Equal(t, http.StatusOK, status, "%s", b)

	w := start(t, nil, bins.watch, "-pd", ready.PD, "-no-prometheus", "-json", "-interval", "250ms", "-duration", "2m")
	decode := func(l string) watchLine {
		var wl watchLine
		require.NoError(t, json.Unmarshal([]byte(l), &wl), l)
		return wl
	}
	for _, key := range []string{"store=1", "store=2", "store=3"} {
		w.await(t, 0, "store_health firing for "+key, func(l string) bool {
			wl := decode(l)
			return wl.Type == "transition" && wl.Invariant == "store_health" && wl.Key == key && wl.To == "firing"
		})
	}
	require.NoError(t, w.cmd.Process.Signal(syscall.SIGINT))
	require.NoError(t, w.wait(t), "watch ends cleanly on SIGINT; stderr:\n%s", w.stderr.String())
	sawGone := false
	for _, l := range w.Lines() {
		wl := decode(l)
		if wl.Type == "check_error" {
			t.Errorf("watch could not check %s: %s", wl.Invariant, wl.Error)
		}
		if wl.Type == "stores" && len(wl.Stores) == 3 && (wl.Stores[0].State == "Disconnected" || wl.Stores[0].State == "Down") {
			sawGone = true
		}
	}
	require.True(t, sawGone, "watch listed the stores Disconnected or Down")
	for _, l := range p.Lines() {
		require.NotEqual(t, "recording_error", event(l), l)
	}
}

// TestServeRecordingSeries runs simpd -recording on tikv/replay's
// recorded incident (store 3's writes slow from 2m; it stops at 8m) from
// 7m at ten times real time: its series are backfilled into a real
// Prometheus, moved to real time, so that examples/watch -pd -prometheus,
// querying at its own time, fires write_latency_p99 for store 3 from the
// recorded latency, and store_health once the recording has it stopped.
func TestServeRecordingSeries(t *testing.T) {
	_, ready := startSimpd(t, "-recording", slowStore, "-speed", "10", "-start", "7m")
	if ready.Prometheus == "" {
		needs.Missing(t, errors.New("no prometheus on PATH: simpd could not serve the recording's series"))
		return
	}
	w := start(t, nil, bins.watch, "-pd", ready.PD, "-prometheus", ready.Prometheus, "-json", "-interval", "250ms",
		"-grace", "1s", "-duration", "2m")
	decode := func(l string) watchLine {
		var wl watchLine
		require.NoError(t, json.Unmarshal([]byte(l), &wl), l)
		return wl
	}
	firing := func(inv, key string) func(string) bool {
		return func(l string) bool {
			wl := decode(l)
			return wl.Type == "transition" && wl.Invariant == inv && wl.Key == key && wl.To == "firing"
		}
	}
	w.await(t, 0, "write_latency_p99 firing for store 3", firing("write_latency_p99", "store=3"))
	w.await(t, 0, "store_health firing for store 3", firing("store_health", "store=3"))
	require.NoError(t, w.cmd.Process.Signal(syscall.SIGINT))
	require.NoError(t, w.wait(t), "watch ends cleanly on SIGINT; stderr:\n%s", w.stderr.String())
}
