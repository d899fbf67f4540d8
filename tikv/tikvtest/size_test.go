package tikvtest

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"

	units "github.com/docker/go-units"
	"github.com/stretchr/testify/require"
)

func TestHumanSize(t *testing.T) {
	// Values from the recorded fixtures and go-units' own tests.
	tests := []struct {
		in   uint64
		want string
	}{
		{0, "0B"},
		{1023, "1023B"},
		{1024, "1KiB"},
		{1 << 40, "1TiB"},
		{uint64(836.5 * (1 << 30)), "836.5GiB"},
		{100866950184, "93.94GiB"},
		{uint64(930 * (1 << 30)), "930GiB"},
		{201369736478, "187.5GiB"},
		{8 << 30, "8GiB"},
	}
	for _, tt := range tests {
		if got := humanSize(tt.in); got != tt.want {
			t.Errorf("humanSize(%d) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestHumanSizeRecorded checks every size string of the recorded answers:
// formatting the bytes it stands for gives the recorded string back, so the
// simulator writes sizes exactly as PD did.
func TestHumanSizeRecorded(t *testing.T) {
	sizeRE := regexp.MustCompile(`"(capacity|available|used_size)": ?"([^"]+)"`)
	files, err := filepath.Glob(filepath.Join("testdata", "*", "*.json"))
	require.NoError(t, err)
	seen := 0
	for _, file := range files {
		data, err := os.ReadFile(file)
		require.NoError(t, err)
		for _, m := range sizeRE.FindAllSubmatch(data, -1) {
			recorded := string(m[2])
			b, err := units.RAMInBytes(recorded)
			require.NoError(t, err, "%s: %s %q", file, m[1], recorded)
			if got := humanSize(uint64(b)); got != recorded {
				t.Errorf("%s: %s %q is %d bytes, which humanSize writes %q", file, m[1], recorded, b, got)
			}
			seen++
		}
	}
	require.Greater(t, seen, 100, "the recordings hold store sizes")
}
