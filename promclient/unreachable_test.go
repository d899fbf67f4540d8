package promclient_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kvops/operator/internal/promtest"
	"github.com/kvops/operator/promclient"
	"github.com/kvops/operator/subject"
)

// TestUnreachableMatchesSubject: every way of not reaching Prometheus
// matches ErrUnavailable and subject.ErrUnavailable, from every call:
// nothing listening, a connection closed without an answer, and a proxy
// in front of Prometheus answering 502 or 503 with its own HTML page.
func TestUnreachableMatchesSubject(t *testing.T) {
	proxy := func(status int) string {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(status)
			_, _ = w.Write([]byte("<html><body>" + http.StatusText(status) + "</body></html>"))
		}))
		t.Cleanup(srv.Close)
		return srv.URL
	}
	closer := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Errorf("hijack: %v", err)
			return
		}
		_ = conn.Close()
	}))
	t.Cleanup(closer.Close)

	tests := []struct {
		name, addr string
	}{
		{"nothing listens", "http://" + promtest.RefusedAddr(t)},
		{"connection closed without an answer", closer.URL},
		{"proxy answers 502", proxy(http.StatusBadGateway)},
		{"proxy answers 503", proxy(http.StatusServiceUnavailable)},
	}
	calls := []struct {
		name string
		call func(ctx context.Context, c *promclient.Client) error
	}{
		{"StoreMetrics", func(ctx context.Context, c *promclient.Client) error {
			_, _, err := c.StoreMetrics(ctx, stores(1))
			return err
		}},
		{"OneStoreMetrics", func(ctx context.Context, c *promclient.Client) error {
			_, _, err := c.OneStoreMetrics(ctx, stores(1)[0])
			return err
		}},
		{"StoreMetricsRange", func(ctx context.Context, c *promclient.Client) error {
			at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
			_, _, err := c.StoreMetricsRange(ctx, stores(1), promclient.Range{Start: at.Add(-time.Hour), End: at, Step: time.Minute})
			return err
		}},
		{"Query", func(ctx context.Context, c *promclient.Client) error {
			_, _, err := c.Query(ctx, "up", time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
			return err
		}},
	}
	for _, tt := range tests {
		for _, call := range calls {
			t.Run(tt.name+"/"+call.name, func(t *testing.T) {
				c, err := promclient.New(promclient.Config{Address: tt.addr})
				require.NoError(t, err)
				err = call.call(t.Context(), c)
				require.ErrorIs(t, err, promclient.ErrUnavailable)
				require.ErrorIs(t, err, subject.ErrUnavailable)
				require.NotErrorIs(t, err, promclient.ErrTooLarge)
				var qe *promclient.QueryError
				require.ErrorAs(t, err, &qe)
				require.Equal(t, tt.addr, qe.Address)
			})
		}
	}
}
