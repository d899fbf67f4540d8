package rules_test

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/kvops/operator/promclient/rules"
	"github.com/kvops/operator/subject"
)

func TestSelectors(t *testing.T) {
	for _, tt := range []struct {
		expr string
		want []string
	}{
		{`up == 0`, []string{`up`}},
		{`sum(rate(tikv_grpc_msg_duration_seconds_count{type!="kv_gc"}[1m] offset 5m)) by (instance) / on(instance) tikv_store_size_bytes{type="capacity"}`,
			[]string{`tikv_grpc_msg_duration_seconds_count{type!="kv_gc"}`, `tikv_store_size_bytes{type="capacity"}`}},
		{`absent(up{job="tikv"}) or up{job="tikv"} @ 100 or up{job="tikv"}`, []string{`up{job="tikv"}`}},
		{`vector(1)`, nil},
	} {
		got, err := rules.Selectors(tt.expr)
		if err != nil {
			t.Fatalf("%s: %v", tt.expr, err)
		}
		if d := cmp.Diff(tt.want, got); d != "" {
			t.Errorf("%s (-want +got):\n%s", tt.expr, d)
		}
	}
	if _, err := rules.Selectors(`sum(`); !errors.Is(err, subject.ErrInvalid) {
		t.Errorf("bad expression: err = %v, want ErrInvalid", err)
	}
}
