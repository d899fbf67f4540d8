package rules_test

import (
	"bytes"
	"fmt"
	"maps"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/value"
	"github.com/prometheus/prometheus/promql/parser"
	"go.yaml.in/yaml/v3"

	"github.com/kvops/operator/internal/promtest"
	"github.com/kvops/operator/promclient"
)

// unitTestFile is a promtool unit-test file ("promtool test rules"): the
// fields of Prometheus' cmd/promtool/unittest.go that these tests use.
type unitTestFile struct {
	RuleFiles          []string       `yaml:"rule_files"`
	EvaluationInterval model.Duration `yaml:"evaluation_interval"`
	Tests              []testGroup    `yaml:"tests"`
}

type testGroup struct {
	Name           string            `yaml:"name"`
	Interval       model.Duration    `yaml:"interval"`
	ExternalLabels map[string]string `yaml:"external_labels"`
	InputSeries    []inputSeries     `yaml:"input_series"`
	AlertRuleTests []alertTestCase   `yaml:"alert_rule_test"`
}

type inputSeries struct {
	Series string `yaml:"series"`
	Values string `yaml:"values"`
}

type alertTestCase struct {
	EvalTime  model.Duration `yaml:"eval_time"`
	Alertname string         `yaml:"alertname"`
	ExpAlerts []struct {
		ExpLabels      map[string]string `yaml:"exp_labels"`
		ExpAnnotations map[string]string `yaml:"exp_annotations"`
	} `yaml:"exp_alerts"`
}

// readUnitTestFile reads a promtool unit-test file strictly (an unknown
// field is an error) and applies promtool's defaults: 1m evaluation and
// input intervals.
func readUnitTestFile(path string) (*unitTestFile, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	var f unitTestFile
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if f.EvaluationInterval == 0 {
		f.EvaluationInterval = model.Duration(time.Minute)
	}
	for i := range f.Tests {
		if f.Tests[i].Interval == 0 {
			f.Tests[i].Interval = model.Duration(time.Minute)
		}
	}
	for i, rf := range f.RuleFiles {
		f.RuleFiles[i] = filepath.Join(filepath.Dir(path), rf)
	}
	return &f, nil
}

// sample is one point of an input series.
type sample struct {
	at time.Duration // since the start of the test, time 0
	v  float64
}

// series is one input series expanded to its samples.
type series struct {
	metric  model.Metric
	samples []sample
}

// expandSeries expands promtool's series notation ("a+bxn", "_", "axn",
// ...) with Prometheus' own parser, as promtool does: the i-th value is at
// i*interval and omitted values ("_") have no sample. Stale markers and
// native histograms cannot be backfilled through OpenMetrics text, so they
// are refused.
func expandSeries(in inputSeries, interval time.Duration) (series, error) {
	lbls, values, err := parser.NewParser(parser.Options{}).ParseSeriesDesc(in.Series + " " + in.Values)
	if err != nil {
		return series{}, fmt.Errorf("series %s: %w", in.Series, err)
	}
	s := series{metric: model.Metric{}}
	lbls.Range(func(l labels.Label) { s.metric[model.LabelName(l.Name)] = model.LabelValue(l.Value) })
	for i, v := range values {
		switch {
		case v.Omitted:
			continue
		case v.Histogram != nil:
			return series{}, fmt.Errorf("series %s: native histograms cannot be backfilled from OpenMetrics text", in.Series)
		case value.IsStaleNaN(v.Value):
			return series{}, fmt.Errorf("series %s: stale markers cannot be backfilled from OpenMetrics text", in.Series)
		}
		s.samples = append(s.samples, sample{at: time.Duration(i) * interval, v: v.Value})
	}
	return s, nil
}

// openMetrics writes series as OpenMetrics text for "promtool tsdb
// create-blocks-from openmetrics": each metric name a family of type
// unknown, timestamps in seconds from start.
func openMetrics(ss []series, start time.Time) string {
	byName := map[string][]series{}
	for _, s := range ss {
		name := string(s.metric[model.MetricNameLabel])
		byName[name] = append(byName[name], s)
	}
	var b strings.Builder
	for _, name := range slices.Sorted(maps.Keys(byName)) {
		fmt.Fprintf(&b, "# TYPE %s unknown\n", name)
		for _, s := range byName[name] {
			lbls := omLabels(s.metric)
			for _, p := range s.samples {
				ts := start.Add(p.at)
				fmt.Fprintf(&b, "%s%s %s %s\n", name, lbls, omFloat(p.v), strconv.FormatFloat(float64(ts.UnixMilli())/1000, 'f', -1, 64))
			}
		}
	}
	b.WriteString("# EOF\n")
	return b.String()
}

func omLabels(m model.Metric) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		if k == model.MetricNameLabel {
			continue
		}
		parts = append(parts, fmt.Sprintf("%s=\"%s\"", k, omEscape.Replace(string(m[k]))))
	}
	if len(parts) == 0 {
		return ""
	}
	return "{" + strings.Join(parts, ",") + "}"
}

var omEscape = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)

func omFloat(v float64) string {
	switch {
	case math.IsNaN(v):
		return "NaN"
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

// epoch is time 0 of a unit test, as in promtool.
var epoch = time.Unix(0, 0).UTC()

// backfilled starts a real Prometheus over the input series of a unit
// test group (its time 0 at the Unix epoch, as in promtool) and returns a
// client for it; rt, when not nil, carries the client's requests.
func backfilled(tb testing.TB, tg testGroup, rt http.RoundTripper) *promclient.Client {
	tb.Helper()
	promtest.Require(tb)
	var ss []series
	for _, in := range tg.InputSeries {
		s, err := expandSeries(in, time.Duration(tg.Interval))
		if err != nil {
			tb.Fatal(err)
		}
		ss = append(ss, s)
	}
	dir := tb.TempDir()
	promtest.Backfill(tb, dir, openMetrics(ss, epoch))
	p := promtest.Start(tb, promtest.WithDataDir(dir))
	cfg := promclient.DefaultConfig()
	cfg.Address = p.URL
	cfg.RoundTripper = rt
	c, err := promclient.New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

// unitTestGroup reads the first test group of a unit-test file.
func unitTestGroup(tb testing.TB, path string) testGroup {
	tb.Helper()
	f, err := readUnitTestFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	return f.Tests[0]
}
