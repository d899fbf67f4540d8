package rules_test

import (
	"cmp"
	"math"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"

	gocmp "github.com/google/go-cmp/cmp"

	"github.com/kvops/operator/internal/promtest"
	"github.com/kvops/operator/invariant"
	"github.com/kvops/operator/promclient/rules"
)

// unitTests are the promtool unit-test files: the oracle of what
// Prometheus answers.
var unitTests = []string{"testdata/semantics.test.yml", "testdata/tikv.test.yml"}

// TestPromtoolAgrees runs the real promtool on the unit-test files: their
// expected alerts are what Prometheus answers.
func TestPromtoolAgrees(t *testing.T) {
	promtest.Require(t)
	for _, f := range unitTests {
		cmd := exec.Command("promtool", "test", "rules", filepath.Base(f))
		cmd.Dir = filepath.Dir(f)
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "promtool test rules %s:\n%s", f, out)
	}
}

// alertSeen is a firing alert as promtool compares it.
type alertSeen struct {
	Labels, Annotations map[string]string
}

func sortAlerts(as []alertSeen) {
	slices.SortFunc(as, func(a, b alertSeen) int {
		return cmp.Compare(model.LabelSet(toLabelSet(a.Labels)).String(), model.LabelSet(toLabelSet(b.Labels)).String())
	})
}

func toLabelSet(m map[string]string) model.LabelSet {
	ls := model.LabelSet{}
	for k, v := range m {
		ls[model.LabelName(k)] = model.LabelValue(v)
	}
	return ls
}

// TestSameAnswersAsPrometheus feeds each unit test's input series, through
// promtool's backfill, to a real Prometheus, judges the same rule files
// with this package and the evaluator stepped at the group interval from
// time 0, and requires at each eval_time exactly the firing alerts,
// labels and annotations that the unit test expects (and promtool
// confirms, above).
func TestSameAnswersAsPrometheus(t *testing.T) {
	promtest.Require(t)
	for _, path := range unitTests {
		f, err := readUnitTestFile(path)
		require.NoError(t, err)
		for _, tg := range f.Tests {
			t.Run(filepath.Base(path)+"/"+tg.Name, func(t *testing.T) {
				checked := runUnitTestGroup(t, f, tg)
				require.NotZero(t, checked, "no alert test was checked")
			})
		}
	}
}

func runUnitTestGroup(t *testing.T, f *unitTestFile, tg testGroup) (checked int) {
	prom := backfilled(t, tg, nil)
	set, err := rules.Load(rules.Config{Prometheus: prom, ExternalLabels: tg.ExternalLabels}, f.RuleFiles...)
	require.NoError(t, err)
	step := time.Duration(f.EvaluationInterval)
	for _, g := range set.Groups() {
		// promtool evaluates every group at evaluation_interval: the files
		// must make that each group's own interval.
		require.Equal(t, step, g.Interval, "group %s: interval must equal evaluation_interval", g.Name)
	}
	eval, err := invariant.New(set.Invariants(), invariant.Config{})
	require.NoError(t, err)

	var last time.Duration
	for _, tc := range tg.AlertRuleTests {
		last = max(last, time.Duration(tc.EvalTime))
	}
	for ts := time.Duration(0); ts <= last; ts += step {
		rep, err := eval.Evaluate(t.Context(), epoch.Add(ts))
		require.NoError(t, err)
		require.Empty(t, rep.Errors, "at %v", ts)
		for _, tc := range tg.AlertRuleTests {
			// As promtool: an eval_time between two steps is compared with
			// the earlier step.
			at := time.Duration(tc.EvalTime)
			if at < ts || at >= ts+step {
				continue
			}
			var want []alertSeen
			for _, e := range tc.ExpAlerts {
				l := map[string]string{"alertname": tc.Alertname}
				for k, v := range e.ExpLabels {
					l[k] = v
				}
				want = append(want, alertSeen{Labels: l, Annotations: e.ExpAnnotations})
			}
			var got []alertSeen
			for _, a := range rep.Violations {
				if a.State == invariant.StateFiring && a.Labels["alertname"] == tc.Alertname {
					got = append(got, alertSeen{Labels: rules.Labels(a), Annotations: rules.Annotations(a)})
				}
			}
			sortAlerts(want)
			sortAlerts(got)
			if diff := gocmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("%s at %v (-promtool +rules):\n%s", tc.Alertname, at, diff)
			}
			checked++
		}
	}
	return checked
}

func TestExpandSeries(t *testing.T) {
	m := model.Metric{"__name__": "up", "job": "tikv"}
	tests := []struct {
		values string
		want   []sample
	}{
		{"1 2 3", []sample{{0, 1}, {15 * time.Second, 2}, {30 * time.Second, 3}}},
		{"0+10x2", []sample{{0, 0}, {15 * time.Second, 10}, {30 * time.Second, 20}}},
		{"5-1x2 _ 7", []sample{{0, 5}, {15 * time.Second, 4}, {30 * time.Second, 3}, {60 * time.Second, 7}}},
		{"1x1 _x2 2", []sample{{0, 1}, {15 * time.Second, 1}, {60 * time.Second, 2}}},
		{"NaN Inf", []sample{{0, math.NaN()}, {15 * time.Second, math.Inf(1)}}},
	}
	for _, tt := range tests {
		got, err := expandSeries(inputSeries{Series: `up{job="tikv"}`, Values: tt.values}, 15*time.Second)
		require.NoError(t, err, tt.values)
		want := series{metric: m, samples: tt.want}
		if diff := gocmp.Diff(want, got, gocmp.AllowUnexported(series{}, sample{}), cmpopts.EquateNaNs()); diff != "" {
			t.Errorf("%q (-want +got):\n%s", tt.values, diff)
		}
	}
	for _, bad := range []string{"1 stale", "1 x", "{{schema:0 sum:1 count:1}}"} {
		_, err := expandSeries(inputSeries{Series: `up`, Values: bad}, time.Minute)
		require.Error(t, err, bad)
	}
}

func TestOpenMetrics(t *testing.T) {
	ss := []series{
		{metric: model.Metric{"__name__": "b_total", "instance": `x"y`}, samples: []sample{{0, 1}, {90 * time.Second, 2.5}}},
		{metric: model.Metric{"__name__": "a"}, samples: []sample{{time.Second, math.Inf(-1)}}},
	}
	want := "# TYPE a unknown\na -Inf 1\n# TYPE b_total unknown\nb_total{instance=\"x\\\"y\"} 1 0\nb_total{instance=\"x\\\"y\"} 2.5 90\n# EOF\n"
	require.Equal(t, want, openMetrics(ss, epoch))
}
