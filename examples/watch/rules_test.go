package main

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kvops/operator/internal/promtest"
	"github.com/kvops/operator/internal/syncbuf"
	"github.com/kvops/operator/subject"
	"github.com/kvops/operator/tikv"
)

// TestRunSimulatedWithRules runs the main job with -rules on a rule over a
// metric the simulator exports: the rule's alerts must come out among the
// transitions, one per running store (store 2 stops 3s in, by the fault
// schedule, so at least four), once the real Prometheus has scraped the
// stores. The wait is bounded and ends as soon as they are there.
func TestRunSimulatedWithRules(t *testing.T) {
	promtest.Require(t)
	file := filepath.Join(t.TempDir(), "sim.rules.yml")
	require.NoError(t, os.WriteFile(file, []byte(`groups:
- name: sim
  interval: 1s
  rules:
  - alert: TiKV_has_regions
    expr: sum(tikv_raftstore_region_count{type="region"}) by (instance) > 0
    labels:
      level: warning
    annotations:
      summary: '{{ $labels.instance }} holds {{ $value }} regions'
`), 0o600))

	var out syncbuf.Buffer
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- run(ctx, options{json: true, rules: fileList{file}}, &out) }()

	firing := func() map[string]bool {
		keys := map[string]bool{}
		for line := range strings.SplitSeq(strings.TrimSpace(out.String()), "\n") {
			var rec map[string]any
			if json.Unmarshal([]byte(line), &rec) == nil && rec["type"] == "transition" && rec["invariant"] == "sim/TiKV_has_regions" && rec["to"] == "firing" {
				keys[rec["key"].(string)] = true
			}
		}
		return keys
	}
	for len(firing()) < 4 && ctx.Err() == nil {
		select {
		case err := <-done:
			t.Fatalf("run ended early: %v\n%s", err, out.String())
		case <-time.After(200 * time.Millisecond):
		}
	}
	cancel()
	err := <-done
	require.True(t, errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded), "run: %v", err)
	keys := firing()
	require.GreaterOrEqual(t, len(keys), 4, "output:\n%s", out.String())
	for k := range keys {
		require.Contains(t, k, `alertname="TiKV_has_regions"`)
		require.Contains(t, k, `instance="127.0.0.1:`)
	}
	require.Contains(t, out.String(), `"message":"judging 1 alerting rules from `+file)
}

func TestRulesNeedPrometheus(t *testing.T) {
	_, err := loadRules(tikv.Config{DisableMetrics: true}, []string{"x.yml"})
	require.Error(t, err)
	_, err = loadRules(tikv.Config{}, []string{filepath.Join(t.TempDir(), "missing.yml")})
	require.ErrorIs(t, err, subject.ErrNotFound)
}

func TestFileList(t *testing.T) {
	var l fileList
	require.NoError(t, l.Set("a.yml,b.yml"))
	require.NoError(t, l.Set("c.yml"))
	require.Equal(t, fileList{"a.yml", "b.yml", "c.yml"}, l)
	require.Equal(t, "a.yml,b.yml,c.yml", l.String())
}
