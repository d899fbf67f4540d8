package pdclient

import (
	"bytes"
	"encoding/json"
	"net/http"
	"testing"
)

// BenchmarkDecodeRegions measures decodeRegions (easyjson's generated
// decoder) on the recorded 2,000-region answer.
func BenchmarkDecodeRegions(b *testing.B) {
	body := []byte(loadExchange(b, "pd", "regions-all").Response.Body)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		got, _, err := decodeRegions(bytes.NewReader(body), nil)
		if err != nil || len(got) != 2000 {
			b.Fatalf("%d regions, %v", len(got), err)
		}
	}
}

// BenchmarkUnmarshalRegions decodes the same answer in one json.Unmarshal,
// for comparison.
func BenchmarkUnmarshalRegions(b *testing.B) {
	body := []byte(loadExchange(b, "pd", "regions-all").Response.Body)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		var out struct {
			Regions []Region `json:"regions"`
		}
		if err := json.Unmarshal(body, &out); err != nil || len(out.Regions) != 2000 {
			b.Fatalf("%d regions, %v", len(out.Regions), err)
		}
	}
}

// BenchmarkAllRegions pages through 2,000 regions served over HTTP.
func BenchmarkAllRegions(b *testing.B) {
	all := recordedRegions(b)
	d := &scanDouble{t: b, regions: all}
	srv := newHTTPServer(b, d.ServeHTTP).URL
	c := newTestClient(b, srv)
	b.ReportAllocs()
	for b.Loop() {
		n := 0
		for _, err := range c.AllRegions(b.Context()) {
			if err != nil {
				b.Fatal(err)
			}
			n++
		}
		if n != 2000 {
			b.Fatalf("%d regions", n)
		}
	}
}

// BenchmarkWrite measures one write's round trip to a loopback server:
// the client's own work around it (the httptrace hooks that tell whether
// the request was written, the error mapping) against the transport's.
func BenchmarkWrite(b *testing.B) {
	srv := newRawServer(b, http.StatusOK, "application/json", `"The operator is created."`)
	c := newTestClient(b, srv.URL)
	b.ReportAllocs()
	for b.Loop() {
		if err := c.SplitRegion(b.Context(), 9, SplitApproximate); err != nil {
			b.Fatal(err)
		}
	}
}
