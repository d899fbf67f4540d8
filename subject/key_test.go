package subject_test

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/kvops/operator/subject"
)

// TestRegionKeysAreHex: a region's keys marshal to upper-case hex, as PD
// prints them, and come back unchanged; before subject.Key they were
// base64 (encoding/json's []byte), which range_regions could not take.
func TestRegionKeysAreHex(t *testing.T) {
	r := subject.Region{ID: 9, StartKey: []byte("t\x80\x00\x01"), EndKey: nil}
	b, err := json.Marshal(r)
	require.NoError(t, err)
	var raw map[string]any
	require.NoError(t, json.Unmarshal(b, &raw))
	require.Equal(t, "74800001", raw["start_key"])
	require.Equal(t, "", raw["end_key"], "the end of the key space")

	var back subject.Region
	require.NoError(t, json.Unmarshal(b, &back))
	if d := cmp.Diff(r.StartKey, back.StartKey); d != "" {
		t.Errorf("start key (-sent +back):\n%s", d)
	}
	require.Empty(t, back.EndKey)
}

func TestParseKey(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want subject.Key
		err  error
	}{
		{"", subject.Key{}, nil},
		{"7480ff", subject.Key{0x74, 0x80, 0xff}, nil},
		{"7480FF", subject.Key{0x74, 0x80, 0xff}, nil},
		{"748", nil, subject.ErrInvalid},
		{"zz", nil, subject.ErrInvalid},
	} {
		got, err := subject.ParseKey(tc.in)
		require.ErrorIs(t, err, tc.err, tc.in)
		if tc.err == nil && !cmp.Equal([]byte(tc.want), []byte(got)) {
			t.Errorf("ParseKey(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
	var k subject.Key
	require.ErrorIs(t, json.Unmarshal([]byte(`"0g"`), &k), subject.ErrInvalid)
	require.Equal(t, "7480FF", subject.Key{0x74, 0x80, 0xff}.String())
}
