package promclient_test

import (
	"errors"
	"testing"
	"time"

	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"

	"github.com/kvops/operator/internal/promtest"
	"github.com/kvops/operator/promclient"
)

// TestQuery runs a caller's own instant query against the backfilled
// scenario, at the time the caller gives, and checks each failure's
// vocabulary.
func TestQuery(t *testing.T) {
	b := startBackfilled(t)
	c := newClient(t, b, nil)

	v, warnings, err := c.Query(t.Context(), `sum(tikv_store_size_bytes{type="capacity"}) by (instance)`, b.now)
	require.NoError(t, err)
	require.Empty(t, warnings)
	vec, ok := v.(model.Vector)
	require.True(t, ok, "answer %v is not a vector", v)
	got := map[string]float64{}
	for _, s := range vec {
		got[string(s.Metric[model.InstanceLabel])] = float64(s.Value)
		if !s.Timestamp.Time().Equal(b.now) {
			t.Errorf("sample at %v, want the evaluation time %v", s.Timestamp.Time(), b.now)
		}
	}
	require.Equal(t, map[string]float64{"tikv-1:20180": 1e12, "tikv-2:20180": 1e12, "tikv-3:20180": 1e12, "tikv-5:20180": 1e12}, got)

	// Long before the scenario there is nothing: an empty vector, no error.
	v, _, err = c.Query(t.Context(), `tikv_store_size_bytes`, b.now.Add(-24*time.Hour))
	require.NoError(t, err)
	require.Empty(t, v.(model.Vector))

	// A query Prometheus rejects carries its *v1.Error and is not
	// "unavailable": retrying will not help.
	_, _, err = c.Query(t.Context(), `sum(`, b.now)
	var apiErr *v1.Error
	require.ErrorAs(t, err, &apiErr)
	require.Equal(t, v1.ErrBadData, apiErr.Type)
	require.False(t, errors.Is(err, promclient.ErrUnavailable), "%v", err)
	var qe *promclient.QueryError
	require.ErrorAs(t, err, &qe)
	require.Equal(t, `sum(`, qe.Query)
	require.Empty(t, qe.Metric)
}

func TestQueryUnavailable(t *testing.T) {
	cfg := promclient.DefaultConfig()
	cfg.Address = "http://" + promtest.RefusedAddr(t)
	c, err := promclient.New(cfg)
	require.NoError(t, err)
	_, _, err = c.Query(t.Context(), `up`, time.Now())
	require.ErrorIs(t, err, promclient.ErrUnavailable)
	var qe *promclient.QueryError
	require.ErrorAs(t, err, &qe)
	require.Equal(t, cfg.Address, qe.Address)
}
