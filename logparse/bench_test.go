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

// readPass returns a function that reads data to its end through a reader
// that reset points at it anew, calling step until it returns io.EOF.
func readPass(data []byte, reset func(io.Reader), step func() error) func() error {
	src := bytes.NewReader(data)
	return func() error {
		src.Reset(data)
		reset(src)
		for {
			if err := step(); err == io.EOF {
				return nil
			} else if err != nil {
				return err
			}
		}
	}
}

func benchPass(b *testing.B, in []byte, pass func() error) {
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		if err := pass(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkReader is the full parse: every field of every line, each
// entry an owned copy.
func BenchmarkReader(b *testing.B) {
	benchFullParse(b, func(r *Reader) (int, error) {
		e, err := r.Next()
		n := len(e.Message)
		for _, f := range e.Fields {
			n += len(f.Key) + len(f.Value)
		}
		return n, err
	})
}

// BenchmarkReaderRaw is the full parse through the borrowing form.
func BenchmarkReaderRaw(b *testing.B) {
	benchFullParse(b, func(r *Reader) (int, error) {
		e, err := r.NextRaw()
		if err != nil {
			return 0, err
		}
		n := len(e.Message)
		for _, f := range e.Fields {
			n += len(f.Key) + len(f.Value)
		}
		return n, nil
	})
}

// benchFullParse reads the input through step, which returns what it
// found in one entry.
func benchFullParse(b *testing.B, step func(*Reader) (int, error)) {
	in := benchInput(b)
	r := NewReader(nil)
	n := 0
	benchPass(b, in, readPass(in, r.Reset, func() error {
		k, err := step(r)
		n += k
		return err
	}))
	if n == 0 {
		b.Fatal("nothing parsed")
	}
}

// BenchmarkEventReader is leadership extraction.
func BenchmarkEventReader(b *testing.B) {
	in := benchInput(b)
	r := NewEventReader(nil)
	n := 0
	benchPass(b, in, readPass(in, r.Reset, func() error {
		_, err := r.Next()
		n++
		return err
	}))
	if n == 0 {
		b.Fatal("no events")
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
