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

	"github.com/kvops/operator/internal/recordtest"
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
// into path, gzipped: 5 stores, 40 regions, 12 minutes at 15 s; store 3's writes slow
// to 300 ms at 2m, and store 3 stops at 8m.
func recordIncident(t testing.TB, path string) {
	clk := &settable{incidentStart}
	c := tikvtest.NewCluster(t, tikvtest.Config{Stores: 5, Regions: 40, Seed: 1, Clock: clk, RecordMetrics: 15 * time.Second})
	f, err := os.Create(path)
	require.NoError(t, err)
	defer f.Close()
	z := gzip.NewWriter(f)
	rec, err := recordtest.New(c, z, record.Header{Start: incidentStart, End: incidentStart.Add(12 * time.Minute),
		Interval: record.Duration(15 * time.Second), Labels: map[string]string{"incident": "store 3 slow, then stopped"}})
	require.NoError(t, err)
	for i := 1; i <= 48; i++ {
		switch i {
		case 8:
			require.NoError(t, c.SetWriteLatency(3, 300*time.Millisecond))
		case 32:
			require.NoError(t, c.StopStore(3))
		}
		c.Advance(15 * time.Second)
		require.NoError(t, rec.Tick())
	}
	require.NoError(t, rec.Close())
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
