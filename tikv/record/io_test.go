package record_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/kvops/operator/subject"
	"github.com/kvops/operator/tikv/record"
)

var t0 = time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)

func sample(t testing.TB) ([]byte, []record.Entry) {
	t.Helper()
	var buf bytes.Buffer
	w, err := record.NewWriter(&buf, record.Header{Start: t0, End: t0.Add(time.Hour), Interval: record.Duration(10 * time.Second), Queries: []string{"up"}})
	if err != nil {
		t.Fatal(err)
	}
	entries := []record.Entry{
		{Kind: record.KindPD, PD: &record.PD{At: t0, Path: "/pd/api/v1/stores", Status: 200, Body: json.RawMessage(`{"count":0,"stores":[]}`)}},
		{Kind: record.KindRegions, Regions: &record.Regions{At: t0, Full: true, Count: 1, Changed: []json.RawMessage{json.RawMessage(`{"id":2}`)}}},
		{Kind: record.KindSeries, Series: &record.Series{From: t0, To: t0.Add(time.Minute), Labels: map[string]string{"__name__": "up"},
			Samples: []record.Sample{{T: t0, V: 1}, {T: t0.Add(15 * time.Second), V: math.Inf(1)}}}},
		{Kind: record.KindLog, Log: &record.Log{At: t0.Add(time.Second), Source: "tikv-1", Line: "[INFO] hello"}},
	}
	for _, e := range entries {
		if err := w.Write(e); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(t0.Add(2 * time.Minute)); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), entries
}

func readAll(b []byte) (record.Header, []record.Entry, error) {
	r, err := record.NewReader(bytes.NewReader(b))
	if err != nil {
		return record.Header{}, nil, err
	}
	var out []record.Entry
	for {
		e, err := r.Next()
		if errors.Is(err, io.EOF) {
			return r.Header(), out, nil
		}
		if err != nil {
			return r.Header(), out, err
		}
		out = append(out, e)
	}
}

func TestRoundTrip(t *testing.T) {
	b, want := sample(t)
	h, got, err := readAll(b)
	if err != nil {
		t.Fatal(err)
	}
	if h.Format != record.Format || h.Version != record.Version || time.Duration(h.Interval) != 10*time.Second {
		t.Errorf("header = %+v", h)
	}
	end := got[len(got)-1]
	if end.Kind != record.KindEnd || end.End.Entries != 5 || !end.End.At.Equal(t0.Add(2*time.Minute)) {
		t.Errorf("end = %+v", end.End)
	}
	if diff := cmp.Diff(want, got[:len(got)-1], cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("entries (-wrote +read):\n%s", diff)
	}
}

func TestDamagedRecordings(t *testing.T) {
	whole, _ := sample(t)
	lines := bytes.SplitAfter(whole, []byte("\n"))
	for _, tt := range []struct {
		name string
		in   []byte
		want error
		syn  bool
	}{
		{"empty", nil, record.ErrTruncated, false},
		{"no end line", bytes.Join(lines[:len(lines)-2], nil), record.ErrTruncated, false},
		{"torn last line", whole[:len(whole)-3], record.ErrTruncated, false},
		{"torn middle line", append(append([]byte{}, lines[0]...), lines[1][:10]...), record.ErrTruncated, false},
		{"a line lost", bytes.Join(append([][]byte{lines[0]}, lines[2:]...), nil), subject.ErrInvalid, true},
		{"garbage line", append(append([]byte{}, lines[0]...), []byte("{nope\n")...), subject.ErrInvalid, true},
		{"unknown kind", append(append([]byte{}, lines[0]...), []byte(`{"kind":"weird"}`+"\n")...), subject.ErrInvalid, true},
		{"kind without its field", append(append([]byte{}, lines[0]...), []byte(`{"kind":"pd"}`+"\n")...), subject.ErrInvalid, true},
		{"after the end", append(append([]byte{}, whole...), lines[1]...), subject.ErrInvalid, true},
		{"not a header first", lines[1], subject.ErrInvalid, true},
		{"newer version", []byte(strings.Replace(string(whole), `"version":1`, `"version":2`, 1)), subject.ErrNotSupported, false},
		{"another format", []byte(strings.Replace(string(whole), record.Format, "other", 1)), subject.ErrNotSupported, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := readAll(tt.in)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			var se *record.SyntaxError
			if errors.As(err, &se) != tt.syn {
				t.Errorf("err = %#v: SyntaxError %v, want %v", err, !tt.syn, tt.syn)
			}
		})
	}
}

func TestWriterRefusesMisshapenEntries(t *testing.T) {
	w, err := record.NewWriter(io.Discard, record.Header{Start: t0, End: t0})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range []record.Entry{
		{Kind: record.KindPD},
		{Kind: record.KindPD, Log: &record.Log{}},
		{Kind: record.KindHeader, Header: &record.Header{}},
		{Kind: "x"},
	} {
		if err := w.Write(e); !errors.Is(err, subject.ErrInvalid) {
			t.Errorf("Write(%+v) = %v, want ErrInvalid", e, err)
		}
	}
	if _, err := record.NewWriter(io.Discard, record.Header{Start: t0, End: t0.Add(-time.Second)}); !errors.Is(err, subject.ErrInvalid) {
		t.Errorf("header ending before it starts: %v", err)
	}
	if err := w.Close(t0); err != nil {
		t.Fatal(err)
	}
	if err := w.Write(record.Entry{Kind: record.KindLog, Log: &record.Log{}}); !errors.Is(err, subject.ErrPrecondition) {
		t.Errorf("write after close = %v", err)
	}
}
