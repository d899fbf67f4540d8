package pdclient

import (
	"bytes"
	"encoding/json"
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
