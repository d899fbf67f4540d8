package opmetrics_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/kvops/operator/invariant"
	"github.com/kvops/operator/pdclient"
	"github.com/kvops/operator/promclient"
	"github.com/kvops/operator/subject"
	"github.com/kvops/operator/subject/guard"
	"github.com/kvops/operator/tikv/opmetrics"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var t0 = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

func newMetrics(t *testing.T, cfg opmetrics.Config) (*opmetrics.Metrics, *prometheus.Registry) {
	t.Helper()
	m, err := opmetrics.New(cfg)
	require.NoError(t, err)
	reg := prometheus.NewPedanticRegistry()
	require.NoError(t, reg.Register(m))
	return m, reg
}

// TestHooks: each hook's data lands in its series, with the labels the
// package documents.
func TestHooks(t *testing.T) {
	m, reg := newMetrics(t, opmetrics.Config{ConstLabels: map[string]string{"cluster": "c1"}})
	errDown := errors.New("prometheus is down")

	m.OnEvaluation(invariant.EvaluationInfo{At: t0, Duration: 30 * time.Millisecond, Invariants: []invariant.InvariantInfo{
		{Name: "disk", Pending: 2, CheckDuration: 10 * time.Millisecond},
		{Name: "store_health", Firing: 1, CheckDuration: 20 * time.Millisecond},
	}})
	m.OnEvaluation(invariant.EvaluationInfo{At: t0.Add(time.Minute), Duration: 40 * time.Millisecond, Invariants: []invariant.InvariantInfo{
		{Name: "disk", Firing: 2, Err: nil},
		{Name: "store_health", Firing: 1, Err: errDown},
	}})
	m.OnEvaluation(invariant.EvaluationInfo{Err: invariant.ErrInvalid})

	m.OnAction(guard.ActionInfo{Action: "evict_leaders", Outcome: guard.EventConfirmed, Approved: true,
		Mode: guard.ModeAutomatic, Submitted: t0, Duration: 8 * time.Second})
	m.OnAction(guard.ActionInfo{Action: "drain_store", Outcome: guard.EventRefused, Refusal: "busy", Mode: guard.ModeAutomatic})
	m.OnAction(guard.ActionInfo{Action: "drain_store", Outcome: guard.EventDryRun, Mode: guard.ModeDryRun})

	m.OnRequest(pdclient.RequestInfo{Method: "GET", Route: "/pd/api/v1/stores", Status: 200, Duration: 2 * time.Millisecond})
	m.OnRequest(pdclient.RequestInfo{Method: "GET", Route: "/pd/api/v1/stores", Status: 200, Duration: 3 * time.Millisecond})
	m.OnRequest(pdclient.RequestInfo{Method: "DELETE", Route: "/pd/api/v1/operators/{region_id}", Status: 500})
	m.OnRequest(pdclient.RequestInfo{Method: "GET", Route: "/pd/api/v1/stores", Err: errDown})

	m.OnQuery(promclient.QueryInfo{Path: "/api/v1/query", Status: 200, Duration: time.Millisecond})
	m.OnQuery(promclient.QueryInfo{Path: "/api/v1/query", Err: errDown})

	const want = `
# HELP kvops_operator_evaluations_total Evaluations of the invariants: calls of Evaluate.
# TYPE kvops_operator_evaluations_total counter
kvops_operator_evaluations_total{cluster="c1"} 3
# HELP kvops_operator_evaluation_failures_total Evaluations that did not judge every invariant: the call failed, or a check did.
# TYPE kvops_operator_evaluation_failures_total counter
kvops_operator_evaluation_failures_total{cluster="c1"} 2
# HELP kvops_operator_last_evaluation_timestamp_seconds The evaluation time of the latest evaluation, in seconds since the Unix epoch.
# TYPE kvops_operator_last_evaluation_timestamp_seconds gauge
kvops_operator_last_evaluation_timestamp_seconds{cluster="c1"} 1.79612646e+09
# HELP kvops_operator_alerts Alerts of each invariant after the latest evaluation, by state (pending, firing).
# TYPE kvops_operator_alerts gauge
kvops_operator_alerts{cluster="c1",invariant="disk",state="firing"} 2
kvops_operator_alerts{cluster="c1",invariant="disk",state="pending"} 0
kvops_operator_alerts{cluster="c1",invariant="store_health",state="firing"} 1
kvops_operator_alerts{cluster="c1",invariant="store_health",state="pending"} 0
# HELP kvops_operator_check_errors_total Checks that failed, by invariant; the invariant's state was kept.
# TYPE kvops_operator_check_errors_total counter
kvops_operator_check_errors_total{cluster="c1",invariant="disk"} 0
kvops_operator_check_errors_total{cluster="c1",invariant="store_health"} 1
# HELP kvops_operator_actions_total Actions asked of the guard, by name and outcome (confirmed, refused, failed, unconfirmed, dry_run).
# TYPE kvops_operator_actions_total counter
kvops_operator_actions_total{action="drain_store",cluster="c1",outcome="dry_run"} 1
kvops_operator_actions_total{action="drain_store",cluster="c1",outcome="refused"} 1
kvops_operator_actions_total{action="evict_leaders",cluster="c1",outcome="confirmed"} 1
# HELP kvops_operator_guard_decisions_total The guard's decisions: approved (reason: the mode that approved) or refused (reason: the rule or error that refused).
# TYPE kvops_operator_guard_decisions_total counter
kvops_operator_guard_decisions_total{cluster="c1",decision="approved",reason="automatic"} 1
kvops_operator_guard_decisions_total{cluster="c1",decision="refused",reason="busy"} 1
# HELP kvops_operator_pd_requests_total HTTP exchanges with PD members, by method, PD's route template and status code ("error" when no answer came).
# TYPE kvops_operator_pd_requests_total counter
kvops_operator_pd_requests_total{cluster="c1",code="200",method="GET",route="/pd/api/v1/stores"} 2
kvops_operator_pd_requests_total{cluster="c1",code="500",method="DELETE",route="/pd/api/v1/operators/{region_id}"} 1
kvops_operator_pd_requests_total{cluster="c1",code="error",method="GET",route="/pd/api/v1/stores"} 1
# HELP kvops_operator_prometheus_queries_total Queries sent to Prometheus' HTTP API, by API path and status code ("error" when no answer came).
# TYPE kvops_operator_prometheus_queries_total counter
kvops_operator_prometheus_queries_total{cluster="c1",code="200",path="/api/v1/query"} 1
kvops_operator_prometheus_queries_total{cluster="c1",code="error",path="/api/v1/query"} 1
`
	require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(want),
		"kvops_operator_evaluations_total", "kvops_operator_evaluation_failures_total",
		"kvops_operator_last_evaluation_timestamp_seconds", "kvops_operator_alerts", "kvops_operator_check_errors_total",
		"kvops_operator_actions_total", "kvops_operator_guard_decisions_total", "kvops_operator_pd_requests_total",
		"kvops_operator_prometheus_queries_total"))

	// The histograms: one series per label set, observations counted.
	for name, n := range map[string]int{
		"kvops_operator_evaluation_duration_seconds":       1, // no labels
		"kvops_operator_action_duration_seconds":           1, // evict_leaders only: the others were not submitted
		"kvops_operator_pd_request_duration_seconds":       2, // by method and route, not status
		"kvops_operator_prometheus_query_duration_seconds": 1,
		"kvops_operator_check_last_duration_seconds":       2,
	} {
		got, err := testutil.GatherAndCount(reg, name)
		require.NoError(t, err)
		require.Equal(t, n, got, name)
	}
	mfs, err := reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() == "kvops_operator_evaluation_duration_seconds" {
			h := mf.GetMetric()[0].GetHistogram()
			require.Equal(t, uint64(2), h.GetSampleCount(), "the failed call is not timed")
			require.InDelta(t, 0.07, h.GetSampleSum(), 1e-9)
		}
	}
}

// TestNames: the metrics follow Prometheus' naming conventions, as
// client_golang's own linter reads them (units, _total on counters, no
// reserved suffixes on gauges).
func TestNames(t *testing.T) {
	m, reg := newMetrics(t, opmetrics.Config{})
	// Every vector gets a series, so that the linter sees them all.
	m.OnEvaluation(invariant.EvaluationInfo{At: t0, Invariants: []invariant.InvariantInfo{{Name: "disk"}}})
	m.OnAction(guard.ActionInfo{Action: "evict_leaders", Outcome: guard.EventRefused, Refusal: "busy", Approved: true, Submitted: t0})
	m.OnRequest(pdclient.RequestInfo{Method: "GET", Route: "/pd/api/v1/stores", Status: 200})
	m.OnQuery(promclient.QueryInfo{Path: "/api/v1/query", Status: 200})
	mfs, err := reg.Gather()
	require.NoError(t, err)
	require.Len(t, mfs, 14)
	problems, err := promlint.NewWithMetricFamilies(mfs).Lint()
	require.NoError(t, err)
	require.Empty(t, problems)
}

func TestNewRefusesBadConstLabels(t *testing.T) {
	for _, labels := range []map[string]string{
		{"\xff": "x"},       // not UTF-8
		{"cluster": "\xff"}, // nor this
		{"invariant": "x"},  // one of the metrics' own labels
	} {
		_, err := opmetrics.New(opmetrics.Config{ConstLabels: labels})
		require.ErrorIs(t, err, subject.ErrInvalid, "%v", labels)
	}
}

// TestHooksAllocateNothing: once its series exist, recording an
// evaluation, a PD request or a query allocates nothing: the cost an
// operator pays per tick is a few atomic additions.
func TestHooksAllocateNothing(t *testing.T) {
	m, _ := newMetrics(t, opmetrics.Config{})
	ev := invariant.EvaluationInfo{At: t0, Invariants: []invariant.InvariantInfo{{Name: "disk", Firing: 3}, {Name: "cpu"}}}
	ri := pdclient.RequestInfo{Method: http.MethodGet, Route: "/pd/api/v1/stores", Status: 200}
	qi := promclient.QueryInfo{Path: "/api/v1/query", Status: 200}
	m.OnEvaluation(ev)
	m.OnRequest(ri)
	m.OnQuery(qi)
	require.Zero(t, testing.AllocsPerRun(100, func() {
		m.OnEvaluation(ev)
		m.OnRequest(ri)
		m.OnQuery(qi)
	}))
}
