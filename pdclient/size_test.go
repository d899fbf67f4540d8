package pdclient

import (
	"bytes"
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"
)

func TestParseSize(t *testing.T) {
	tests := []struct {
		in      string
		want    uint64
		wantErr bool
	}{
		{"0B", 0, false},
		{"1TiB", 1 << 40, false},
		{"836.5GiB", 8365 << 30 / 10, false},
		{"93.94GiB", uint64(math.Round(93.94 * (1 << 30))), false},
		{"930GiB", 930 << 30, false},
		{"1.5KiB", 1536, false},
		{"512", 512, false},
		{"10 MiB", 10 << 20, false},
		{"2kb", 2048, false},
		{"3K", 3072, false},
		{"1PiB", 1 << 50, false},
		{"15EiB", 15 << 60, false},
		{"16EiB", 0, true},
		{"18446744073709551615", math.MaxUint64, false},
		{"18446744073709551616", 0, true},
		{"0.5B", 1, false}, // rounded
		{"", 0, true},
		{"GiB", 0, true},
		{"-1GiB", 0, true},
		{"1.2.3GiB", 0, true},
		{".", 0, true},
		{"1e3B", 0, true},
		{"1ZiB", 0, true},
		{"1 GiBs", 0, true},
		{"NaN", 0, true},
		{"Inf", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseSize(tt.in)
			if tt.wantErr {
				require.Error(t, err)
				require.Zero(t, got)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

// Every size in the recorded store answers parses.
func TestParseSizeRecorded(t *testing.T) {
	for _, name := range []string{"stores", "stores-down", "store-4-offline"} {
		ex := loadExchange(t, "pd", name)
		body := string(ex.Response.Body)
		for _, key := range []string{`"capacity": "`, `"available": "`, `"used_size": "`} {
			for _, part := range strings.Split(body, key)[1:] {
				s := part[:strings.IndexByte(part, '"')]
				v, err := ParseSize(s)
				require.NoError(t, err, s)
				require.Greater(t, v, uint64(0), s)
			}
		}
	}
}

func FuzzParseSize(f *testing.F) {
	for _, s := range []string{"836.5GiB", "0B", "1TiB", "93.94GiB", "12", "1.5 kb", "16EiB", "-1", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := ParseSize(s)
		if err != nil {
			if v != 0 {
				t.Fatalf("ParseSize(%q) = %d with error %v", s, v, err)
			}
			return
		}
		// A plain integer is bytes.
		if n, perr := strconv.ParseUint(s, 10, 64); perr == nil && n != v {
			t.Fatalf("ParseSize(%q) = %d, want %d", s, v, n)
		}
		// A whole number of a unit is an exact multiple.
		if n, perr := strconv.ParseUint(strings.TrimSuffix(s, "KiB"), 10, 64); perr == nil && strings.HasSuffix(s, "KiB") && v != n<<10 {
			t.Fatalf("ParseSize(%q) = %d, want %d", s, v, n<<10)
		}
	})
}

func FuzzDecodeRegions(f *testing.F) {
	f.Add([]byte(`{"count":1,"regions":[{"id":9,"start_key":"","end_key":"74","peers":[{"id":6,"store_id":5}]}]}`))
	f.Add([]byte(`{"count":2000,"regions":null}`))
	f.Add([]byte(`{"regions":[{"id":1},{"id":"x"}]}`))
	f.Add([]byte(`<html></html>`))
	f.Fuzz(func(t *testing.T, b []byte) {
		got, _, err := decodeRegions(bytes.NewReader(b), nil)
		if err != nil {
			if got != nil {
				t.Fatalf("%d regions with the error %v", len(got), err)
			}
			return
		}
		// What decodes re-encodes and decodes to the same regions.
		again, err := json.Marshal(map[string]any{"regions": got})
		if err != nil {
			t.Fatal(err)
		}
		round, _, err := decodeRegions(bytes.NewReader(again), nil)
		if err != nil {
			t.Fatalf("re-encoded regions do not decode: %v", err)
		}
		if d := cmp.Diff(got, round, cmpEmptySlices); d != "" {
			t.Fatalf("round trip (-first +second):\n%s", d)
		}
	})
}

var cmpEmptySlices = cmp.FilterValues(func(a, b any) bool {
	return isEmptySlice(a) && isEmptySlice(b)
}, cmp.Comparer(func(_, _ any) bool { return true }))

func isEmptySlice(v any) bool {
	switch s := v.(type) {
	case []Peer:
		return len(s) == 0
	case []PeerStat:
		return len(s) == 0
	}
	return false
}

func FuzzStoreDecode(f *testing.F) {
	ex := loadExchange(f, "pd", "store-4-offline")
	f.Add([]byte(ex.Response.Body))
	f.Add([]byte(`{"store":{"id":1,"last_heartbeat":-5},"status":{"capacity":"0B","uptime":"1h"}}`))
	f.Add([]byte(`{"store":{"id":1},"status":{"capacity":"99999999999EiB"}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var s Store
		if json.Unmarshal(b, &s) != nil {
			return
		}
		if _, err := json.Marshal(s); err != nil {
			t.Fatalf("a decoded store does not encode: %v", err)
		}
	})
}

func FuzzErrorMessage(f *testing.F) {
	for _, s := range []string{
		`"[PD:core:ErrStoreNotFound]store 999 not found"`,
		`"\"[PD:core:ErrStoreNotFound]store 999 not found\"\n"`,
		`{"code":"input","msg":"unexpected end of JSON input","data":{"Offset":8}}`,
		`null`, ``, `<html>`, `"[PD:`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		msg, code := errorMessage(b)
		if code != "" && !strings.Contains(msg, code) && !json.Valid(b) {
			t.Fatalf("code %q from nowhere in %q", code, b)
		}
		_ = classify(500, code, msg)
	})
}
