package pdclient_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"os"

	"github.com/kvops/operator/pdclient"
	"github.com/kvops/operator/subject"
)

// fakePD replays answers recorded from a real PD (testdata/pd) on the
// paths they were recorded for.
func fakePD(names ...string) *httptest.Server {
	mux := http.NewServeMux()
	for _, name := range names {
		b, err := os.ReadFile("testdata/pd/" + name + ".json")
		if err != nil {
			log.Fatal(err)
		}
		var ex struct {
			Request struct {
				Method, Path string
			}
			Response struct {
				Status      int
				ContentType string `json:"content_type"`
				Body        json.RawMessage
			}
		}
		if err := json.Unmarshal(b, &ex); err != nil {
			log.Fatal(err)
		}
		mux.HandleFunc(ex.Request.Method+" "+ex.Request.Path, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", ex.Response.ContentType)
			w.WriteHeader(ex.Response.Status)
			_, _ = w.Write(ex.Response.Body)
		})
	}
	return httptest.NewServer(mux)
}

func Example() {
	pd := fakePD("stores-disconnected", "store-not-found")
	defer pd.Close()

	cfg := pdclient.DefaultConfig()
	cfg.Endpoints = []string{pd.URL} // default: http://127.0.0.1:2379
	cfg.CallerID = "example"
	client, err := pdclient.New(cfg)
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()

	stores, err := client.Stores(ctx)
	if err != nil {
		log.Fatal(err)
	}
	for _, s := range stores[:2] {
		fmt.Printf("store %d %s: %s free of %s (%d bytes)\n", s.Meta.ID, s.Meta.StateName,
			s.Status.AvailableText, s.Status.CapacityText, s.Status.Available)
	}

	_, err = client.Store(ctx, 999)
	fmt.Println(errors.Is(err, pdclient.ErrNotFound), errors.Is(err, subject.ErrNotFound))
	var apiErr *pdclient.APIError
	if errors.As(err, &apiErr) {
		fmt.Printf("%s %s: status %d: %s\n", apiErr.Method, apiErr.Path, apiErr.Status, apiErr.Message)
	}
	// Output:
	// store 3 Disconnected: 930.1GiB free of 1TiB (998687270502 bytes)
	// store 4 Disconnected: 930GiB free of 1TiB (998579896320 bytes)
	// true true
	// GET /pd/api/v1/store/999: status 404: [PD:core:ErrStoreNotFound]store 999 not found
}
