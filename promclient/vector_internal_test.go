package promclient

import (
	"encoding/json"
	"math"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var sampleCmp = cmp.Comparer(func(a, b sample) bool {
	return a.count == b.count && (a.v == b.v || math.IsNaN(a.v) && math.IsNaN(b.v))
})

func TestScanVector(t *testing.T) {
	tests := []struct {
		name   string
		result string
		fast   bool // scanVector reads it; otherwise it falls back
		want   map[string]sample
	}{
		{"empty", `[]`, true, map[string]sample{}},
		{"two stores", `[{"metric":{"instance":"a:1","job":"tikv"},"value":[1764619531.5,"0.004"]},{"metric":{"instance":"b:2"},"value":[1764619531,"12"]}]`,
			true, map[string]sample{"a:1": {v: 0.004, count: 1}, "b:2": {v: 12, count: 1}}},
		{"white space", " [ { \"metric\" : { \"instance\" : \"a:1\" } , \"value\" : [ 1 , \"1e3\" ] } ] ", true, map[string]sample{"a:1": {v: 1000, count: 1}}},
		{"NaN and infinities", `[{"metric":{"instance":"a"},"value":[1,"NaN"]},{"metric":{"instance":"b"},"value":[1,"+Inf"]},{"metric":{"instance":"c"},"value":[1,"-Inf"]}]`,
			true, map[string]sample{"a": {v: math.NaN(), count: 1}, "b": {v: math.Inf(1), count: 1}, "c": {v: math.Inf(-1), count: 1}}},
		{"no labels", `[{"metric":{},"value":[1,"2"]}]`, true, map[string]sample{"": {v: 2, count: 1}}},
		{"an instance twice", `[{"metric":{"instance":"a","type":"x"},"value":[1,"2"]},{"metric":{"instance":"a","type":"y"},"value":[1,"3"]}]`,
			true, map[string]sample{"a": {v: 3, count: 2}}},
		{"escaped label", `[{"metric":{"instance":"a\u003a1"},"value":[1,"2"]}]`, false, map[string]sample{"a:1": {v: 2, count: 1}}},
		{"value before metric", `[{"value":[1,"2"],"metric":{"instance":"a"}}]`, false, map[string]sample{"a": {v: 2, count: 1}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fast, ok := scanVector([]byte(tt.result))
			if ok != tt.fast {
				t.Fatalf("fast path = %v, want %v", ok, tt.fast)
			}
			slow, err := decodeIndexed([]byte(tt.result))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, slow, sampleCmp, cmp.AllowUnexported(sample{})); diff != "" {
				t.Errorf("encoding/json (-want +got):\n%s", diff)
			}
			if ok {
				if diff := cmp.Diff(tt.want, fast, sampleCmp, cmp.AllowUnexported(sample{})); diff != "" {
					t.Errorf("fast path (-want +got):\n%s", diff)
				}
			}
		})
	}
}

// FuzzScanVector checks that whatever the fast path reads, it reads as
// encoding/json does.
func FuzzScanVector(f *testing.F) {
	f.Add(`[{"metric":{"instance":"a:1","job":"tikv"},"value":[1764619531.5,"0.004"]}]`)
	f.Add(`[]`)
	f.Add(`[{"metric":{},"value":[1,"NaN"]},{"metric":{"instance":"b"},"value":[2,"-1"]}]`)
	f.Fuzz(func(t *testing.T, s string) {
		if !json.Valid([]byte(s)) {
			return // decodeAnswer validates the whole answer first
		}
		fast, ok := scanVector([]byte(s))
		if !ok {
			return
		}
		slow, err := decodeIndexed([]byte(s))
		if err != nil {
			t.Fatalf("fast path read %q, encoding/json refused it: %v", s, err)
		}
		if diff := cmp.Diff(slow, fast, sampleCmp, cmp.AllowUnexported(sample{})); diff != "" {
			t.Errorf("%q (-encoding/json +fast):\n%s", s, diff)
		}
	})
}
