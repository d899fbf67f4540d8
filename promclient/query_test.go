package promclient_test

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
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
	require.Equal(t, promclient.ValueVector, v.Type)
	got := map[string]float64{}
	for _, s := range v.Samples {
		if d := cmp.Diff(map[string]string{"instance": s.Metric["instance"]}, s.Metric); d != "" {
			t.Errorf("labels of a sum by (instance) (-want +got):\n%s", d)
		}
		got[s.Metric["instance"]] = s.Value
		if !s.At.Equal(b.now) || s.Histogram {
			t.Errorf("sample at %v (histogram %v), want a float at the evaluation time %v", s.At, s.Histogram, b.now)
		}
	}
	require.Equal(t, map[string]float64{"tikv-1:20180": 1e12, "tikv-2:20180": 1e12, "tikv-3:20180": 1e12, "tikv-5:20180": 1e12}, got)

	// A scalar is one sample without labels, at the evaluation time to the
	// millisecond.
	at := b.now.Add(1500 * time.Microsecond)
	v, _, err = c.Query(t.Context(), `scalar(sum(tikv_store_size_bytes{type="capacity"}))`, at)
	require.NoError(t, err)
	if d := cmp.Diff(promclient.Result{Type: promclient.ValueScalar, Samples: []promclient.Sample{{Metric: map[string]string{}, At: at.Truncate(time.Millisecond), Value: 4e12}}}, v); d != "" {
		t.Errorf("scalar (-want +got):\n%s", d)
	}

	// A range selector is a matrix: its type, no samples.
	v, _, err = c.Query(t.Context(), `tikv_store_size_bytes[5m]`, b.now)
	require.NoError(t, err)
	require.Equal(t, promclient.Result{Type: promclient.ValueMatrix}, v)

	// Long before the scenario there is nothing: an empty vector, no error.
	v, _, err = c.Query(t.Context(), `tikv_store_size_bytes`, b.now.Add(-24*time.Hour))
	require.NoError(t, err)
	require.Equal(t, promclient.ValueVector, v.Type)
	require.Empty(t, v.Samples)

	// A query Prometheus rejects carries its *APIError and is not
	// "unavailable": retrying will not help.
	_, _, err = c.Query(t.Context(), `sum(`, b.now)
	var apiErr *promclient.APIError
	require.ErrorAs(t, err, &apiErr)
	require.Equal(t, promclient.ErrorBadData, apiErr.Type)
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
