package rules_test

import (
	"strings"
	"testing"
	"time"

	gocmp "github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/kvops/operator/internal/promtest"
	"github.com/kvops/operator/invariant"
	"github.com/kvops/operator/promclient"
	"github.com/kvops/operator/promclient/rules"
	"github.com/kvops/operator/subject"
)

// startSemantics starts a real Prometheus over the input series of
// testdata/semantics.test.yml and returns a client for it.
func startSemantics(t *testing.T) *promclient.Client {
	t.Helper()
	return backfilled(t, unitTestGroup(t, "testdata/semantics.test.yml"), nil)
}

func parseRules(t *testing.T, c *promclient.Client, content string) *rules.Set {
	t.Helper()
	set, err := rules.Parse(rules.Config{Prometheus: c}, "test.yml", []byte(content))
	require.NoError(t, err)
	return set
}

// TestFindings checks what one check reports, against a real Prometheus:
// the key is the alert identity, the labels carry the series' labels, the
// annotations ride along, the message is the summary and description.
func TestFindings(t *testing.T) {
	c := startSemantics(t)
	set := parseRules(t, c, `groups:
- name: g
  rules:
  - alert: High
    expr: demo_value > 10
    labels:
      level: critical
      expr: 'demo_value{job="demo"} > 10'
    annotations:
      summary: 'high on {{ $labels.instance }}'
      description: '{{ $value }} ({{ $labels.__name__ }})'
  - alert: Scalar
    expr: scalar(sum(demo_value))
  - alert: Broken
    expr: demo_value > 10
    annotations:
      summary: '{{ $labels.instance | humanize }}'
  - alert: Plain
    expr: demo_value > 10
  - alert: Collide
    expr: demo_value > 10
    labels:
      instance: all
`)
	invs := set.Invariants()
	at := epoch.Add(4 * time.Minute)

	got, err := invs[0].Check(t.Context(), at)
	require.NoError(t, err)
	high := func(inst string) invariant.Finding {
		return invariant.Finding{
			Key:     `{alertname="High", expr="demo_value{job=\"demo\"} > 10", instance="` + inst + `", job="demo", level="critical"}`,
			Message: "high on " + inst + ": 12 (demo_value)",
			Value:   12,
			Labels: map[string]string{
				"alertname": "High", "expr": `demo_value{job="demo"} > 10`, "instance": inst, "job": "demo", "level": "critical",
				"__annotation_summary": "high on " + inst, "__annotation_description": "12 (demo_value)",
			},
		}
	}
	want := []invariant.Finding{high("a:1"), high("b:1")}
	sortFindings(got)
	if diff := gocmp.Diff(want, got); diff != "" {
		t.Errorf("High (-want +got):\n%s", diff)
	}
	a := invariant.Alert{Labels: got[0].Labels}
	require.Equal(t, map[string]string{"summary": "high on a:1", "description": "12 (demo_value)"}, rules.Annotations(a))
	require.Equal(t, map[string]string{"alertname": "High", "expr": `demo_value{job="demo"} > 10`, "instance": "a:1", "job": "demo", "level": "critical"}, rules.Labels(a))

	// A scalar is one series without labels, as in Prometheus.
	got, err = invs[1].Check(t.Context(), at)
	require.NoError(t, err)
	require.Equal(t, []invariant.Finding{{Key: `{alertname="Scalar"}`, Message: "Scalar", Value: 24, Labels: map[string]string{"alertname": "Scalar"}}}, got)

	// A template that fails reads as Prometheus writes it; the alert stands.
	got, err = invs[2].Check(t.Context(), at)
	require.NoError(t, err)
	require.Len(t, got, 2)
	require.True(t, strings.HasPrefix(got[0].Labels["__annotation_summary"], "<error expanding template: "), got[0].Labels)

	// Two series with one identity fail the check, as they fail Prometheus'
	// evaluation: the evaluator keeps the rule's state.
	_, err = invs[4].Check(t.Context(), at)
	require.ErrorIs(t, err, subject.ErrInvalid)

	// Before the data, the rule's first evaluation says once that its
	// series exist nowhere; then an empty result is no finding.
	_, err = invs[3].Check(t.Context(), epoch.Add(-time.Hour))
	require.ErrorIs(t, err, rules.ErrNoSeries)
	got, err = invs[3].Check(t.Context(), epoch.Add(-time.Hour))
	require.NoError(t, err)
	require.Empty(t, got)
}

func sortFindings(fs []invariant.Finding) {
	for i := range fs {
		for j := i + 1; j < len(fs); j++ {
			if fs[j].Key < fs[i].Key {
				fs[i], fs[j] = fs[j], fs[i]
			}
		}
	}
}

// TestQueryOffset: a group's query_offset moves the query back in time.
func TestQueryOffset(t *testing.T) {
	c := startSemantics(t)
	set := parseRules(t, c, "groups:\n- name: g\n  query_offset: 3m\n  rules:\n  - alert: High\n    expr: demo_value{instance=\"a:1\"} > 10\n")
	check := set.Invariants()[0].Check
	// a:1 is above 10 from 2m to 5m, and its last sample is visible until
	// 10m: with the offset, from 5m to 13m.
	for _, tt := range []struct {
		at   time.Duration
		want int
	}{{4 * time.Minute, 0}, {5 * time.Minute, 1}, {12 * time.Minute, 1}, {14 * time.Minute, 0}} {
		got, err := check(t.Context(), epoch.Add(tt.at))
		require.NoError(t, err)
		require.Len(t, got, tt.want, "at %v", tt.at)
	}
}

// TestQueryErrorKeepsState: after a restart with Prometheus down, the
// restored firing alert stays firing and the check's error says
// Prometheus is unavailable; nothing resolves.
func TestQueryErrorKeepsState(t *testing.T) {
	const file = "groups:\n- name: g\n  rules:\n  - alert: High\n    expr: demo_value > 10\n    labels:\n      level: critical\n"
	up := parseRules(t, startSemantics(t), file)
	ev, err := invariant.New(up.Invariants(), invariant.Config{})
	require.NoError(t, err)
	rep, err := ev.Evaluate(t.Context(), epoch.Add(4*time.Minute))
	require.NoError(t, err)
	require.Len(t, rep.Violations, 2)
	saved, err := ev.Export()
	require.NoError(t, err)

	cfg := promclient.DefaultConfig()
	cfg.Address = "http://" + promtest.RefusedAddr(t)
	down, err := promclient.New(cfg)
	require.NoError(t, err)
	ev2, err := invariant.New(parseRules(t, down, file).Invariants(), invariant.Config{})
	require.NoError(t, err)
	_, err = ev2.Restore(saved)
	require.NoError(t, err)
	rep, err = ev2.Evaluate(t.Context(), epoch.Add(5*time.Minute))
	require.NoError(t, err)
	require.Len(t, rep.Errors, 1)
	require.ErrorIs(t, rep.Errors[0].Err, promclient.ErrUnavailable)
	require.Empty(t, rep.Transitions)
	require.Len(t, rep.Violations, 2)
	for _, a := range rep.Violations {
		require.Equal(t, invariant.StateFiring, a.State)
		require.Equal(t, "critical", a.Labels["level"])
	}
}
