package promclient_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/kvops/operator/promclient"
)

// TestResponseSizeCap serves an answer of a known size and checks that a
// cap below it fails every query with ErrTooLarge (not ErrUnavailable:
// Prometheus answered), and a cap at its size lets it through.
func TestResponseSizeCap(t *testing.T) {
	const answer = `{"status":"success","data":{"resultType":"vector","result":[]}}`
	body := answer + strings.Repeat(" ", 4096-len(answer))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	tests := []struct {
		name    string
		max     int64
		tooLong bool
	}{
		{"one byte under", 4095, true},
		{"far under", 100, true},
		{"exactly", 4096, false},
		{"default", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := promclient.DefaultConfig()
			cfg.Address, cfg.MaxResponseBytes = srv.URL, tt.max
			c, err := promclient.New(cfg)
			require.NoError(t, err)
			got, _, err := c.StoreMetrics(t.Context(), stores(1, 2))
			if !tt.tooLong {
				require.NoError(t, err)
				require.Len(t, got, 2)
				return
			}
			require.ErrorIs(t, err, promclient.ErrTooLarge)
			require.False(t, errors.Is(err, promclient.ErrUnavailable), "an oversized answer is not an unreachable Prometheus: %v", err)
			require.Contains(t, err.Error(), srv.URL)
			require.Nil(t, got)
		})
	}
	cfg := promclient.DefaultConfig()
	cfg.MaxResponseBytes = -1
	_, err := promclient.New(cfg)
	require.Error(t, err, "a negative cap is refused")
}
