package rules_test

import (
	"errors"
	"io/fs"
	"path/filepath"
	"testing"
	"time"

	gocmp "github.com/google/go-cmp/cmp"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/stretchr/testify/require"

	"github.com/kvops/operator/invariant"
	"github.com/kvops/operator/promclient"
	"github.com/kvops/operator/promclient/rules"
	"github.com/kvops/operator/subject"
)

// offlineClient is a client that is never asked anything: loading does no
// I/O.
func offlineClient(t testing.TB) *promclient.Client {
	t.Helper()
	c, err := promclient.New(promclient.DefaultConfig())
	require.NoError(t, err)
	return c
}

func TestLoadTiKVModelledRules(t *testing.T) {
	set, err := rules.Load(rules.Config{Prometheus: offlineClient(t)}, "testdata/tikv.rules.yml", "testdata/semantics.rules.yml")
	require.NoError(t, err)
	require.Equal(t, 15*time.Second, set.Interval())
	groups := set.Groups()
	require.Len(t, groups, 2)
	require.Equal(t, "testdata/tikv.rules.yml", groups[0].File)
	require.Equal(t, 15*time.Second, groups[0].Interval)
	require.Equal(t, time.Minute, groups[1].Interval)

	type inv struct {
		Name          string
		Grace, Keep   time.Duration
		Severity      invariant.Severity
		HasCheck      bool
		HasStaticLbls bool
	}
	var got []inv
	for _, i := range set.Invariants() {
		got = append(got, inv{i.Name, i.Grace, i.KeepFiringFor, i.Severity, i.Check != nil, i.Labels != nil})
	}
	crit, warn := invariant.SeverityCritical, invariant.SeverityWarning
	want := []inv{
		{"tikv/TiKV_memory_used_too_fast", 5 * time.Minute, 0, crit, true, false}, // level: emergency
		{"tikv/TiKV_write_stall", time.Minute, 0, crit, true, false},
		{"tikv/TiKV_raft_log_lag", time.Minute, 0, crit, true, false},
		{"tikv/TiKV_channel_full_total", time.Minute, 0, crit, true, false},
		{"tikv/TiKV_scheduler_latch_wait_duration_seconds", time.Minute, 0, crit, true, false},
		{"tikv/TiKV_leader_drops", time.Minute, 0, warn, true, false},
		{"tikv/TiKV_low_space_and_add_region", time.Minute, 0, warn, true, false},
		{"tikv/TiKV_node_restart", time.Minute, 0, warn, true, false},
		{"semantics/HighValue", 2 * time.Minute, 0, crit, true, false},
		{"semantics/ClusterTotal", 0, 0, warn, true, false},
		{"semantics/FlapHeld", 0, 3 * time.Minute, warn, true, false},
		{"semantics/FlapPlain", 0, 0, warn, true, false},
		{"semantics/Templated", 0, 0, warn, true, false},
		{"semantics/LowRatio", time.Minute, 0, crit, true, false},
	}
	if diff := gocmp.Diff(want, got); diff != "" {
		t.Errorf("invariants (-want +got):\n%s", diff)
	}
	// The evaluator takes them as they are.
	_, err = invariant.New(set.Invariants(), invariant.Config{})
	require.NoError(t, err)
}

func TestLoadRefuses(t *testing.T) {
	tests := []struct {
		name, content string
		cfg           func(*rules.Config)
		want          error
		rulefmt       bool // the error carries a *rulefmt.Error
	}{
		{name: "unknown field", content: "groups:\n- name: g\n  rules:\n  - alert: A\n    expr: up\n    fore: 1m\n", want: subject.ErrInvalid},
		{name: "bad expression", content: "groups:\n- name: g\n  rules:\n  - alert: A\n    expr: sum(\n", want: subject.ErrInvalid, rulefmt: true},
		{name: "bad template", content: "groups:\n- name: g\n  rules:\n  - alert: A\n    expr: up\n    annotations:\n      summary: '{{ $labels.instance '\n", want: subject.ErrInvalid, rulefmt: true},
		{name: "undefined template variable", content: "groups:\n- name: g\n  rules:\n  - alert: A\n    expr: up\n    labels:\n      x: '{{ $nope }}'\n", want: subject.ErrInvalid, rulefmt: true},
		{name: "record and alert", content: "groups:\n- name: g\n  rules:\n  - alert: A\n    record: a:b\n    expr: up\n", want: subject.ErrInvalid, rulefmt: true},
		{name: "__name__ label", content: "groups:\n- name: g\n  rules:\n  - alert: A\n    expr: up\n    labels:\n      __name__: x\n", want: subject.ErrInvalid, rulefmt: true},
		{name: "reserved label", content: "groups:\n- name: g\n  rules:\n  - alert: A\n    expr: up\n    labels:\n      __annotation_summary: x\n", want: subject.ErrInvalid},
		{name: "repeated group", content: "groups:\n- name: g\n  rules: []\n- name: g\n  rules: []\n", want: subject.ErrInvalid},
		{name: "empty group name", content: "groups:\n- name: ''\n  rules: []\n", want: subject.ErrInvalid},
		{name: "not yaml", content: "groups: [", want: subject.ErrInvalid},
		{name: "recording rule", content: "groups:\n- name: g\n  rules:\n  - record: job:up:sum\n    expr: sum(up) by (job)\n", want: subject.ErrNotSupported},
		{name: "limit", content: "groups:\n- name: g\n  limit: 10\n  rules:\n  - alert: A\n    expr: up\n", want: subject.ErrNotSupported},
		{name: "no client", content: "groups: []\n", cfg: func(c *rules.Config) { c.Prometheus = nil }, want: subject.ErrInvalid},
		{name: "bad default severity", content: "groups: []\n", cfg: func(c *rules.Config) { c.DefaultSeverity = 9 }, want: subject.ErrInvalid},
		{name: "negative interval", content: "groups: []\n", cfg: func(c *rules.Config) { c.DefaultInterval = -time.Second }, want: subject.ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := rules.Config{Prometheus: offlineClient(t)}
			if tt.cfg != nil {
				tt.cfg(&cfg)
			}
			set, err := rules.Parse(cfg, "bad.yml", []byte(tt.content))
			require.ErrorIs(t, err, tt.want)
			require.Nil(t, set)
			if tt.rulefmt {
				var re *rulefmt.Error
				require.ErrorAs(t, err, &re)
				require.Equal(t, "g", re.Group)
				require.Equal(t, 1, re.Rule)
			}
		})
	}
}

func TestLoadSkipsRecordingRulesWhenAsked(t *testing.T) {
	content := []byte("groups:\n- name: g\n  rules:\n  - record: job:up:sum\n    expr: sum(up) by (job)\n  - alert: JobDown\n    expr: job:up:sum == 0\n")
	set, err := rules.Parse(rules.Config{Prometheus: offlineClient(t), SkipRecordingRules: true}, "r.yml", content)
	require.NoError(t, err)
	require.Len(t, set.Invariants(), 1)
	require.Equal(t, "g/JobDown", set.Invariants()[0].Name)
}

func TestLoadMissingFile(t *testing.T) {
	_, err := rules.Load(rules.Config{Prometheus: offlineClient(t)}, filepath.Join(t.TempDir(), "none.yml"))
	require.ErrorIs(t, err, subject.ErrNotFound)
	require.ErrorIs(t, err, fs.ErrNotExist)
}

func TestLoadNamesAndLabels(t *testing.T) {
	content := []byte(`groups:
- name: g
  labels:
    team: storage
    level: info
  query_offset: 30s
  rules:
  - alert: A
    expr: up == 0
    labels:
      level: critical
  - alert: A
    expr: up == 2
  - alert: B
    expr: up
    labels:
      severity: page
`)
	set, err := rules.Parse(rules.Config{Prometheus: offlineClient(t), DefaultSeverity: invariant.SeverityInfo}, "r.yml", content)
	require.NoError(t, err)
	g := set.Groups()[0]
	require.Equal(t, 30*time.Second, g.QueryOffset)
	require.Equal(t, rules.DefaultInterval, g.Interval)
	want := []rules.Rule{
		{Name: "g/A", Alert: "A", Expr: "up == 0", Labels: map[string]string{"team": "storage", "level": "critical"}, Annotations: map[string]string{}, Severity: invariant.SeverityCritical},
		{Name: "g/A#2", Alert: "A", Expr: "up == 2", Labels: map[string]string{"team": "storage", "level": "info"}, Annotations: map[string]string{}, Severity: invariant.SeverityInfo},
		{Name: "g/B", Alert: "B", Expr: "up", Labels: map[string]string{"team": "storage", "level": "info", "severity": "page"}, Annotations: map[string]string{}, Severity: invariant.SeverityInfo},
	}
	if diff := gocmp.Diff(want, g.Rules); diff != "" {
		t.Errorf("rules (-want +got):\n%s", diff)
	}
}

func TestSeverityOf(t *testing.T) {
	def := invariant.SeverityInfo
	tests := []struct {
		labels map[string]string
		want   invariant.Severity
	}{
		{map[string]string{"level": "emergency"}, invariant.SeverityCritical},
		{map[string]string{"level": "critical"}, invariant.SeverityCritical},
		{map[string]string{"level": "warning"}, invariant.SeverityWarning},
		{map[string]string{"severity": "Warn"}, invariant.SeverityWarning},
		{map[string]string{"severity": "info", "level": "emergency"}, invariant.SeverityInfo}, // severity wins
		{map[string]string{"severity": "{{ if gt $value 1.0 }}critical{{ end }}"}, def},
		{map[string]string{"level": "page"}, def},
		{nil, def},
	}
	for _, tt := range tests {
		if got := rules.SeverityOf(tt.labels, def); got != tt.want {
			t.Errorf("SeverityOf(%v) = %v, want %v", tt.labels, got, tt.want)
		}
	}
}

func TestLoadReportsEveryError(t *testing.T) {
	// A refused file's error joins every one of rulefmt's errors.
	content := []byte("groups:\n- name: g\n  rules:\n  - alert: A\n    expr: sum(\n  - alert: B\n    expr: rate(\n")
	_, err := rules.Parse(rules.Config{Prometheus: offlineClient(t)}, "two.yml", content)
	require.ErrorIs(t, err, subject.ErrInvalid)
	var names []string
	var walk func(error)
	walk = func(e error) {
		if re, ok := e.(*rulefmt.Error); ok {
			names = append(names, re.RuleName)
			return
		}
		switch u := e.(type) {
		case interface{ Unwrap() []error }:
			for _, c := range u.Unwrap() {
				walk(c)
			}
		case interface{ Unwrap() error }:
			walk(u.Unwrap())
		}
	}
	walk(err)
	require.Equal(t, []string{"A", "B"}, names, "rulefmt errors in %v", err)
}

// FuzzParse: any file content either loads or is refused with an error in
// the package's vocabulary; nothing panics.
func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		"groups:\n- name: g\n  rules:\n  - alert: A\n    expr: up == 0\n    for: 1m\n    labels:\n      level: emergency\n    annotations:\n      summary: '{{ $labels.instance }} {{ $value | humanize }}'\n",
		"groups:\n- name: g\n  rules:\n  - record: a:b\n    expr: up\n",
		"groups: [",
		"",
	} {
		f.Add([]byte(seed))
	}
	c := offlineClient(f)
	f.Fuzz(func(t *testing.T, content []byte) {
		set, err := rules.Parse(rules.Config{Prometheus: c}, "fuzz.yml", content)
		if err != nil {
			if set != nil || !(errors.Is(err, subject.ErrInvalid) || errors.Is(err, subject.ErrNotSupported)) {
				t.Fatalf("Parse = %v, %v", set, err)
			}
			return
		}
		if _, err := invariant.New(set.Invariants(), invariant.Config{}); err != nil {
			t.Fatalf("loaded rules the evaluator refuses: %v", err)
		}
	})
}
