package promclient_test

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/kvops/operator/internal/promtest"
	"github.com/kvops/operator/promclient"
	"github.com/kvops/operator/subject"
)

// TestQueryRange runs a caller's own range query against the backfilled
// scenario: every series with its labels, one sample per step.
func TestQueryRange(t *testing.T) {
	b := startBackfilled(t)
	c := newClient(t, b, nil)
	r := promclient.Range{Start: b.now.Add(-2 * time.Minute), End: b.now, Step: 30 * time.Second}

	got, warnings, err := c.QueryRange(t.Context(), `tikv_store_size_bytes{type="capacity",instance="tikv-1:20180"}`, r)
	require.NoError(t, err)
	require.Empty(t, warnings)
	require.Len(t, got, 1)
	if d := cmp.Diff(map[string]string{"__name__": "tikv_store_size_bytes", "type": "capacity", "instance": "tikv-1:20180", "job": "tikv"}, got[0].Metric); d != "" {
		t.Errorf("labels (-want +got):\n%s", d)
	}
	var want []promclient.RangeSample
	for at := r.Start; !at.After(r.End); at = at.Add(r.Step) {
		want = append(want, promclient.RangeSample{At: at.UTC(), Value: 1e12})
	}
	if d := cmp.Diff(want, got[0].Samples); d != "" {
		t.Errorf("samples (-want +got):\n%s", d)
	}

	// Several series, each with its own labels.
	got, _, err = c.QueryRange(t.Context(), `tikv_store_size_bytes{type="capacity"}`, r)
	require.NoError(t, err)
	instances := map[string]bool{}
	for _, s := range got {
		instances[s.Metric["instance"]] = true
	}
	require.Equal(t, map[string]bool{"tikv-1:20180": true, "tikv-2:20180": true, "tikv-3:20180": true, "tikv-5:20180": true}, instances)

	// Bad ranges are refused before anything is sent; a bad query carries
	// Prometheus' *APIError.
	for _, bad := range []promclient.Range{{Start: r.Start, End: r.End}, {Start: r.End, End: r.Start, Step: time.Second}, {Start: r.Start, End: r.Start.Add(24 * time.Hour), Step: time.Second}} {
		_, _, err := c.QueryRange(t.Context(), `up`, bad)
		require.ErrorIs(t, err, subject.ErrInvalid)
	}
	_, _, err = c.QueryRange(t.Context(), `sum(`, r)
	var apiErr *promclient.APIError
	require.ErrorAs(t, err, &apiErr)
	require.Equal(t, promclient.ErrorBadData, apiErr.Type)
}

func TestQueryRangeUnavailable(t *testing.T) {
	cfg := promclient.DefaultConfig()
	cfg.Address = "http://" + promtest.RefusedAddr(t)
	c, err := promclient.New(cfg)
	require.NoError(t, err)
	now := time.Now()
	_, _, err = c.QueryRange(t.Context(), `up`, promclient.Range{Start: now.Add(-time.Minute), End: now, Step: time.Second})
	require.ErrorIs(t, err, promclient.ErrUnavailable)
	var qe *promclient.QueryError
	require.True(t, errors.As(err, &qe))
}
