package tikv_test

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/stretchr/testify/require"

	"github.com/kvops/operator/invariant"
	"github.com/kvops/operator/pdclient"
	"github.com/kvops/operator/subject"
	"github.com/kvops/operator/tikv"
)

func newWithThresholds(t *testing.T, th *tikv.Thresholds) (*tikv.Subject, error) {
	t.Helper()
	return tikv.New(tikv.Config{PD: pdclient.Config{Endpoints: []string{"http://127.0.0.1:2379"}}, DisableMetrics: true, Thresholds: th})
}

// TestThresholdsZeroFieldsTakeDefaults: setting one threshold leaves the
// others at their defaults (it used to zero them: latency and CPU above 0
// fired, the leader tolerance was 0 and the PD leader-change hold off).
func TestThresholdsZeroFieldsTakeDefaults(t *testing.T) {
	defaults, err := newWithThresholds(t, nil)
	require.NoError(t, err)
	require.Equal(t, tikv.DefaultThresholds(), defaults.Thresholds())

	one, err := newWithThresholds(t, &tikv.Thresholds{DiskUsage: 0.8})
	require.NoError(t, err)
	want := tikv.DefaultThresholds()
	want.DiskUsage = 0.8
	if diff := cmp.Diff(want, one.Thresholds()); diff != "" {
		t.Errorf("thresholds (-want +got):\n%s", diff)
	}

	// The invariants built from an explicit default are those of the
	// defaults: same graces, holds and thresholds in their descriptions.
	same, err := newWithThresholds(t, &tikv.Thresholds{DiskUsage: tikv.DefaultThresholds().DiskUsage})
	require.NoError(t, err)
	ignoreCheck := cmpopts.IgnoreFields(invariant.Invariant{}, "Check")
	if diff := cmp.Diff(defaults.Invariants(), same.Invariants(), ignoreCheck); diff != "" {
		t.Errorf("invariants (-defaults +one field set):\n%s", diff)
	}
}

// TestNewRefusesBadThresholds: values that make no sense, a latency below
// MinWriteLatencyP99 among them (100, taken as 100 ns, used to be accepted
// without a word), are refused with ErrInvalid naming the field.
func TestNewRefusesBadThresholds(t *testing.T) {
	tests := []struct {
		field string
		th    tikv.Thresholds
	}{
		{"StoreHealthGrace", tikv.Thresholds{StoreHealthGrace: -time.Second}},
		{"LeaderChangeHold", tikv.Thresholds{LeaderChangeHold: -time.Second}},
		{"WriteLatencyP99", tikv.Thresholds{WriteLatencyP99: -time.Millisecond}},
		// A number without its unit: 100 ns, not 100 ms.
		{"WriteLatencyP99", tikv.Thresholds{WriteLatencyP99: 100}},
		{"WriteLatencyP99", tikv.Thresholds{WriteLatencyP99: tikv.MinWriteLatencyP99 - 1}},
		{"RestartHold", tikv.Thresholds{RestartHold: -time.Minute}},
		{"DiskUsage", tikv.Thresholds{DiskUsage: 70}},
		{"DiskUsage", tikv.Thresholds{DiskUsage: -0.5}},
		{"DiskUsage", tikv.Thresholds{DiskUsage: math.NaN()}},
		{"CPUUsage", tikv.Thresholds{CPUUsage: 1.5}},
		{"LeaderImbalance", tikv.Thresholds{LeaderImbalance: -0.1}},
		{"LeaderImbalance", tikv.Thresholds{LeaderImbalance: math.Inf(1)}},
		{"LeaderImbalanceMinGap", tikv.Thresholds{LeaderImbalanceMinGap: -1}},
	}
	for _, tt := range tests {
		t.Run(tt.field, func(t *testing.T) {
			sub, err := newWithThresholds(t, &tt.th)
			require.ErrorIs(t, err, subject.ErrInvalid)
			require.Nil(t, sub)
			// Naming the field is the documented promise of
			// Thresholds (its doc comment), so the wording is checked.
			if !strings.Contains(err.Error(), "Thresholds."+tt.field+" ") {
				t.Errorf("error %q does not name Thresholds.%s", err, tt.field)
			}
		})
	}
	// The limits themselves are valid.
	_, err := newWithThresholds(t, &tikv.Thresholds{DiskUsage: 1, CPUUsage: 1, LeaderImbalanceMinGap: 1, WriteLatencyP99: tikv.MinWriteLatencyP99})
	require.NoError(t, err)
}
