package promclient

import (
	"encoding/json"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/common/model"
)

// The client reads and writes what prometheus/common's model did for it;
// these tests hold its own code to model's answers (model is linked by the
// tests only).

func TestPromDuration(t *testing.T) {
	for _, d := range []time.Duration{
		0, time.Millisecond, 1500 * time.Millisecond, time.Second, time.Minute, 90 * time.Second, 5 * time.Minute,
		time.Hour + 30*time.Minute, 24 * time.Hour, 7 * 24 * time.Hour, 8 * 24 * time.Hour, 90 * 24 * time.Hour,
		365 * 24 * time.Hour, 366 * 24 * time.Hour, 2*365*24*time.Hour + time.Millisecond, 999 * time.Microsecond,
	} {
		if got, want := promDuration(d), model.Duration(d).String(); got != want {
			t.Errorf("promDuration(%v) = %q, model.Duration says %q", d, got, want)
		}
	}
}

func FuzzParseMillis(f *testing.F) {
	for _, s := range []string{"1764619531.5", "1764619531", "1.123456", "-0.1", "1.05", "0.001", "-12.5"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var num json.Number
		if err := json.Unmarshal([]byte(s), &num); err != nil {
			return // Prometheus writes timestamps as JSON numbers
		}
		var want model.Time
		if err := want.UnmarshalJSON([]byte(s)); err != nil {
			return // model refuses it: the client may refuse it or not
		}
		got, err := parseMillis(json.RawMessage(s))
		if err != nil {
			t.Fatalf("parseMillis(%q): %v; model.Time reads %d", s, err, want)
		}
		if got != int64(want) {
			t.Errorf("parseMillis(%q) = %d, model.Time reads %d", s, got, want)
		}
	})
}

func TestDecodeResult(t *testing.T) {
	at := time.UnixMilli(1764619531500)
	nan := cmp.Comparer(func(a, b float64) bool { return a == b || math.IsNaN(a) && math.IsNaN(b) })
	tests := []struct {
		name string
		typ  ValueType
		raw  string
		want Result
		bad  bool
	}{
		{"vector", ValueVector, `[{"metric":{"__name__":"up","instance":"a:1"},"value":[1764619531.5,"1"]},{"metric":{},"value":[1764619531.5,"NaN"]}]`,
			Result{Type: ValueVector, Samples: []Sample{{Metric: map[string]string{"__name__": "up", "instance": "a:1"}, At: at, Value: 1}, {Metric: map[string]string{}, At: at, Value: math.NaN()}}}, false},
		{"native histogram", ValueVector, `[{"metric":{"job":"x"},"histogram":[1764619531.5,{"count":"2","sum":"3","buckets":[[0,"0","1","2"]]}]}]`,
			Result{Type: ValueVector, Samples: []Sample{{Metric: map[string]string{"job": "x"}, At: at, Histogram: true}}}, false},
		{"empty vector", ValueVector, `[]`, Result{Type: ValueVector, Samples: []Sample{}}, false},
		{"scalar", ValueScalar, `[1764619531.5,"+Inf"]`, Result{Type: ValueScalar, Samples: []Sample{{Metric: map[string]string{}, At: at, Value: math.Inf(1)}}}, false},
		{"matrix", ValueMatrix, `[{"metric":{},"values":[[1,"1"]]}]`, Result{Type: ValueMatrix}, false},
		{"string", ValueString, `[1,"x"]`, Result{Type: ValueString}, false},
		{"unknown type", "graph", `[]`, Result{}, true},
		{"value not a string", ValueVector, `[{"metric":{},"value":[1,2]}]`, Result{}, true},
		{"value not a number", ValueScalar, `[1,"x"]`, Result{}, true},
		{"timestamp not a number", ValueScalar, `["1","2"]`, Result{}, true},
		{"pair of three", ValueScalar, `[1,"2",3]`, Result{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decodeResult(tt.typ, json.RawMessage(tt.raw))
			if tt.bad {
				var ae *APIError
				if !errors.As(err, &ae) || ae.Type != ErrorBadResponse {
					t.Fatalf("error %v, want a bad_response *APIError", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tt.want, got, nan); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
		})
	}
}
