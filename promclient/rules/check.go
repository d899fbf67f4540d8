package rules

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/timestamp"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/template"

	"github.com/kvops/operator/invariant"
	"github.com/kvops/operator/promclient"
	"github.com/kvops/operator/subject"
)

// AnnotationPrefix starts the alert labels that carry a rule's expanded
// annotations: annotation "summary" is label "__annotation_summary". They
// ride in the labels so that the evaluator keeps the latest ones (and
// saves them with its state), as Prometheus keeps an alert's latest
// annotations; they are not part of the alert's identity (its key).
// Prometheus reserves label names starting with "__" for internal use, so
// no series label can collide with them. Read them with [Annotations].
const AnnotationPrefix = "__annotation_"

// env is what every rule of a Set shares.
type env struct {
	prom        *promclient.Client
	extLabels   map[string]string
	extURL      *url.URL
	log         *slog.Logger
	seriesCheck bool // see Config.SkipSeriesCheck
}

type pair struct{ name, value string }

func sortedPairs(m map[string]string) []pair {
	out := make([]pair, 0, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		out = append(out, pair{k, m[k]})
	}
	return out
}

// alertRule is one alerting rule's check.
type alertRule struct {
	env         *env
	rule        Rule
	group       string
	offset      time.Duration
	labels      []pair
	annotations []pair
	// selectors are the expression's series selectors, and probed
	// whether Prometheus was asked if they select any (checkSeries).
	selectors []string
	probed    atomic.Bool
}

func newAlertRule(e *env, g Group, r Rule) (*alertRule, error) {
	ar := &alertRule{
		env: e, rule: r, group: g.Name, offset: g.QueryOffset,
		labels: sortedPairs(r.Labels), annotations: sortedPairs(r.Annotations),
	}
	if e.seriesCheck {
		sels, err := selectorsOf(parser.NewParser(parser.Options{}), r.Expr)
		if err != nil {
			// rulefmt parsed it already; this is a bug.
			return nil, fmt.Errorf("reading its selectors: %w", err)
		}
		ar.selectors = sels
	} else {
		ar.probed.Store(true)
	}
	return ar, nil
}

func (r *alertRule) invariant() invariant.Invariant {
	return invariant.Invariant{
		Name:          r.rule.Name,
		Description:   fmt.Sprintf("alerting rule %s of group %q: %s", r.rule.Alert, r.group, r.rule.Expr),
		Check:         r.check,
		Grace:         r.rule.For,
		KeepFiringFor: r.rule.KeepFiringFor,
		Severity:      r.rule.Severity,
	}
}

// templateDefs are the variables Prometheus defines before every alert
// template (rules/alerting.go).
const templateDefs = "{{$labels := .Labels}}{{$externalLabels := .ExternalLabels}}{{$externalURL := .ExternalURL}}{{$value := .Value}}"

// check runs the rule's expression at now (less the group's query offset)
// and turns each resulting series into a finding, as Prometheus'
// AlertingRule.Eval turns it into an alert.
func (r *alertRule) check(ctx context.Context, now time.Time) ([]invariant.Finding, error) {
	v, warnings, err := r.env.prom.Query(ctx, r.rule.Expr, now.Add(-r.offset))
	if err != nil {
		return nil, fmt.Errorf("rules: %s: %w", r.rule.Name, err)
	}
	if len(warnings) > 0 {
		r.env.log.LogAttrs(ctx, slog.LevelDebug, "rules: query warnings", slog.String("rule", r.rule.Name), slog.Any("warnings", warnings))
	}
	vec, err := vectorOf(v)
	if err != nil {
		return nil, fmt.Errorf("rules: %s: %w", r.rule.Name, err)
	}
	if !r.probed.Load() {
		if err := r.checkSeries(ctx, now.Add(-r.offset), len(vec) == 0); err != nil {
			return nil, err
		}
	}
	findings := make([]invariant.Finding, 0, len(vec))
	seen := make(map[string]struct{}, len(vec))
	for _, s := range vec {
		if s.Histogram != nil {
			return nil, fmt.Errorf("rules: %s: the expression returned a native histogram: %w", r.rule.Name, subject.ErrNotSupported)
		}
		f := r.finding(ctx, now, s)
		if _, dup := seen[f.Key]; dup {
			// Prometheus fails the evaluation (ErrDuplicateAlertLabelSet)
			// and so keeps the rule's state.
			return nil, fmt.Errorf("rules: %s: %w: vector contains metrics with the same labelset after applying alert labels: %s", r.rule.Name, subject.ErrInvalid, f.Key)
		}
		seen[f.Key] = struct{}{}
		findings = append(findings, f)
	}
	return findings, nil
}

// vectorOf returns a rule's result as a vector: a scalar is one sample
// without labels, as in Prometheus' EngineQueryFunc.
func vectorOf(res promclient.Result) (model.Vector, error) {
	switch res.Type {
	case promclient.ValueVector, promclient.ValueScalar:
	default:
		return nil, fmt.Errorf("%w: rule result is not a vector or scalar but %v", subject.ErrInvalid, typeName(res.Type))
	}
	vec := make(model.Vector, len(res.Samples))
	for i, s := range res.Samples {
		m := make(model.Metric, len(s.Metric))
		for k, v := range s.Metric {
			m[model.LabelName(k)] = model.LabelValue(v)
		}
		vec[i] = &model.Sample{Metric: m, Value: model.SampleValue(s.Value), Timestamp: model.TimeFromUnixNano(s.At.UnixNano())}
		if s.Histogram {
			vec[i].Histogram = &model.SampleHistogram{}
		}
	}
	return vec, nil
}

func typeName(t promclient.ValueType) string {
	if t == "" {
		return "nothing"
	}
	return "a " + string(t)
}

// finding is one series' alert: its labels are the series' without
// __name__, then the rule's labels expanded, then alertname; its key is
// that label set; the expanded annotations ride along in the labels.
func (r *alertRule) finding(ctx context.Context, now time.Time, s *model.Sample) invariant.Finding {
	series := make(map[string]string, len(s.Metric))
	for k, v := range s.Metric {
		series[string(k)] = string(v)
	}
	data := template.AlertTemplateData(series, r.env.extLabels, r.env.extURL.String(), promql.Sample{F: float64(s.Value)})
	ls := make(model.LabelSet, len(s.Metric)+len(r.labels)+1)
	for k, v := range s.Metric {
		if k != model.MetricNameLabel {
			ls[k] = v
		}
	}
	for _, l := range r.labels {
		// As labels.Builder.Set does in Prometheus, a label that expands
		// to "" is removed.
		if v := r.expand(ctx, now, l.value, data); v != "" {
			ls[model.LabelName(l.name)] = model.LabelValue(v)
		} else {
			delete(ls, model.LabelName(l.name))
		}
	}
	ls[model.AlertNameLabel] = model.LabelValue(r.rule.Alert)
	key := ls.String()

	out := make(map[string]string, len(ls)+len(r.annotations))
	for k, v := range ls {
		out[string(k)] = string(v)
	}
	var summary, description string
	for _, a := range r.annotations {
		text := r.expand(ctx, now, a.value, data)
		out[AnnotationPrefix+a.name] = text
		switch a.name {
		case "summary":
			summary = text
		case "description":
			description = text
		}
	}
	return invariant.Finding{Key: key, Message: message(r.rule.Alert, summary, description), Value: float64(s.Value), Labels: out}
}

// message is the alert's sentence: its summary and description
// annotations, or its name when it has neither.
func message(alert, summary, description string) string {
	switch {
	case summary != "" && description != "":
		return summary + ": " + description
	case summary != "":
		return summary
	case description != "":
		return description
	}
	return alert
}

// expand expands one label or annotation template with Prometheus' own
// template package, as Prometheus does: the same variables, functions
// (humanize and the rest, query included) and error text.
func (r *alertRule) expand(ctx context.Context, now time.Time, text string, data any) string {
	if !strings.Contains(text, "{{") {
		// Without an action a template expands to its text.
		return text
	}
	tmpl := template.NewTemplateExpander(ctx, templateDefs+text, "__alert_"+r.rule.Alert, data,
		model.Time(timestamp.FromTime(now)), r.query, r.env.extURL, nil)
	out, err := tmpl.Expand()
	if err != nil {
		r.env.log.LogAttrs(ctx, slog.LevelWarn, "rules: expanding alert template failed", slog.String("rule", r.rule.Name), slog.Any("error", err))
		return fmt.Sprintf("<error expanding template: %s>", err)
	}
	return out
}

// query is the templates' query function, through the same client.
func (r *alertRule) query(ctx context.Context, q string, at time.Time) (promql.Vector, error) {
	v, _, err := r.env.prom.Query(ctx, q, at)
	if err != nil {
		return nil, err
	}
	vec, err := vectorOf(v)
	if err != nil {
		return nil, err
	}
	out := make(promql.Vector, 0, len(vec))
	for _, s := range vec {
		m := make(map[string]string, len(s.Metric))
		for k, v := range s.Metric {
			m[string(k)] = string(v)
		}
		out = append(out, promql.Sample{Metric: labels.FromMap(m), T: int64(s.Timestamp), F: float64(s.Value)})
	}
	return out, nil
}

// Annotations returns the expanded annotations an alert of a rule carries
// (see [AnnotationPrefix]), nil if it has none.
func Annotations(a invariant.Alert) map[string]string {
	var out map[string]string
	for k, v := range a.Labels {
		if name, ok := strings.CutPrefix(k, AnnotationPrefix); ok {
			if out == nil {
				out = map[string]string{}
			}
			out[name] = v
		}
	}
	return out
}

// Labels returns an alert's labels without the annotations: the labels
// Prometheus would give the alert (its identity).
func Labels(a invariant.Alert) map[string]string {
	out := make(map[string]string, len(a.Labels))
	for k, v := range a.Labels {
		if !strings.HasPrefix(k, AnnotationPrefix) {
			out[k] = v
		}
	}
	return out
}
