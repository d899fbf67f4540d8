package promclient_test

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kvops/operator/promclient"
	"github.com/kvops/operator/subject"
)

// emptyVector answers every instant query as Prometheus does when no
// series matches.
func emptyVector(hits *atomic.Int64) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"status":"success","data":{"resultType":"vector","result":[]}}`))
	}
}

// TestAddressWithoutScheme: Prometheus' address is read as PD's
// endpoints are: "host:port" gets http://, or https:// with TLS.
func TestAddressWithoutScheme(t *testing.T) {
	var plainHits, tlsHits atomic.Int64
	plain := httptest.NewServer(emptyVector(&plainHits))
	t.Cleanup(plain.Close)
	secure := httptest.NewTLSServer(emptyVector(&tlsHits))
	t.Cleanup(secure.Close)
	tests := []struct {
		name string
		cfg  promclient.Config
		hits *atomic.Int64
	}{
		{"http", promclient.Config{Address: strings.TrimPrefix(plain.URL, "http://")}, &plainHits},
		{"https with TLS", promclient.Config{Address: strings.TrimPrefix(secure.URL, "https://"),
			TLS: &tls.Config{RootCAs: secure.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs}}, &tlsHits},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := promclient.New(tt.cfg)
			require.NoError(t, err)
			_, _, err = c.StoreMetrics(t.Context(), stores(1))
			require.NoError(t, err)
			require.Equal(t, int64(len(promclient.Metrics())), tt.hits.Load())
		})
	}
}

// TestWrongServerIsOneLine: a server that is not Prometheus where
// Prometheus should be gives one typed, one-line error per call, not one
// per metric family, and keeps its page out of the message.
func TestWrongServerIsOneLine(t *testing.T) {
	page := "<!DOCTYPE html><html><head><title>Grafana</title></head><body>" + strings.Repeat("<p>not the API</p>", 200) + "</body></html>"
	server := func(status int, contentType, body string) string {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", contentType)
			w.WriteHeader(status)
			_, _ = w.Write([]byte(body))
		}))
		t.Cleanup(srv.Close)
		return srv.URL
	}
	tests := []struct {
		name, addr string
		status     int
	}{
		{"an HTML page with 200", server(200, "text/html; charset=utf-8", page), 200},
		{"404 text", server(404, "text/plain; charset=utf-8", "404 page not found\n"), 404},
		{"404 HTML", server(404, "text/html", page), 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := promclient.New(promclient.Config{Address: tt.addr})
			require.NoError(t, err)
			_, _, err = c.StoreMetrics(t.Context(), stores(2))
			var shared *promclient.SharedError
			require.ErrorAs(t, err, &shared, "%v", err)
			requireNotPrometheus(t, err, tt.status)

			_, _, err = c.Query(t.Context(), "up", time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
			requireNotPrometheus(t, err, tt.status)
		})
	}
}

func requireNotPrometheus(t *testing.T, err error, status int) {
	t.Helper()
	require.ErrorIs(t, err, promclient.ErrNotPrometheus)
	require.NotErrorIs(t, err, promclient.ErrUnavailable)
	var np *promclient.NotPrometheusError
	require.ErrorAs(t, err, &np)
	require.Equal(t, status, np.Status)
	require.NotEmpty(t, np.Body)
	msg := err.Error()
	require.NotContains(t, msg, "\n")
	require.LessOrEqual(t, len(msg), 300, "%d bytes: %s", len(msg), msg)
}

// TestErrorsNameTheURLOnceAndStayShort: a connection error names
// Prometheus' URL once, and Prometheus' own long messages are cut.
func TestErrorsNameTheURLOnceAndStayShort(t *testing.T) {
	closer := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			_ = conn.Close()
		}
	}))
	t.Cleanup(closer.Close)
	c, err := promclient.New(promclient.Config{Address: closer.URL})
	require.NoError(t, err)
	_, _, err = c.StoreMetrics(t.Context(), stores(1))
	require.ErrorIs(t, err, promclient.ErrUnavailable)
	require.Equal(t, 1, strings.Count(err.Error(), closer.URL), "%v", err)

	long := strings.Repeat("x", 10<<10)
	bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		_ = json.NewEncoder(w).Encode(map[string]string{"status": "error", "errorType": "bad_data", "error": long})
	}))
	t.Cleanup(bad.Close)
	c, err = promclient.New(promclient.Config{Address: bad.URL})
	require.NoError(t, err)
	_, _, err = c.Query(context.Background(), "up"+strings.Repeat(" + up", 1000), time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	var qe *promclient.QueryError
	require.ErrorAs(t, err, &qe)
	require.Contains(t, qe.Err.Error(), long, "the cause keeps Prometheus' message whole")
	require.LessOrEqual(t, len(err.Error()), 1024, "%d bytes", len(err.Error()))
	require.False(t, errors.Is(err, subject.ErrUnavailable))
}
