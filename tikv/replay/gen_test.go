package replay_test

import (
	"compress/gzip"
	"errors"
	"flag"
	"io"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kvops/operator/pdclient"
	"github.com/kvops/operator/promclient"
	"github.com/kvops/operator/tikv/record"
	"github.com/kvops/operator/tikv/tikvtest"
)

var update = flag.Bool("update", false, "write testdata/slow-store.jsonl.gz again")

type settable struct{ t time.Time }

func (s *settable) Now() time.Time { return s.t }

var incidentStart = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

const incident = "testdata/slow-store.jsonl.gz"

// openIncident opens the incident's recording, gunzipped.
func openIncident() (io.ReadCloser, error) {
	f, err := os.Open(incident)
	if err != nil {
		return nil, err
	}
	z, err := gzip.NewReader(f)
	if err != nil {
		f.Close()
		return nil, err
	}
	return struct {
		io.Reader
		io.Closer
	}{z, f}, nil
}

// recordIncident records the incident of testdata/slow-store.jsonl.gz
// into path, gzipped, with record.Recorder as record.Record records a
// live cluster: 5 stores, 40 regions, 12 minutes at 15 s, every region
// read every minute; store 3's writes slow to 300 ms at 2m, and store 3
// stops at 8m. Its series are the cluster's metrics history backfilled
// into a real Prometheus and read back by the recorder (the test skips
// without Prometheus).
func recordIncident(t *testing.T, path string) {
	clk := &settable{incidentStart}
	c := tikvtest.NewCluster(t, tikvtest.Config{Stores: 5, Regions: 40, Seed: 1, Clock: clk, RecordMetrics: 15 * time.Second})
	f, err := os.Create(path)
	require.NoError(t, err)
	defer f.Close()
	z := gzip.NewWriter(f)
	pc := pdclient.DefaultConfig()
	pc.Endpoints = []string{c.PDURL()}
	pc.MembersRefreshInterval = -1 // c's own URL, not its members'
	pc.MaxAttempts = 1
	pd, err := pdclient.New(pc)
	require.NoError(t, err)
	defer pd.CloseIdleConnections()
	anyProm, err := promclient.New(promclient.DefaultConfig())
	require.NoError(t, err)
	qs, err := record.QueriesFromClient(anyProm)
	require.NoError(t, err)
	rec, err := record.New(z, record.Config{PD: pd, Clock: record.Advancing(c), Interval: 15 * time.Second,
		Duration: 12 * time.Minute, Queries: qs, Labels: map[string]string{"incident": "store 3 slow, then stopped"}})
	require.NoError(t, err)
	require.NoError(t, rec.Observe(t.Context()))
	for i := 1; i <= 48; i++ {
		switch i {
		case 8:
			require.NoError(t, c.SetWriteLatency(3, 300*time.Millisecond))
		case 32:
			require.NoError(t, c.StopStore(3))
		}
		c.Advance(15 * time.Second)
		require.NoError(t, rec.Observe(t.Context()))
	}
	p := tikvtest.NewBackfilledPrometheus(t, c.History())
	prc := promclient.DefaultConfig()
	prc.Address = p.URL
	prom, err := promclient.New(prc)
	require.NoError(t, err)
	require.NoError(t, rec.WriteSeries(t.Context(), prom, c.Now()))
	_, err = rec.Close(t.Context())
	require.NoError(t, err)
	require.NoError(t, z.Close())
	require.NoError(t, f.Sync())
}

// TestIncidentTestdata writes testdata/slow-store.jsonl.gz with -update
// (its ports differ at each run); otherwise it checks that the file reads
// whole, to its end line.
func TestIncidentTestdata(t *testing.T) {
	if *update {
		recordIncident(t, incident)
	}
	rc, err := openIncident()
	require.NoError(t, err)
	defer rc.Close()
	rd, err := record.NewReader(rc)
	require.NoError(t, err)
	require.Equal(t, incidentStart, rd.Header().Start)
	n := 0
	for {
		_, err := rd.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err)
		n++
	}
	require.Greater(t, n, 48*10)
}
