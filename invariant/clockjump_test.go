package invariant

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"
)

// TestFutureTimeDoesNotSilenceAlerting: one evaluation a day ahead, or a
// state saved on a host whose clock ran a day ahead, must not hold a
// critical alert with a one-minute grace pending through an hour of
// continuous fault. The first call back in time reports the jump.
func TestFutureTimeDoesNotSilenceAlerting(t *testing.T) {
	ahead := t0.Add(24 * time.Hour)
	tests := []struct {
		name string
		// prepare brings the evaluator to the point where the fault
		// starts at t0, with the check reporting fault's findings.
		prepare       func(t *testing.T, fault *script) *Evaluator
		wantRestarted int
	}{
		{
			name: "one evaluation a day ahead",
			prepare: func(t *testing.T, fault *script) *Evaluator {
				e, err := New([]Invariant{{Name: "store_health", Check: fault.check, Grace: time.Minute, Severity: SeverityCritical}}, Config{})
				require.NoError(t, err)
				_, err = e.Evaluate(context.Background(), ahead)
				require.NoError(t, err)
				return e
			},
		},
		{
			name: "state restored from a host a day ahead, fault already pending there",
			prepare: func(t *testing.T, fault *script) *Evaluator {
				other, err := New([]Invariant{{Name: "store_health", Check: fault.check, Grace: time.Minute, Severity: SeverityCritical}}, Config{})
				require.NoError(t, err)
				fault.findings = keys("store=1")
				_, err = other.Evaluate(context.Background(), ahead)
				require.NoError(t, err)
				data, err := other.Export()
				require.NoError(t, err)
				e, err := New([]Invariant{{Name: "store_health", Check: fault.check, Grace: time.Minute, Severity: SeverityCritical}}, Config{})
				require.NoError(t, err)
				_, err = e.Restore(data)
				require.NoError(t, err)
				return e
			},
			wantRestarted: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fault := &script{}
			e := tt.prepare(t, fault)
			fault.findings = keys("store=1")
			var fired time.Duration = -1
			for m := time.Duration(0); m <= time.Hour; m += 10 * time.Second {
				r, err := e.Evaluate(context.Background(), t0.Add(m))
				require.NoError(t, err)
				if m == 0 {
					want := ClockJump{Previous: ahead, Restarted: tt.wantRestarted}
					if diff := cmp.Diff(want, r.ClockJump); diff != "" {
						t.Errorf("first call back in time: clock jump (-want +got):\n%s", diff)
					}
				} else if r.ClockJump.Jumped() {
					t.Errorf("at %v: clock jump %+v, time did not go back", m, r.ClockJump)
				}
				if len(r.Violations) == 1 && r.Violations[0].State == StateFiring {
					fired = m
					break
				}
			}
			require.Equal(t, time.Minute, fired, "the fault began at t0 with a one-minute grace")
		})
	}
}

// TestRestoreClampsClocksAfterItsOwnTime: a saved pair whose clocks lie
// after the state's own evaluation time is moved back to it.
func TestRestoreClampsClocksAfterItsOwnTime(t *testing.T) {
	const data = `{"version":1,"clock":"2026-11-27T12:00:00Z","entries":[
		{"invariant":"disk","key":"store=1","state":"pending","firstSeen":"2026-11-28T12:00:00Z","lastSeen":"2026-11-28T12:00:00Z","value":1},
		{"invariant":"disk","key":"store=2","state":"pending","firstSeen":"2026-11-27T11:59:00Z","lastSeen":"2026-11-27T12:00:00Z","value":1}]}`
	disk := &script{findings: keys("store=1", "store=2")}
	e, err := New([]Invariant{{Name: "disk", Check: disk.check, Grace: time.Minute, Severity: SeverityWarning}}, Config{})
	require.NoError(t, err)
	res, err := e.Restore([]byte(data))
	require.NoError(t, err)
	require.Equal(t, 1, res.Clamped)
	got := e.Alerts()
	require.Len(t, got, 2)
	require.Equal(t, t0, got[0].FirstSeen, "store=1 first seen a day after the state's time")
	// The grace (1m) is shorter than ForGracePeriod: both restart at the
	// first look after the restore and fire a grace later.
	r, err := e.Evaluate(context.Background(), t0.Add(time.Minute))
	require.NoError(t, err)
	require.Empty(t, r.Transitions)
	r, err = e.Evaluate(context.Background(), t0.Add(2*time.Minute))
	require.NoError(t, err)
	if diff := cmp.Diff([]string{"disk store=1: pending -> firing", "disk store=2: pending -> firing"}, transitionStrings(r.Transitions)); diff != "" {
		t.Errorf("transitions (-want +got):\n%s", diff)
	}
}
