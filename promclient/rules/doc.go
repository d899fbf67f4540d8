// Package rules judges Prometheus alerting rules in process: TiKV's and
// PD's own rule files (tikv.rules.yml, pd.rules.yml) or anyone's, with the
// [invariant] evaluator, and with the answers Prometheus would give.
//
// [Load] reads rule files and validates them exactly as Prometheus does,
// with Prometheus' own model/rulefmt. [Set.Invariants] gives one
// [invariant.Invariant] per alerting rule:
//
//   - its check runs the rule's expression as an instant query through
//     [promclient.Client.Query] at the evaluation time the evaluator passes
//     (less the group's query_offset), so it needs nothing but Prometheus'
//     HTTP API;
//   - each resulting series is one finding, keyed by its alert identity as
//     Prometheus computes it: the series' labels without __name__, the
//     rule's labels (the group's, overridden by the rule's) expanded and
//     added, then alertname; the key is that sorted label set, written
//     {alertname="...", instance="..."}. A scalar result is one series
//     without labels; two series with one identity fail the check, as they
//     fail Prometheus' evaluation;
//   - "for" is the invariant's Grace and "keep_firing_for" its
//     KeepFiringFor; the evaluator follows rules/alerting.go, so stepped at
//     the group's [Group].Interval it reports the firing alerts Prometheus
//     (and promtool test rules) report at the same evaluation times. The
//     caller chooses those times: they are not aligned to a Prometheus
//     server's own schedule, and groups of different intervals are all
//     evaluated whenever the evaluator runs ([Set.Interval] is the
//     shortest), which measures a longer group's "for" more finely than
//     Prometheus would;
//   - labels and annotations are expanded with Prometheus' own template
//     package, so $labels, $value, $externalLabels, $externalURL, the
//     humanize family, query and the rest behave as in Prometheus, and a
//     template that fails reads "<error expanding template: ...>";
//   - the finding's labels are the alert's labels (the series' labels are
//     there, so that an alert with an instance or store label can be acted
//     on: tikv.StoreOfIn maps it to a store), plus the expanded
//     annotations under [AnnotationPrefix]; [Labels] and [Annotations]
//     split them again. Its message is the summary and description
//     annotations;
//   - the severity comes from the rule's "severity" label or, as TiKV and
//     PD spell it, its "level" label ([SeverityOf]). TiKV's and PD's
//     "emergency" is mapped to [invariant.SeverityCritical], the
//     evaluator's highest: the invariant package is shared and knows three
//     severities, and the alert's own level label still says "emergency"
//     for whoever must rank it higher;
//   - a failed query is the check's error, so the evaluator keeps every
//     state; an empty result is no finding, so firing alerts resolve.
//
// # Series that exist nowhere
//
// A rule whose series do not exist reads as healthy for ever: an empty
// result is no alert. So the first time each rule is evaluated, one more
// instant query asks Prometheus whether each series selector of its
// expression selects anything (those under absent and absent_over_time
// are meant not to). If some select nothing, the rule says so once: a
// Warn record to Config.Logger and, when its result was empty, that
// evaluation fails with a [*NoSeriesError] naming the selectors (matching
// [ErrNoSeries]); the evaluator keeps the rule's state and reports it in
// Report.Errors, where an operator's output shows it. After that the rule
// reads as usual. Config.SkipSeriesCheck turns this off, for rules whose
// series appear only once something happens.
//
// # tiup's placeholder
//
// TiKV's and PD's official rule files carry env: ENV_LABELS_ENV in every
// rule's labels, which tiup replaces with the cluster's name when it
// deploys them. Config.Placeholders does the same ({"ENV_LABELS_ENV":
// "prod"}), or drops the label ({"ENV_LABELS_ENV": ""}); left as it is,
// every alert carries env="ENV_LABELS_ENV" and Load logs a Warn record.
//
// # Recording rules
//
// Recording rules are refused ([subject.ErrNotSupported]): an operator
// cannot write series into Prometheus, and alerting rules that read a
// recorded series read it from the Prometheus that records it.
// Config.SkipRecordingRules leaves them to that Prometheus. A group
// "limit" is refused too: over it Prometheus drops the rule's alerts,
// which a state-keeping evaluator cannot mirror.
//
// # What it costs importers
//
// Using Prometheus' own rulefmt and template packages is what makes
// "validated as Prometheus does" and "expanded as Prometheus does" true
// rather than approximately true, and they come together: rulefmt
// validates templates with the template package, which imports the PromQL
// engine. Measured with go list -deps on this module (Go 1.26,
// prometheus v0.316.0): promclient alone is 281 packages; this package
// with prometheus/prometheus is 350 (the engine, storage and chunk
// encodings, OpenTelemetry's trace API, mmap-go, x/text's cases); written
// with yaml and text/template alone it would be 283, with a
// hand-copied validator and function map that would drift from
// Prometheus'. We take the 67 more packages: they are paid only by programs
// that import this package (tikv does not, and its 354 packages are
// unchanged), and they are the packages the rule files were written for.
package rules
