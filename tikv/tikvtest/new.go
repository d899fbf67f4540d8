package tikvtest

import (
	"errors"
	"testing"
)

// NewCluster starts a simulated cluster for a test, like
// httptest.NewServer: PD's HTTP API at [Cluster.PDURL] and a metrics
// endpoint per store, each on a real 127.0.0.1 listener, serving requests
// on t.Context(). The zero fields of cfg take their documented defaults.
// The cluster is closed by t.Cleanup; a failure to start (a field out of
// range, a listener refused) fails the test at once (t.Fatal).
//
//	c := tikvtest.NewCluster(t, tikvtest.Config{Stores: 5, Clock: fake})
//	cfg := tikv.Config{PD: pdclient.Config{Endpoints: []string{c.PDURL()}}, Clock: c.Now}
//
// Programs and Examples, which have no test, use [NewUnstartedCluster],
// then [Cluster.Start] and [Cluster.Close], as httptest's
// NewUnstartedServer and Start.
func NewCluster(t testing.TB, cfg Config) *Cluster {
	t.Helper()
	c, err := NewUnstartedCluster(cfg)
	if err == nil {
		if err = c.Start(t.Context()); err != nil {
			err = errors.Join(err, c.Close())
		}
	}
	if err != nil {
		t.Fatalf("tikvtest: start cluster: %v", err)
		return nil // t is not a *testing.T whose Fatalf ends the goroutine
	}
	t.Cleanup(func() {
		if err := c.Close(); err != nil {
			t.Errorf("tikvtest: close cluster: %v", err)
		}
	})
	return c
}
