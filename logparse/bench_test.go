package logparse

import (
	"bytes"
	"io"
	"os"
	"testing"
)

// benchInput is the real PD log repeated to about 32 MB.
func benchInput(b *testing.B) []byte {
	b.Helper()
	data, err := os.ReadFile("testdata/pd-balance-leader.log")
	if err != nil {
		b.Fatal(err)
	}
	return bytes.Repeat(data, 16)
}

// BenchmarkReader is the full parse: every field of every line.
func BenchmarkReader(b *testing.B) {
	in := benchInput(b)
	src := bytes.NewReader(in)
	r := NewReader(src)
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		src.Reset(in)
		r.Reset(src)
		n := 0
		for {
			e, err := r.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			n += len(e.Fields) + len(e.Message)
		}
		if n == 0 {
			b.Fatal("nothing parsed")
		}
	}
}

// BenchmarkEventReader is leadership extraction.
func BenchmarkEventReader(b *testing.B) {
	in := benchInput(b)
	src := bytes.NewReader(in)
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	r := NewEventReader(src)
	b.ResetTimer()
	for b.Loop() {
		src.Reset(in)
		r.Reset(src)
		n := 0
		for {
			_, err := r.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			n++
		}
		if n != 16*(1356+6) {
			b.Fatalf("%d events", n)
		}
	}
}

// BenchmarkParseLine parses one real TiKV line, copying it.
func BenchmarkParseLine(b *testing.B) {
	line := []byte(`[2024/07/24 12:47:12.951 +00:00] [INFO] [peer.rs:5483] ["on split"] [source=ipv4:127.0.0.1:53386] [split_keys="key 7480000000000000FF6900000000000000F8"] [peer_id=11] [region_id=10]`)
	b.SetBytes(int64(len(line)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseLine(line); err != nil {
			b.Fatal(err)
		}
	}
}
