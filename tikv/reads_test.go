package tikv_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/kvops/operator/pdclient"
	"github.com/kvops/operator/tikv"
)

// TestEvaluationPDRequests checks the PD reads of whole evaluations: a
// healthy cluster costs the stores and the down-peer regions, plus the
// schedule configuration once a minute; the PD leader is asked only while
// a store is unreported (after a PD leader change).
func TestEvaluationPDRequests(t *testing.T) {
	pd := newCounter()
	c := newCluster(t, func(cfg *tikv.Config) {
		cfg.PD = pdclient.Config{Endpoints: cfg.PD.Endpoints, HTTPClient: &http.Client{Transport: pd}}
	})
	e := evaluator(t, c.sub)
	const (
		stores   = "/pd/api/v1/stores"
		downPeer = "/pd/api/v1/regions/check/down-peer"
		config   = "/pd/api/v1/config/schedule"
		leader   = "/pd/api/v1/leader"
		members  = "/pd/api/v1/members"
	)
	steps := []struct {
		name    string
		advance time.Duration
		fault   func()
		want    map[string]int
	}{
		// The client learns the PD members before its first request, and
		// again a minute later (of real time, not the cluster's).
		{"first evaluation reads the config", 0, nil, map[string]int{stores: 1, downPeer: 1, config: 1, members: 1}},
		{"10s later", 10 * time.Second, nil, map[string]int{stores: 1, downPeer: 1}},
		{"50s later", 40 * time.Second, nil, map[string]int{stores: 1, downPeer: 1}},
		{"a minute later the config is read again", 10 * time.Second, nil, map[string]int{stores: 1, downPeer: 1, config: 1}},
		// While PD has no leader every read fails with PD's 500
		// ErrRedirect, which is unavailable: each read (the shared stores
		// read, and the down-peer list, which region_peers reads without
		// the stores) makes pdclient's DefaultMaxAttempts rounds.
		{"during a PD leader election", time.Second, c.sim.PDLeaderChange, map[string]int{stores: pdclient.DefaultMaxAttempts, downPeer: pdclient.DefaultMaxAttempts}},
		{"just after the election", 12 * time.Second, nil, map[string]int{stores: 1, downPeer: 1, leader: 1}},
		{"heartbeats reached the new leader", 15 * time.Second, nil, map[string]int{stores: 1, downPeer: 1}},
	}
	pd.take()
	for _, s := range steps {
		if s.fault != nil {
			s.fault()
		}
		c.sim.Advance(s.advance)
		_, err := e.Evaluate(t.Context(), c.sim.Now())
		require.NoError(t, err)
		if diff := cmp.Diff(s.want, pd.take()); diff != "" {
			t.Errorf("%s: PD requests (-want +got):\n%s", s.name, diff)
		}
	}
}
