package pdclient

import (
	"bytes"
	"encoding/json"
	"io"
	"testing"
)

// BenchmarkRegionDecoder decodes PD's recorded answer for 2,000 regions with
// the streaming decoder and, as the baseline, with encoding/json into a
// slice. Run with -benchmem; MB/s is over the answer's bytes.
func BenchmarkRegionDecoder(b *testing.B) {
	data := readFixture(b, "regionstream-regions-all.json")
	b.Run("stream", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		var r Region
		for b.Loop() {
			d := NewRegionDecoder(bytes.NewReader(data))
			n := 0
			for {
				err := d.Next(&r)
				if err == io.EOF {
					break
				}
				if err != nil {
					b.Fatal(err)
				}
				n++
			}
			if n != 2000 {
				b.Fatalf("%d regions, want 2000", n)
			}
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for b.Loop() {
			var v regionsAnswer
			if err := json.Unmarshal(data, &v); err != nil {
				b.Fatal(err)
			}
			if len(v.Regions) != 2000 {
				b.Fatalf("%d regions, want 2000", len(v.Regions))
			}
		}
	})
}
