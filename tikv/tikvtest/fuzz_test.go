package tikvtest

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// FuzzPostBodies sends arbitrary bodies to the endpoints that parse one:
// the simulator must answer every one with JSON and a status PD uses, and
// never panic.
func FuzzPostBodies(f *testing.F) {
	for _, seed := range []string{
		`{"name":"transfer-leader","region_id":9,"to_store_id":5}`,
		`{"name":"split-region","region_id":9,"policy":"approximate"}`,
		`{"name":"evict-leader-scheduler","store_id":1}`,
		`{"leader-schedule-limit":8}`, `{"max-store-down-time":"40s"}`, `{"low-space-ratio":0.5}`,
		`{"zone":"z1"}`, `{"leader":2,"region":1}`,
		`{"name":`, `[]`, `null`, `"x"`, `{"region_id":1e300,"name":"transfer-leader","to_store_id":-1}`,
	} {
		for path := range 5 {
			f.Add(uint8(path), []byte(seed))
		}
	}
	c, err := NewUnstartedCluster(Config{Clock: &fakeClock{t0}, Stores: 3, Regions: 20})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = c.Close() })
	h := c.PDHandler()
	paths := []string{"/pd/api/v1/operators", "/pd/api/v1/config", "/pd/api/v1/schedulers",
		"/pd/api/v1/store/1/label", "/pd/api/v1/store/2/weight"}
	f.Fuzz(func(t *testing.T, which uint8, body []byte) {
		path := paths[int(which)%len(paths)]
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("POST", path, bytes.NewReader(body)))
		switch rec.Code {
		case http.StatusOK, http.StatusBadRequest, http.StatusNotFound, http.StatusInternalServerError, http.StatusNotImplemented:
		default:
			t.Fatalf("POST %s %q: status %d", path, body, rec.Code)
		}
		if !json.Valid(rec.Body.Bytes()) {
			t.Fatalf("POST %s %q: answer is not JSON: %q", path, body, rec.Body.Bytes())
		}
		c.Advance(time.Second) // whatever was accepted must run without panicking
	})
}
