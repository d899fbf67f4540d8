package pdclient

import (
	"regexp"
	"testing"

	units "github.com/docker/go-units"
	"github.com/stretchr/testify/require"
)

// pdSizeForm is the shape of the sizes PD writes (units.BytesSize: "%.4g"
// and a binary unit) and of the ones its parser reads without surprises:
// digits, one optional fraction, one optional space, letters.
var pdSizeForm = regexp.MustCompile(`^[0-9]+(\.[0-9]+)? ?[A-Za-z]*$`)

// agreesWithPD checks ParseSize against PD's own parser, go-units'
// RAMInBytes (tikv/pd pkg/utils/typeutil/size.go: ByteSize.UnmarshalJSON).
// Where RAMInBytes reads a size of PD's form to less than 2^53 bytes (its
// float64 arithmetic is exact there), ParseSize reads it too, to the same
// number of bytes or one more: RAMInBytes truncates a fraction of a byte,
// ParseSize rounds it. Outside that, ParseSize differs on purpose:
// RAMInBytes also reads exponents and signs ("1e3", "+5"), which PD never
// writes, and converts sizes of 2^63 bytes or more to garbage, which
// ParseSize refuses; ParseSize reads exbibytes ("1EiB"), which RAMInBytes
// does not know.
func agreesWithPD(t *testing.T, s string) {
	t.Helper()
	want, err := units.RAMInBytes(s)
	if err != nil || want < 0 || want >= 1<<53 || !pdSizeForm.MatchString(s) {
		return
	}
	got, err := ParseSize(s)
	if err != nil {
		t.Fatalf("ParseSize(%q): %v; RAMInBytes reads %d", s, err, want)
	}
	if got < uint64(want) || got-uint64(want) > 1 {
		t.Fatalf("ParseSize(%q) = %d; RAMInBytes reads %d", s, got, want)
	}
}

func TestParseSizeAgreesWithPD(t *testing.T) {
	tests := []struct {
		in string
		// pd and ours: what RAMInBytes and ParseSize read; -1 for an error.
		pd, ours int64
	}{
		{"0B", 0, 0},
		{"836.5GiB", 898185035776, 898185035776},
		{"93.94GiB", 100867306946, 100867306947}, // a fraction of a byte: truncated, rounded
		{"1TiB", 1 << 40, 1 << 40},
		{"1.5 kb", 1536, 1536},
		{"10 MiB", 10 << 20, 10 << 20},
		{"3K", 3072, 3072},
		{"512", 512, 512},
		{"0.5B", 0, 1},
		{"1PiB", 1 << 50, 1 << 50},
		// What PD writes past a PiB, RAMInBytes cannot read back.
		{"1EiB", -1, 1 << 60},
		// Forms PD never writes.
		{"1e3B", 1000, -1},
		{"+5", 5, -1},
		{"1ki", -1, 1024},
		{"1 KiBs", -1, -1},
		{"-1GiB", -1, -1},
		{"GiB", -1, -1},
		{"", -1, -1},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			pd, err := units.RAMInBytes(tt.in)
			if err != nil {
				pd = -1
			}
			require.Equal(t, tt.pd, pd, "RAMInBytes")
			ours, err := ParseSize(tt.in)
			if err != nil {
				require.Equal(t, int64(-1), tt.ours, "ParseSize: %v", err)
			} else {
				require.Equal(t, tt.ours, int64(ours), "ParseSize")
			}
			agreesWithPD(t, tt.in)
		})
	}
}

// FuzzParseSizeAgreesWithPD checks agreesWithPD on any input.
func FuzzParseSizeAgreesWithPD(f *testing.F) {
	for _, s := range []string{"836.5GiB", "0B", "1TiB", "93.94GiB", "12", "1.5 kb", "16EiB", "1e3", "0.5B", "8191.9PiB"} {
		f.Add(s)
	}
	f.Fuzz(agreesWithPD)
}
