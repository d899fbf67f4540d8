package opmetrics_test

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/stretchr/testify/require"

	"github.com/kvops/operator/internal/promtest"
	"github.com/kvops/operator/invariant"
	"github.com/kvops/operator/pdclient"
	"github.com/kvops/operator/promclient"
	"github.com/kvops/operator/subject"
	"github.com/kvops/operator/subject/guard"
	"github.com/kvops/operator/tikv"
	"github.com/kvops/operator/tikv/opmetrics"
	"github.com/kvops/operator/tikv/tikvtest"
)

// TestScrapedByPrometheus: a real Prometheus scrapes the metrics of an
// operator (a tikv.Subject on a test cluster, its evaluator and a guard,
// reading the same Prometheus) from a promhttp handler on the caller's
// registry, and the series read back through the library's own client
// hold what the operator did.
func TestScrapedByPrometheus(t *testing.T) {
	promtest.Require(t)
	m, err := opmetrics.New(opmetrics.Config{ConstLabels: map[string]string{"cluster": "test"}})
	require.NoError(t, err)
	reg := prometheus.NewRegistry()
	reg.MustRegister(m)
	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	defer srv.Close()
	p := promtest.Start(t, promtest.WithScrape("operator", time.Second, strings.TrimPrefix(srv.URL, "http://")))

	c := tikvtest.NewCluster(t, tikvtest.Config{Stores: 5, Regions: 30})
	var cfg tikv.Config
	cfg.PD = pdclient.Config{Endpoints: []string{c.PDURL()}, OnRequest: m.OnRequest}
	cfg.Prometheus = promclient.Config{Address: p.URL, OnQuery: m.OnQuery}
	sub, err := tikv.New(cfg)
	require.NoError(t, err)
	defer sub.Close()
	e, err := invariant.New(sub.Invariants(), invariant.Config{OnEvaluation: m.OnEvaluation})
	require.NoError(t, err)
	g, err := guard.New(sub, guard.Config{Mode: guard.ModeDryRun, OnAction: m.OnAction})
	require.NoError(t, err)

	ctx := context.Background()
	require.NoError(t, c.StopStore(3))
	now := time.Now()
	for i := range 3 {
		_, err := e.Evaluate(ctx, now.Add(time.Duration(i)*time.Second))
		require.NoError(t, err)
	}
	_, err = g.DrainStore(ctx, 2)
	require.NoError(t, err)
	_, err = g.DrainStore(ctx, 99)
	require.ErrorIs(t, err, subject.ErrNotFound)

	// Once a scrape has seen the three evaluations it has seen the rest:
	// the operator did nothing after them.
	p.WaitFor(t, `kvops_operator_evaluations_total{job="operator",cluster="test"} == 3`, 30*time.Second)
	pc, err := promclient.New(promclient.Config{Address: p.URL})
	require.NoError(t, err)
	defer pc.CloseIdleConnections()
	for _, tt := range []struct {
		query string
		check func(v float64) bool
		want  string
	}{
		{`kvops_operator_actions_total{action="drain_store",outcome="dry_run"}`, eq(1), "1"},
		// The dry run of store 99 found no such store: the subject
		// refused it, before anything was sent.
		{`kvops_operator_actions_total{action="drain_store",outcome="refused"}`, eq(1), "1"},
		{`kvops_operator_guard_decisions_total{decision="refused",reason="not_found"}`, eq(1), "1"},
		{`sum(kvops_operator_pd_requests_total{route="/pd/api/v1/stores",code="200"})`, gt(0), "> 0"},
		// Store 99's refusal came from PD: a 404 of the store route, not
		// of /pd/api/v1/store/99.
		{`count(kvops_operator_pd_requests_total{route=~".*/99.*"})`, nil, "no series"},
		{`sum(kvops_operator_prometheus_queries_total{path="/api/v1/query",code="200"})`, gt(0), "> 0"},
		{`kvops_operator_evaluation_duration_seconds_count`, eq(3), "3"},
		{`count(kvops_operator_alerts{state="pending"})`, eq(float64(len(sub.Invariants()))), "one per invariant"},
	} {
		res, _, err := pc.Query(ctx, tt.query, time.Now())
		require.NoError(t, err, tt.query)
		if tt.check == nil {
			require.Empty(t, res.Samples, "%s: want %s", tt.query, tt.want)
			continue
		}
		require.Len(t, res.Samples, 1, "%s: %+v", tt.query, res.Samples)
		require.True(t, tt.check(res.Samples[0].Value), "%s = %v, want %s", tt.query, res.Samples[0].Value, tt.want)
	}
}

func eq(want float64) func(float64) bool { return func(v float64) bool { return v == want } }

func gt(min float64) func(float64) bool { return func(v float64) bool { return v > min } }
