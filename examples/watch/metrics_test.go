package main

import (
	"bytes"
	"io"
	"net/http"
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/kvops/operator/tikv/tikvtest"
)

// TestMetricsAddr: with -metrics-addr, watch serves its own metrics at
// /metrics on the address it prints: after one evaluation, the evaluation,
// the alerts of each invariant and PD's requests by route are there, with
// the Go runtime's; closing stops serving (its goroutine ends).
func TestMetricsAddr(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	cl, err := tikvtest.NewUnstartedCluster(tikvtest.Config{Stores: 3, Regions: 30, Seed: 1})
	require.NoError(t, err)
	require.NoError(t, cl.Start(t.Context()))
	defer cl.Close()

	var out bytes.Buffer
	w, err := setup(t.Context(), options{pd: cl.PDURL(), noPrometheus: true, metricsAddr: "127.0.0.1:0"}, newPrinter(&out, false))
	require.NoError(t, err)
	closed := false
	defer func() {
		if !closed {
			w.close()
		}
	}()
	addr := regexp.MustCompile(`metrics at http://(127\.0\.0\.1:\d+)/metrics`).FindStringSubmatch(out.String())
	require.NotNil(t, addr, "output:\n%s", out.String())
	_, err = w.eval.Evaluate(t.Context(), cl.Now())
	require.NoError(t, err)

	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr}
	resp, err := hc.Get("http://" + addr[1] + "/metrics")
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	for _, want := range []string{
		"kvops_operator_evaluations_total 1\n",
		`kvops_operator_alerts{invariant="store_health",state="firing"} 0` + "\n",
		`kvops_operator_pd_requests_total{code="200",method="GET",route="/pd/api/v1/stores"}`,
		"go_goroutines ",
	} {
		require.Contains(t, string(body), want)
	}

	// Closing ends the server's goroutines: goleak checks it.
	w.close()
	closed = true
	tr.CloseIdleConnections()
}
