package rules

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql/parser"

	"github.com/kvops/operator/invariant"
	"github.com/kvops/operator/promclient"
	"github.com/kvops/operator/subject"
)

// DefaultInterval is the evaluation interval of a group that sets none:
// Prometheus' default global evaluation_interval.
const DefaultInterval = time.Minute

// Config says how rules are judged. The zero value of each field means its
// default, except Prometheus, which is required.
type Config struct {
	// Prometheus runs every rule's expression as an instant query.
	Prometheus *promclient.Client
	// DefaultInterval is the interval of groups that set none; default
	// [DefaultInterval].
	DefaultInterval time.Duration
	// DefaultSeverity is the severity of a rule whose severity (or level)
	// label is missing, templated or not a name this package knows (see
	// [SeverityOf]); default [invariant.SeverityWarning].
	DefaultSeverity invariant.Severity
	// ExternalLabels are what templates see as $externalLabels. As in
	// Prometheus, they are not added to the alerts' labels.
	ExternalLabels map[string]string
	// ExternalURL is what templates see as $externalURL (and what
	// pathPrefix and externalURL return); default empty.
	ExternalURL string
	// SkipRecordingRules leaves recording rules out instead of refusing the
	// file: for rule files that a Prometheus already evaluates, whose
	// recorded series the alerting rules then read from it.
	SkipRecordingRules bool
	// Logger receives a Warn record for each template that fails to expand
	// (the label or annotation then reads "<error expanding template:
	// ...>", as in Prometheus), for each rule whose series exist nowhere
	// (see SkipSeriesCheck) and for each file that carries tiup's
	// placeholder ENV_LABELS_ENV unreplaced (see Placeholders), and Debug
	// records of query warnings; default discards.
	Logger *slog.Logger
	// Placeholders replaces text in the files before they are parsed, as
	// tiup does when it deploys TiKV's and PD's official rule files: each
	// carries env: ENV_LABELS_ENV in every rule's labels (and
	// "cluster: ENV_LABELS_ENV" in its description), which tiup replaces
	// with the cluster's name. {"ENV_LABELS_ENV": "prod"} does the same,
	// so alerts carry env="prod"; {"ENV_LABELS_ENV": ""} drops the label,
	// since a label whose value is empty is no label, as in Prometheus
	// (and env="" in an expression selects series without it). Left as
	// it is, every alert carries env="ENV_LABELS_ENV". Keys must not be
	// empty.
	Placeholders map[string]string
	// SkipSeriesCheck turns off the check of each rule's series. By
	// default, the first time a rule is evaluated, it asks Prometheus
	// (one instant query) whether each series selector of its expression
	// (those under absent and absent_over_time excepted) selects any
	// series; if some select none, it says so once: a Warn record to
	// Logger, and, when the rule's result is empty, that evaluation of
	// the rule fails with a [*NoSeriesError] (matching [ErrNoSeries])
	// instead of reading as healthy. A rule whose series appear only once
	// something happens (an error counter) says so once too: set this to
	// keep quiet about it.
	SkipSeriesCheck bool
}

// Set is the alerting rules of one or more rule files, ready to be judged
// by an [invariant.Evaluator].
type Set struct {
	groups []Group
	invs   []invariant.Invariant
}

// Group is one rule group as loaded.
type Group struct {
	// File is the path (or name, for [Parse]) the group came from.
	File string
	// Name is the group's name.
	Name string
	// Interval is the group's evaluation interval: its own, or
	// Config.DefaultInterval. Evaluate the invariants at this interval to
	// get Prometheus' answers.
	Interval time.Duration
	// QueryOffset is the group's query_offset: queries are evaluated this
	// long before the evaluation time.
	QueryOffset time.Duration
	// Rules are its alerting rules, in file order.
	Rules []Rule
}

// Rule is one alerting rule as loaded.
type Rule struct {
	// Name is the name of the rule's invariant: "group/alert", with "#2",
	// "#3"... appended when the same pair comes again (in the same or a
	// later file), so that names stay stable while the files do.
	Name string
	// Alert is the rule's alert name.
	Alert string
	// Expr is its PromQL expression.
	Expr string
	// For and KeepFiringFor are its "for" and "keep_firing_for".
	For, KeepFiringFor time.Duration
	// Labels are the group's labels overridden by the rule's, unexpanded;
	// Annotations the rule's annotations, unexpanded.
	Labels, Annotations map[string]string
	// Severity is what the rule's severity or level label says.
	Severity invariant.Severity
}

// Load reads and validates the rule files as Prometheus does (its own
// rulefmt package: unknown fields, invalid expressions, label names and
// templates are refused) and returns their alerting rules.
//
// Errors: a file that cannot be read wraps the os error and
// [subject.ErrNotFound] when it does not exist; a file Prometheus would
// refuse matches [subject.ErrInvalid] and wraps every one of rulefmt's
// errors (*rulefmt.Error carries the group, rule and line); a recording
// rule (unless Config.SkipRecordingRules) or a group limit matches
// [subject.ErrNotSupported]; a missing Config.Prometheus, or a rule label
// whose name starts with [AnnotationPrefix] (Prometheus would take it),
// matches [subject.ErrInvalid]. Nothing is returned on error.
//
// Names are validated as Prometheus 3 (this module's v0.316.0) does, with
// UTF-8 names allowed; Prometheus 2 accepted only the legacy character
// set.
func Load(cfg Config, paths ...string) (*Set, error) {
	files := make([]file, 0, len(paths))
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("rules: %w: %w", subject.ErrNotFound, err)
		}
		if err != nil {
			return nil, fmt.Errorf("rules: %w", err)
		}
		files = append(files, file{p, b})
	}
	return load(cfg, files)
}

// Parse is [Load] for one file's content already in memory; name is used
// in errors and [Group].File.
func Parse(cfg Config, name string, content []byte) (*Set, error) {
	return load(cfg, []file{{name, content}})
}

type file struct {
	name    string
	content []byte
}

// tiupPlaceholder is what tiup replaces, in TiKV's and PD's official rule
// files, with the cluster's name when it deploys them.
const tiupPlaceholder = "ENV_LABELS_ENV"

// replacePlaceholders replaces each placeholder's every occurrence, in
// the order of the keys, so that the result does not depend on the map's.
func replacePlaceholders(content []byte, ph map[string]string) []byte {
	for _, k := range slices.Sorted(maps.Keys(ph)) {
		content = bytes.ReplaceAll(content, []byte(k), []byte(ph[k]))
	}
	return content
}

func load(cfg Config, files []file) (*Set, error) {
	if cfg.Prometheus == nil {
		return nil, fmt.Errorf("rules: Config.Prometheus is nil: %w", subject.ErrInvalid)
	}
	if cfg.DefaultInterval < 0 {
		return nil, fmt.Errorf("rules: Config.DefaultInterval %v is negative: %w", cfg.DefaultInterval, subject.ErrInvalid)
	}
	if cfg.DefaultSeverity != 0 && !cfg.DefaultSeverity.Valid() {
		return nil, fmt.Errorf("rules: Config.DefaultSeverity %v: %w", cfg.DefaultSeverity, subject.ErrInvalid)
	}
	extURL, err := url.Parse(cfg.ExternalURL)
	if err != nil {
		return nil, fmt.Errorf("rules: Config.ExternalURL: %w: %w", subject.ErrInvalid, err)
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	env := &env{
		prom:        cfg.Prometheus,
		extLabels:   maps.Clone(cfg.ExternalLabels),
		extURL:      extURL,
		log:         log,
		seriesCheck: !cfg.SkipSeriesCheck,
	}
	for k := range cfg.Placeholders {
		if k == "" {
			return nil, fmt.Errorf("rules: Config.Placeholders has an empty key: %w", subject.ErrInvalid)
		}
	}
	if env.extLabels == nil {
		env.extLabels = map[string]string{}
	}
	defSeverity := cfg.DefaultSeverity
	if defSeverity == 0 {
		defSeverity = invariant.SeverityWarning
	}
	interval := cfg.DefaultInterval
	if interval == 0 {
		interval = DefaultInterval
	}

	s := &Set{}
	names := map[string]int{}
	p := parser.NewParser(parser.Options{})
	for _, f := range files {
		f.content = replacePlaceholders(f.content, cfg.Placeholders)
		if bytes.Contains(f.content, []byte(tiupPlaceholder)) {
			log.Warn("rules: the file carries tiup's placeholder "+tiupPlaceholder+"; set Config.Placeholders to replace or drop it",
				slog.String("file", f.name))
		}
		rgs, errs := rulefmt.Parse(f.content, false, model.UTF8Validation, p, log)
		if len(errs) > 0 {
			return nil, fmt.Errorf("rules: %s: %w: %w", f.name, subject.ErrInvalid, errors.Join(errs...))
		}
		for _, rg := range rgs.Groups {
			g := Group{File: f.name, Name: rg.Name, Interval: interval}
			if rg.Interval != 0 {
				g.Interval = time.Duration(rg.Interval)
			}
			if rg.QueryOffset != nil {
				g.QueryOffset = time.Duration(*rg.QueryOffset)
			}
			if rg.Limit != 0 {
				// Prometheus drops every alert of a rule over its limit and
				// fails it; the evaluator keeps state on a failure, so the two
				// cannot agree.
				return nil, fmt.Errorf("rules: %s: group %q: limit %d: %w: the evaluator cannot drop a rule's alerts as Prometheus does over a limit", f.name, rg.Name, rg.Limit, subject.ErrNotSupported)
			}
			for i, r := range rg.Rules {
				if r.Record != "" {
					if cfg.SkipRecordingRules {
						continue
					}
					return nil, fmt.Errorf("rules: %s: group %q, rule %d: recording rule %q: %w: an operator cannot write series into Prometheus; let Prometheus evaluate it and set SkipRecordingRules", f.name, rg.Name, i+1, r.Record, subject.ErrNotSupported)
				}
				labels := maps.Clone(rg.Labels)
				if labels == nil {
					labels = map[string]string{}
				}
				maps.Copy(labels, r.Labels)
				for name := range labels {
					if strings.HasPrefix(name, AnnotationPrefix) {
						return nil, fmt.Errorf("rules: %s: group %q, rule %d %q: label %q: %w: names starting with %q carry the annotations", f.name, rg.Name, i+1, r.Alert, name, subject.ErrInvalid, AnnotationPrefix)
					}
				}
				ru := Rule{
					Alert:         r.Alert,
					Expr:          r.Expr,
					For:           time.Duration(r.For),
					KeepFiringFor: time.Duration(r.KeepFiringFor),
					Labels:        labels,
					Annotations:   maps.Clone(r.Annotations),
					Severity:      SeverityOf(labels, defSeverity),
				}
				if ru.Annotations == nil {
					ru.Annotations = map[string]string{}
				}
				ru.Name = g.Name + "/" + r.Alert
				names[ru.Name]++
				if n := names[ru.Name]; n > 1 {
					ru.Name = fmt.Sprintf("%s#%d", ru.Name, n)
				}
				g.Rules = append(g.Rules, ru)
				ar, err := newAlertRule(env, g, ru)
				if err != nil {
					return nil, fmt.Errorf("rules: %s: group %q, rule %d %q: %w", f.name, rg.Name, i+1, r.Alert, err)
				}
				s.invs = append(s.invs, ar.invariant())
			}
			s.groups = append(s.groups, g)
		}
	}
	return s, nil
}

// Groups returns the groups loaded, in file order.
func (s *Set) Groups() []Group { return slices.Clone(s.groups) }

// Invariants returns one invariant per alerting rule, for
// [invariant.New]. Each one's check runs the rule's expression at the
// evaluation time the evaluator passes and reports one finding per
// resulting series (see the package documentation).
func (s *Set) Invariants() []invariant.Invariant { return slices.Clone(s.invs) }

// Interval returns the shortest interval of the groups (Config's
// DefaultInterval when there are none): how often to evaluate.
func (s *Set) Interval() time.Duration {
	var d time.Duration
	for _, g := range s.groups {
		if d == 0 || g.Interval < d {
			d = g.Interval
		}
	}
	if d == 0 {
		return DefaultInterval
	}
	return d
}

// SeverityOf returns the severity a rule's labels give: its "severity"
// label or, as TiKV's and PD's rule files spell it, its "level" label.
// "emergency" (TiKV's and PD's highest level) and "critical" are
// [invariant.SeverityCritical], which is the evaluator's highest; the
// alert's own level label still says "emergency". "warning" and "warn" are
// SeverityWarning, "info" SeverityInfo, in any case. Anything else, or
// neither label, gives def.
func SeverityOf(labels map[string]string, def invariant.Severity) invariant.Severity {
	v, ok := labels["severity"]
	if !ok {
		v = labels["level"]
	}
	switch strings.ToLower(v) {
	case "emergency", "critical":
		return invariant.SeverityCritical
	case "warning", "warn":
		return invariant.SeverityWarning
	case "info":
		return invariant.SeverityInfo
	}
	return def
}
