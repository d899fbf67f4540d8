package logparse

import (
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"
)

// ownedInput has entries whose strings come from every place the parser
// takes them from: the line itself, unescaped quoted text (the parser's
// scratch buffer) and continuation lines, and a buffer that the reader
// must refill and compact (one byte per Read).
func ownedInput() (string, []Entry) {
	var b strings.Builder
	var want []Entry
	for i := range 40 {
		e := Entry{
			Time: time.Date(2024, 7, 24, 12, 47, 12, 0, time.UTC).Add(time.Duration(i) * time.Millisecond), Level: LevelInfo, Source: "raft.rs:1228",
			Message: "msg \"" + strings.Repeat(string(rune('a'+i%26)), i+1) + "\"",
			Fields: []Field{
				{Key: "region_id", Value: itoa(int64(i))},
				{Key: "key " + itoa(int64(i)), Value: strings.Repeat("v", i%7)},
			},
		}
		if i%5 == 0 {
			e.Continuation = "trace " + itoa(int64(i))
		}
		b.Write(Format(e)) // with its continuation lines
		want = append(want, e)
	}
	return b.String(), want
}

// TestAllEntriesAreOwned keeps every entry a plain range hands out, and a
// field of each as a map key, then checks them after the whole stream was
// read: before entries owned their memory, later reads overwrote them.
func TestAllEntriesAreOwned(t *testing.T) {
	in, want := ownedInput()
	var got []Entry
	byRegion := map[string]string{}
	r := NewReader(iotest.OneByteReader(strings.NewReader(in)))
	for e, err := range r.All() {
		require.NoError(t, err)
		got = append(got, e)
		v, _ := e.Lookup("region_id")
		byRegion[v] = e.Message
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("entries kept from All (-want +got):\n%s", diff)
	}
	require.Len(t, byRegion, len(want))
	for _, e := range want {
		v, _ := e.Lookup("region_id")
		require.Equal(t, e.Message, byRegion[v], "map keyed by region_id=%s", v)
	}
}

// TestRawEntriesBorrow reads the same stream through the borrowing form:
// each RawEntry equals the owned one while it is valid, and Entry makes
// an owned copy that survives the next call. (TestReaderZeroAllocs checks
// that it does not allocate.)
func TestRawEntriesBorrow(t *testing.T) {
	in, want := ownedInput()
	r := NewReader(iotest.HalfReader(strings.NewReader(in)))
	var got []Entry
	for raw, err := range r.AllRaw() {
		require.NoError(t, err)
		require.Equal(t, want[len(got)].Message, string(raw.Message))
		v, ok := raw.Lookup("region_id")
		require.True(t, ok)
		require.Equal(t, itoa(int64(len(got))), string(v))
		got = append(got, raw.Entry())
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("entries copied from AllRaw (-want +got):\n%s", diff)
	}
}
