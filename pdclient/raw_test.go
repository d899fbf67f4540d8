package pdclient_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/kvops/operator/internal/promtest"
	"github.com/kvops/operator/pdclient"
)

// TestRaw checks that Raw hands back PD's answer as it was sent: a 2xx
// answer whole, an error answer with its *APIError, and nothing when no
// member answered.
func TestRaw(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /pd/api/v1/stores", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.RawQuery != "state=0" {
			t.Errorf("query = %q", r.URL.RawQuery)
		}
		w.Header().Set("Content-Type", "application/json; charset=UTF-8")
		_, _ = w.Write([]byte(`{"count":0,"stores":[]}`))
	})
	mux.HandleFunc("GET /pd/api/v1/operators", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "[PD:apiutil:ErrRedirect]redirect failed", http.StatusInternalServerError)
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	deadURL := "http://" + promtest.RefusedAddr(t) // connections are refused

	cfg := pdclient.DefaultConfig()
	cfg.Endpoints = []string{srv.URL}
	cfg.MembersRefreshInterval = -1
	cfg.MaxAttempts = 1
	c, err := pdclient.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseIdleConnections()
	ctx := context.Background()

	got, err := c.Raw(ctx, "/stores?state=0")
	if err != nil {
		t.Fatal(err)
	}
	want := &pdclient.RawResponse{Endpoint: srv.URL, Status: 200, ContentType: "application/json; charset=UTF-8", Body: []byte(`{"count":0,"stores":[]}`)}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("2xx answer (-want +got):\n%s", diff)
	}

	got, err = c.Raw(ctx, "/pd/api/v1/stores?state=0")
	if err != nil || string(got.Body) != `{"count":0,"stores":[]}` {
		t.Errorf("a whole path: %+v, %v", got, err)
	}

	got, err = c.Raw(ctx, "/operators")
	var ae *pdclient.APIError
	if !errors.As(err, &ae) || ae.Status != 500 {
		t.Fatalf("err = %v, want an *APIError of status 500", err)
	}
	want = &pdclient.RawResponse{Endpoint: srv.URL, Status: 500, ContentType: "text/plain; charset=utf-8", Body: []byte("[PD:apiutil:ErrRedirect]redirect failed\n")}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("error answer (-want +got):\n%s", diff)
	}

	if _, err := c.Raw(ctx, "stores"); !errors.Is(err, pdclient.ErrBadRequest) {
		t.Errorf("relative path: err = %v, want ErrBadRequest", err)
	}

	cfg.Endpoints = []string{deadURL}
	down, err := pdclient.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	got, err = down.Raw(ctx, "/stores")
	if !errors.Is(err, pdclient.ErrUnavailable) || got != nil {
		t.Errorf("no member answering: %+v, %v; want nil, ErrUnavailable", got, err)
	}
}
