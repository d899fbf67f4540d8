package tikvtest

import "testing"

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
