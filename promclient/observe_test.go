package promclient_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/stretchr/testify/require"

	"github.com/kvops/operator/promclient"
)

// TestOnQuery: every query is reported with its API path, the status of
// the answer it ended with, and its error as callers see it: a result, a
// query Prometheus rejected (an *APIError), a POST refused then answered
// by GET (the GET's status), and a connection dropped without an answer
// (no status, ErrUnavailable).
func TestOnQuery(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		switch q := r.Form.Get("query"); {
		case q == "drop":
			if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
				_ = conn.Close()
			}
			return
		case q == "get-only" && r.Method == http.MethodPost:
			http.Error(w, "use GET", http.StatusMethodNotAllowed)
			return
		case q == "bad":
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`{"status":"error","errorType":"bad_data","error":"parse error"}`))
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"status":"success","data":{"resultType":"scalar","result":[1795782900,"1"]}}`))
	}))
	defer srv.Close()

	var mu sync.Mutex
	var got []promclient.QueryInfo
	cfg := promclient.DefaultConfig()
	cfg.Address = srv.URL
	cfg.OnQuery = func(qi promclient.QueryInfo) {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, qi)
	}
	c, err := promclient.New(cfg)
	require.NoError(t, err)
	defer c.CloseIdleConnections()
	at := time.Unix(1795782900, 0)
	for _, q := range []string{"ok", "bad", "get-only", "drop"} {
		_, _, _ = c.Query(t.Context(), q, at)
	}

	want := []promclient.QueryInfo{
		{Path: "/api/v1/query", Status: http.StatusOK},
		{Path: "/api/v1/query", Status: http.StatusBadRequest},
		{Path: "/api/v1/query", Status: http.StatusOK},
		{Path: "/api/v1/query"},
	}
	if d := cmp.Diff(want, got, cmpopts.IgnoreFields(promclient.QueryInfo{}, "Err", "Duration")); d != "" {
		t.Fatalf("queries (-want +got):\n%s", d)
	}
	var ae *promclient.APIError
	require.NoError(t, got[0].Err)
	require.True(t, errors.As(got[1].Err, &ae), "want an APIError, got %v", got[1].Err)
	require.Equal(t, promclient.ErrorBadData, ae.Type)
	require.NoError(t, got[2].Err)
	require.ErrorIs(t, got[3].Err, promclient.ErrUnavailable)
	for _, qi := range got {
		require.Positive(t, qi.Duration)
	}
}
