// Package opmetrics exports an operator's own metrics to Prometheus, as
// Prometheus' rule manager exports its own (rules/group.go's Metrics):
// what the evaluator judged, what the guard decided and what the actions
// did, and what was asked of PD and of Prometheus.
//
// The packages that do the work link no metrics library: the evaluator
// ([invariant.Config].OnEvaluation), the guard ([guard.Config].OnAction),
// PD's client ([pdclient.Config].OnRequest) and Prometheus' client
// ([promclient.Config].OnQuery) each call a hook, when one is set, with
// plain data; this package is the one that turns those calls into
// client_golang metrics. A program that wants no metrics links none, and
// package tikv never imports this one.
//
//	m, err := opmetrics.New(opmetrics.Config{})
//	reg := prometheus.NewRegistry()
//	reg.MustRegister(m)                  // your registry; nothing is global
//	cfg.PD.OnRequest = m.OnRequest       // tikv.Config's clients
//	cfg.Prometheus.OnQuery = m.OnQuery
//	eval, err := invariant.New(invs, invariant.Config{OnEvaluation: m.OnEvaluation})
//	g, err := guard.New(sub, guard.Config{Mode: guard.ModeAutomatic, OnAction: m.OnAction})
//	http.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
//
// examples/watch serves them with -metrics-addr.
//
// # Metrics
//
// Every name starts with kvops_operator_; durations are in seconds.
//
//	evaluations_total                     counter    calls of Evaluate
//	evaluation_failures_total             counter    evaluations that did not judge every
//	                                                 invariant: the call failed, or a check did
//	evaluation_duration_seconds           histogram  an evaluation's duration, checks included
//	last_evaluation_timestamp_seconds     gauge      the latest evaluation's time
//	alerts{invariant,state}               gauge      pending and firing alerts per invariant
//	check_errors_total{invariant}         counter    failed checks per invariant
//	check_last_duration_seconds{invariant} gauge     each check's duration in the latest evaluation
//	actions_total{action,outcome}         counter    confirmed, refused, failed, unconfirmed, dry_run
//	action_duration_seconds{action}       histogram  submission to outcome, by the guard's clock
//	guard_decisions_total{decision,reason} counter   approved (reason: the mode) or refused
//	                                                 (reason: the rule, such as cooldown or busy)
//	pd_requests_total{method,route,code}  counter    exchanges with PD members
//	pd_request_duration_seconds{method,route} histogram
//	prometheus_queries_total{path,code}   counter    queries to Prometheus' HTTP API
//	prometheus_query_duration_seconds{path} histogram
//
// Labels have bounded cardinality: invariant and action names are the
// program's own, outcomes and reasons are fixed sets, route is PD's route
// template ("/pd/api/v1/operators/{region_id}", never the concrete path;
// "other" for a path the client does not know), path is Prometheus' API
// path, and code is an HTTP status, or "error" when no answer came. No
// region, store or key appears in a label. The label is named route
// rather than endpoint because pdclient's endpoints are PD's members.
//
// An alerting rule on the operator itself, as PrometheusRuleFailures is on
// Prometheus:
//
//	increase(kvops_operator_evaluation_failures_total[5m]) > 0
//	time() - kvops_operator_last_evaluation_timestamp_seconds > 120
//
// # Why here
//
// The metrics span the evaluator, the guard and both clients, and
// importers of any of them are in the business of operating TiKV, so the
// package sits under tikv, beside tikvtest and election, as a package of
// its own: importing tikv links no client_golang registry (tikv's
// TestLayers keeps it so), and importing this links client_golang's
// prometheus package, which a program serving /metrics links anyway.
// It is not named metrics: under tikv that would read as TiKV's own
// metrics, which promclient reads.
package opmetrics
