package record_test

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/kvops/operator/subject"
	"github.com/kvops/operator/tikv/record"
)

// state is what a replay answers at one time: the latest PD answer per
// path, and the regions of the last whole read.
type state struct {
	PD      map[string]string
	Regions map[uint64]regionLeader
}

func stateAt(t *testing.T, entries []record.Entry, at time.Time) state {
	t.Helper()
	st := state{PD: map[string]string{}}
	var upTo []record.Entry
	for _, e := range entries {
		if e.PD != nil && !e.PD.At.After(at) {
			st.PD[e.PD.Path] = string(rune(e.PD.Status)) + e.PD.Error + string(e.PD.Body)
		}
		if e.Regions != nil && !e.Regions.At.After(at) {
			upTo = append(upTo, e)
		}
	}
	if reads := regionsAt(t, upTo); len(reads) > 0 {
		st.Regions = leadersOf(t, reads[len(reads)-1])
	}
	return st
}

// TestCut cuts the fault recording from the PD election to past PD's
// return: at every evaluation of the cut, a replay of it answers as a
// replay of the whole, though the cut starts between two region reads and
// while PD had a leader it then lost.
func TestCut(t *testing.T) {
	_, buf, _ := recordFaults(t)
	_, whole, err := readAll(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	from, to := t0.Add(2*time.Minute+30*time.Second), t0.Add(4*time.Minute+30*time.Second)
	var out bytes.Buffer
	r, err := record.NewReader(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if err := record.Cut(&out, r, from, to); err != nil {
		t.Fatal(err)
	}
	h, cut, err := readAll(out.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if !h.Start.Equal(from) || !h.End.Equal(to) {
		t.Errorf("cut's header from %v to %v, want %v to %v", h.Start, h.End, from, to)
	}
	for _, e := range cut[:len(cut)-1] {
		if at := e.At(); at.Before(from) || at.After(to) {
			t.Errorf("a %s entry at %v, outside the cut", e.Kind, at)
		}
	}
	for at := from; !at.After(to); at = at.Add(15 * time.Second) {
		if d := cmp.Diff(stateAt(t, whole, at), stateAt(t, cut, at)); d != "" {
			t.Errorf("state at %v (-whole +cut):\n%s", at.Sub(t0), d)
		}
	}
	// The state at from is the cut's first entries, at from.
	if first := cut[0]; first.PD == nil || !first.PD.At.Equal(from) {
		t.Errorf("the cut begins with %+v, want PD's answers at %v", first, from)
	}

	r, _ = record.NewReader(bytes.NewReader(buf.Bytes()))
	if err := record.Cut(&out, r, to, from); !errors.Is(err, subject.ErrInvalid) {
		t.Errorf("from after to: %v, want ErrInvalid", err)
	}
	// A recording cut short: the cut says so, and its output has no end
	// line either.
	var torn bytes.Buffer
	r, _ = record.NewReader(bytes.NewReader(buf.Bytes()[:buf.Len()-10]))
	if err := record.Cut(&torn, r, from, to); !errors.Is(err, record.ErrTruncated) {
		t.Errorf("cut of a torn recording: %v, want ErrTruncated", err)
	}
	if _, _, err := readAll(torn.Bytes()); !errors.Is(err, record.ErrTruncated) {
		t.Errorf("the cut of a torn recording reads as %v, want ErrTruncated", err)
	}
}
