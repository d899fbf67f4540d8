package tikvtest_test

import (
	"io"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kvops/operator/pdclient"
	"github.com/kvops/operator/promclient"
	"github.com/kvops/operator/tikv/record"
	"github.com/kvops/operator/tikv/tikvtest"
)

// newClusterRecorder starts a record.Recorder of c on w, as record.Record
// records a live cluster: PD read over c's URL (no retries, the members
// not followed: c's own URL), on c's clock, every region read at each
// evaluation, the store metrics' series queried from the Prometheus given
// to [record.Recorder.WriteSeries]. The caller advances c and calls
// Observe.
func newClusterRecorder(t testing.TB, c *tikvtest.Cluster, w io.Writer, window time.Duration) *record.Recorder {
	t.Helper()
	pc := pdclient.DefaultConfig()
	pc.Endpoints = []string{c.PDURL()}
	pc.MembersRefreshInterval = -1
	pc.MaxAttempts = 1
	pd, err := pdclient.New(pc)
	require.NoError(t, err)
	t.Cleanup(pd.CloseIdleConnections)
	prom, err := promclient.New(promclient.DefaultConfig())
	require.NoError(t, err)
	qs, err := record.QueriesFromClient(prom)
	require.NoError(t, err)
	rec, err := record.New(w, record.Config{PD: pd, Clock: record.Advancing(c), Interval: 15 * time.Second,
		Duration: window, RegionsEvery: 15 * time.Second, Queries: qs})
	require.NoError(t, err)
	return rec
}

// writeClusterSeries writes c's metrics history (Config.RecordMetrics) as
// the recording's series: backfilled into a real Prometheus, read back by
// the recorder's range queries up to c's now. It skips the test when
// Prometheus is not installed (fails it with CI=true).
func writeClusterSeries(t testing.TB, c *tikvtest.Cluster, rec *record.Recorder) {
	t.Helper()
	p := tikvtest.NewBackfilledPrometheus(t, c.History())
	cfg := promclient.DefaultConfig()
	cfg.Address = p.URL
	prom, err := promclient.New(cfg)
	require.NoError(t, err)
	require.NoError(t, rec.WriteSeries(t.Context(), prom, c.Now()))
}
