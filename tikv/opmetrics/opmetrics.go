package opmetrics

import (
	"fmt"
	"strconv"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kvops/operator/invariant"
	"github.com/kvops/operator/pdclient"
	"github.com/kvops/operator/promclient"
	"github.com/kvops/operator/subject"
	"github.com/kvops/operator/subject/guard"
)

// Namespace is the first part of every metric's name.
const Namespace = "kvops_operator"

// Config configures [New]. Its zero value is ready to use.
type Config struct {
	// ConstLabels are added to every metric, such as {"cluster": "prod"}
	// for an operator that watches several clusters with one Metrics
	// each, registered on one registry. Default: none.
	ConstLabels map[string]string
}

// The buckets of the duration histograms, in seconds: each spans what its
// operation takes, from a fast answer to the library's default bound on
// it (a check's 30 s, an action's 10 minutes, a PD attempt's and a
// Prometheus call's 10 s).
var (
	evaluationBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}
	actionBuckets     = []float64{0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600}
	requestBuckets    = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}
)

// Metrics is the operator's own metrics: a [prometheus.Collector] to
// register on the caller's registry, and four hooks to set in the
// configurations of the evaluator, the guard and the two clients. It is
// safe for concurrent use; one Metrics may serve several evaluators,
// guards and clients, whose figures it then adds up.
type Metrics struct {
	evaluations    prometheus.Counter
	evalFailures   prometheus.Counter
	evalDuration   prometheus.Histogram
	lastEvaluation prometheus.Gauge
	alerts         *prometheus.GaugeVec
	checkErrors    *prometheus.CounterVec
	checkDuration  *prometheus.GaugeVec
	actions        *prometheus.CounterVec
	actionDuration *prometheus.HistogramVec
	decisions      *prometheus.CounterVec
	pdRequests     *prometheus.CounterVec
	pdDuration     *prometheus.HistogramVec
	queries        *prometheus.CounterVec
	queryDuration  *prometheus.HistogramVec
	all            []prometheus.Collector

	// The children of the vectors, by label values, so that a hook that
	// finds its series allocates nothing (a vector's WithLabelValues
	// does).
	mu       sync.Mutex
	invs     map[string]*invariantSeries
	requests map[requestKey]*requestSeries
	calls    map[queryKey]*requestSeries
}

type invariantSeries struct {
	pending, firing, duration prometheus.Gauge
	errors                    prometheus.Counter
}

type requestKey struct {
	method, route string
	status        int
}

type queryKey struct {
	path   string
	status int
}

type requestSeries struct {
	total    prometheus.Counter
	duration prometheus.Observer
}

// New returns the metrics, not registered: register them on your own
// registry (prometheus.Registry.Register); nothing is registered
// globally. A ConstLabels name that is not a valid label name, or one of
// the metrics' own labels, is an error matching [subject.ErrInvalid].
func New(cfg Config) (*Metrics, error) {
	cl := prometheus.Labels(cfg.ConstLabels)
	counter := func(name, help string) prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{Namespace: Namespace, Name: name, Help: help, ConstLabels: cl})
	}
	counterVec := func(name, help string, labels ...string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: name, Help: help, ConstLabels: cl}, labels)
	}
	gaugeVec := func(name, help string, labels ...string) *prometheus.GaugeVec {
		return prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: Namespace, Name: name, Help: help, ConstLabels: cl}, labels)
	}
	histogramVec := func(name, help string, buckets []float64, labels ...string) *prometheus.HistogramVec {
		return prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: Namespace, Name: name, Help: help, ConstLabels: cl, Buckets: buckets}, labels)
	}
	m := &Metrics{
		evaluations:  counter("evaluations_total", "Evaluations of the invariants: calls of Evaluate."),
		evalFailures: counter("evaluation_failures_total", "Evaluations that did not judge every invariant: the call failed, or a check did."),
		evalDuration: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: Namespace, Name: "evaluation_duration_seconds",
			Help: "How long an evaluation of the invariants took, checks included.", ConstLabels: cl, Buckets: evaluationBuckets}),
		lastEvaluation: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: Namespace, Name: "last_evaluation_timestamp_seconds",
			Help: "The evaluation time of the latest evaluation, in seconds since the Unix epoch.", ConstLabels: cl}),
		alerts:        gaugeVec("alerts", "Alerts of each invariant after the latest evaluation, by state (pending, firing).", "invariant", "state"),
		checkErrors:   counterVec("check_errors_total", "Checks that failed, by invariant; the invariant's state was kept.", "invariant"),
		checkDuration: gaugeVec("check_last_duration_seconds", "How long each invariant's check took in the latest evaluation.", "invariant"),
		actions: counterVec("actions_total",
			"Actions asked of the guard, by name and outcome (confirmed, refused, failed, unconfirmed, dry_run).", "action", "outcome"),
		actionDuration: histogramVec("action_duration_seconds",
			"How long submitted actions took, from submission to their outcome, by the guard's clock.", actionBuckets, "action"),
		decisions: counterVec("guard_decisions_total",
			"The guard's decisions: approved (reason: the mode that approved) or refused (reason: the rule or error that refused).", "decision", "reason"),
		pdRequests: counterVec("pd_requests_total",
			"HTTP exchanges with PD members, by method, PD's route template and status code (\"error\" when no answer came).", "method", "route", "code"),
		pdDuration: histogramVec("pd_request_duration_seconds",
			"How long an exchange with a PD member took, answer decoded included.", requestBuckets, "method", "route"),
		queries: counterVec("prometheus_queries_total",
			"Queries sent to Prometheus' HTTP API, by API path and status code (\"error\" when no answer came).", "path", "code"),
		queryDuration: histogramVec("prometheus_query_duration_seconds",
			"How long a query to Prometheus took, answer read included.", requestBuckets, "path"),
		invs:     map[string]*invariantSeries{},
		requests: map[requestKey]*requestSeries{},
		calls:    map[queryKey]*requestSeries{},
	}
	m.all = []prometheus.Collector{m.evaluations, m.evalFailures, m.evalDuration, m.lastEvaluation, m.alerts,
		m.checkErrors, m.checkDuration, m.actions, m.actionDuration, m.decisions, m.pdRequests, m.pdDuration,
		m.queries, m.queryDuration}
	// A pedantic registry refuses what a user's registry would: bad
	// constant labels, clashes with the metrics' own labels.
	if err := prometheus.NewPedanticRegistry().Register(m); err != nil {
		return nil, fmt.Errorf("opmetrics: Config.ConstLabels: %w: %w", subject.ErrInvalid, err)
	}
	return m, nil
}

// Describe sends the descriptions of every metric.
func (m *Metrics) Describe(ch chan<- *prometheus.Desc) {
	for _, c := range m.all {
		c.Describe(ch)
	}
}

// Collect sends every metric's current value.
func (m *Metrics) Collect(ch chan<- prometheus.Metric) {
	for _, c := range m.all {
		c.Collect(ch)
	}
}

// OnEvaluation records one evaluation: set it as
// invariant.Config.OnEvaluation.
func (m *Metrics) OnEvaluation(ev invariant.EvaluationInfo) {
	m.evaluations.Inc()
	if ev.Failed() {
		m.evalFailures.Inc()
	}
	if ev.Err != nil {
		return
	}
	m.evalDuration.Observe(ev.Duration.Seconds())
	m.lastEvaluation.Set(float64(ev.At.UnixNano()) / 1e9)
	m.mu.Lock()
	defer m.mu.Unlock()
	for i := range ev.Invariants {
		in := &ev.Invariants[i]
		s := m.invs[in.Name]
		if s == nil {
			s = &invariantSeries{
				pending:  m.alerts.WithLabelValues(in.Name, "pending"),
				firing:   m.alerts.WithLabelValues(in.Name, "firing"),
				duration: m.checkDuration.WithLabelValues(in.Name),
				errors:   m.checkErrors.WithLabelValues(in.Name),
			}
			m.invs[in.Name] = s
		}
		s.pending.Set(float64(in.Pending))
		s.firing.Set(float64(in.Firing))
		s.duration.Set(in.CheckDuration.Seconds())
		if in.Err != nil {
			s.errors.Inc()
		}
	}
}

// OnAction records how one action ended: set it as
// guard.Config.OnAction.
func (m *Metrics) OnAction(ai guard.ActionInfo) {
	m.actions.WithLabelValues(ai.Action, string(ai.Outcome)).Inc()
	if !ai.Submitted.IsZero() {
		m.actionDuration.WithLabelValues(ai.Action).Observe(ai.Duration.Seconds())
	}
	if ai.Approved {
		m.decisions.WithLabelValues("approved", ai.Mode.String()).Inc()
	}
	if ai.Outcome == guard.EventRefused {
		m.decisions.WithLabelValues("refused", ai.Refusal).Inc()
	}
}

// OnRequest records one exchange with a PD member: set it as
// pdclient.Config.OnRequest.
func (m *Metrics) OnRequest(ri pdclient.RequestInfo) {
	k := requestKey{ri.Method, ri.Route, ri.Status}
	m.mu.Lock()
	s := m.requests[k]
	if s == nil {
		s = &requestSeries{
			total:    m.pdRequests.WithLabelValues(ri.Method, ri.Route, code(ri.Status)),
			duration: m.pdDuration.WithLabelValues(ri.Method, ri.Route),
		}
		m.requests[k] = s
	}
	m.mu.Unlock()
	s.total.Inc()
	s.duration.Observe(ri.Duration.Seconds())
}

// OnQuery records one query to Prometheus: set it as
// promclient.Config.OnQuery.
func (m *Metrics) OnQuery(qi promclient.QueryInfo) {
	k := queryKey{qi.Path, qi.Status}
	m.mu.Lock()
	s := m.calls[k]
	if s == nil {
		s = &requestSeries{
			total:    m.queries.WithLabelValues(qi.Path, code(qi.Status)),
			duration: m.queryDuration.WithLabelValues(qi.Path),
		}
		m.calls[k] = s
	}
	m.mu.Unlock()
	s.total.Inc()
	s.duration.Observe(qi.Duration.Seconds())
}

// code is the code label of an HTTP status, "error" for no answer.
func code(status int) string {
	if status == 0 {
		return "error"
	}
	return strconv.Itoa(status)
}
