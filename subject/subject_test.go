package subject_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/kvops/operator/subject"
)

func TestParseStoreState(t *testing.T) {
	tests := []struct {
		in      string
		want    subject.StoreState
		wantErr bool
	}{
		{"Up", subject.StateUp, false},
		{"Disconnected", subject.StateDisconnected, false},
		{"Down", subject.StateDown, false},
		{"Offline", subject.StateOffline, false},
		{"Tombstone", subject.StateTombstone, false},
		{"tombstone", subject.StateTombstone, false},
		{"Unknown", subject.StateUnknown, true},
		{"", subject.StateUnknown, true},
		{"Serving", subject.StateUnknown, true},
	}
	for _, tt := range tests {
		got, err := subject.ParseStoreState(tt.in)
		if (err != nil) != tt.wantErr {
			t.Errorf("ParseStoreState(%q) error = %v, wantErr %v", tt.in, err, tt.wantErr)
		}
		if err != nil && !errors.Is(err, subject.ErrInvalid) {
			t.Errorf("ParseStoreState(%q) error %v does not match ErrInvalid", tt.in, err)
		}
		if got != tt.want {
			t.Errorf("ParseStoreState(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestEnumStrings(t *testing.T) {
	got := []string{
		subject.StateUp.String(), subject.StoreState(99).String(),
		subject.NodeServing.String(), subject.NodeState(9).String(),
		subject.RoleLearner.String(), subject.PeerRole(9).String(),
		subject.ReplicaLimit.String(), subject.LimitKind(0).String(),
	}
	want := []string{"Up", "StoreState(99)", "Serving", "NodeState(9)", "Learner", "PeerRole(9)", "replica", "LimitKind(0)"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("strings (-want +got):\n%s", diff)
	}
}

func TestStoreJSONRoundTrip(t *testing.T) {
	in := subject.Store{
		ID: 4, Address: "tikv-4:20160", StatusAddress: "tikv-4:20180", Version: "v8.5.0",
		State: subject.StateOffline, NodeState: subject.NodeRemoving,
		Labels:   map[string]string{"zone": "z1"},
		Capacity: 1 << 40, Available: 1 << 39, UsedSize: 1 << 30,
		LeaderCount: 3, RegionCount: 10,
		LastHeartbeat: time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC),
	}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	var out subject.Store
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(in, out); diff != "" {
		t.Errorf("round trip (-in +out):\n%s", diff)
	}
	var bad subject.Store
	if err := json.Unmarshal([]byte(`{"state":"Sleeping"}`), &bad); err == nil {
		t.Error("unmarshal of unknown state succeeded")
	}
}

func TestValue(t *testing.T) {
	tests := []struct {
		name      string
		v         subject.Value
		wantKnown bool
		wantF     float64
		wantStr   string
		wantNaN   bool
	}{
		{"zero value is unknown", subject.Value{}, false, -1, "unknown", false},
		{"known zero", subject.Known(0), true, 0, "0", false},
		{"known", subject.Known(0.25), true, 0.25, "0.25", false},
		// A histogram with no observation in the window: told apart
		// from a reading that is missing.
		{"NaN", subject.Known(math.NaN()), false, -1, "unknown (value is NaN)", true},
		{"+Inf", subject.Known(math.Inf(1)), false, -1, "unknown (value is infinite)", false},
		{"unknown with reason", subject.Unknown("no series"), false, -1, "unknown (no series)", false},
		{"unknown whose reason says NaN", subject.Unknown("value is NaN"), false, -1, "unknown (value is NaN)", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.v.Known(); got != tt.wantKnown {
				t.Errorf("Known() = %v, want %v", got, tt.wantKnown)
			}
			if got := tt.v.Float(-1); got != tt.wantF {
				t.Errorf("Float(-1) = %v, want %v", got, tt.wantF)
			}
			if got := tt.v.String(); got != tt.wantStr {
				t.Errorf("String() = %q, want %q", got, tt.wantStr)
			}
			if got := tt.v.IsNaN(); got != tt.wantNaN {
				t.Errorf("IsNaN() = %v, want %v", got, tt.wantNaN)
			}
			b, err := json.Marshal(tt.v)
			if err != nil {
				t.Fatal(err)
			}
			var back subject.Value
			if err := json.Unmarshal(b, &back); err != nil {
				t.Fatal(err)
			}
			if back.Known() != tt.wantKnown || back.Float(-1) != tt.wantF {
				t.Errorf("JSON %s read back as %v", b, back)
			}
		})
	}
}

func TestDerivedMetrics(t *testing.T) {
	m := subject.StoreMetrics{
		DiskCapacity: subject.Known(1000), DiskAvailable: subject.Known(100),
		CPU: subject.Known(3), CPUQuota: subject.Known(4),
	}
	if got := m.DiskUsed().Float(-1); got != 900 {
		t.Errorf("DiskUsed = %v, want 900", got)
	}
	if got := m.DiskUsage().Float(-1); got != 0.9 {
		t.Errorf("DiskUsage = %v, want 0.9", got)
	}
	if got := m.CPUUsage().Float(-1); got != 0.75 {
		t.Errorf("CPUUsage = %v, want 0.75", got)
	}
	unknown := subject.StoreMetrics{DiskCapacity: subject.Known(1000), DiskAvailable: subject.Unknown("no series")}
	if u := unknown.DiskUsage(); u.Known() || u.Reason() != "disk available unknown: no series" {
		t.Errorf("DiskUsage with unknown available = %v", u)
	}
	zero := subject.StoreMetrics{DiskCapacity: subject.Known(0), DiskAvailable: subject.Known(0), CPU: subject.Known(1), CPUQuota: subject.Known(0)}
	if zero.DiskUsage().Known() || zero.CPUUsage().Known() {
		t.Errorf("usage over a zero capacity or quota should be unknown, got %v and %v", zero.DiskUsage(), zero.CPUUsage())
	}
}

func TestCapabilitiesJSON(t *testing.T) {
	in := subject.Capabilities{
		Subject: "test",
		Actions: []subject.ActionSpec{{
			Name: "transfer_leader", Description: "moves a leader",
			Params: []subject.ParamSpec{{Name: "region_id", Type: "integer", Required: true}},
		}},
		Observations: []subject.ObservationSpec{{Name: "stores", Result: "[]subject.Store"}},
		SLOs:         []subject.SLOSpec{{Name: "write_latency_p99", Target: 0.1, Unit: "seconds", Grace: time.Minute, Severity: "warning"}},
	}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	var raw map[string]any
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatal(err)
	}
	slo := raw["slos"].([]any)[0].(map[string]any)
	if slo["grace"] != "1m0s" || slo["grace_seconds"] != 60.0 {
		t.Errorf("slo JSON = %v, want grace 1m0s and grace_seconds 60", slo)
	}
	var out subject.Capabilities
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(in, out); diff != "" {
		t.Errorf("round trip (-in +out):\n%s", diff)
	}
	if _, ok := out.Action("transfer_leader"); !ok {
		t.Error("Action(transfer_leader) not found")
	}
	if _, ok := out.Action("nope"); ok {
		t.Error("Action(nope) found")
	}
}

func TestRegionPeerOn(t *testing.T) {
	r := subject.Region{Peers: []subject.Peer{{ID: 1, Store: 1}, {ID: 2, Store: 2, Role: subject.RoleLearner}}}
	if p, ok := r.PeerOn(2); !ok || p.ID != 2 || p.Role.IsVoter() {
		t.Errorf("PeerOn(2) = %+v, %v", p, ok)
	}
	if _, ok := r.PeerOn(3); ok {
		t.Error("PeerOn(3) found a peer")
	}
}

// TestActionErrorPhaseAndSentinelsAgree: whatever an ActionError wraps,
// errors.Is answers as its phase says: a refusal never matches
// ErrUnconfirmed or ErrActionFailed (a pdclient error saying a write may
// have been applied cannot hide in a refusal), and an error after the
// request was sent never matches a refusal sentinel.
func TestActionErrorPhaseAndSentinelsAgree(t *testing.T) {
	refusals := []error{subject.ErrNotFound, subject.ErrInvalid, subject.ErrPrecondition, subject.ErrNotSupported, subject.ErrNotApproved}
	// inner matches every sentinel of every phase.
	inner := errors.Join(append([]error{subject.ErrUnconfirmed, subject.ErrActionFailed, subject.ErrUnavailable}, refusals...)...)
	tests := []struct {
		phase                        subject.Phase
		refusal, failed, unconfirmed bool
	}{
		{subject.PhaseRefused, true, false, false},
		{subject.PhaseSubmitted, false, false, true},
		{subject.PhaseFailed, false, true, false},
		{subject.PhaseUnconfirmed, false, false, true},
		{subject.PhaseConfirmed, false, false, false},
	}
	for _, tt := range tests {
		for _, wrapped := range []error{inner, nil} {
			err := fmt.Errorf("tikv: %w", &subject.ActionError{Action: "split_region", Target: "region 9", Phase: tt.phase, Err: wrapped})
			for _, r := range refusals {
				if got, want := errors.Is(err, r), tt.refusal && wrapped != nil; got != want {
					t.Errorf("phase %s wrapping %v: matches %v = %v, want %v", tt.phase, wrapped != nil, r, got, want)
				}
			}
			if got := errors.Is(err, subject.ErrActionFailed); got != tt.failed {
				t.Errorf("phase %s: ErrActionFailed = %v, want %v", tt.phase, got, tt.failed)
			}
			if got := errors.Is(err, subject.ErrUnconfirmed); got != tt.unconfirmed {
				t.Errorf("phase %s: ErrUnconfirmed = %v, want %v", tt.phase, got, tt.unconfirmed)
			}
			if got, want := errors.Is(err, subject.ErrUnavailable), wrapped != nil; got != want {
				t.Errorf("phase %s: ErrUnavailable = %v, want %v: the phase hides only other phases' sentinels", tt.phase, got, want)
			}
		}
	}
	deadline := &subject.ActionError{Phase: subject.PhaseUnconfirmed, Err: fmt.Errorf("waiting: %w", context.DeadlineExceeded)}
	if !errors.Is(deadline, context.DeadlineExceeded) {
		t.Error("an unconfirmed error hides what it wraps besides other phases' sentinels")
	}
	var ae *subject.ActionError
	if !errors.As(fmt.Errorf("x: %w", &subject.ActionError{Phase: subject.PhaseRefused, Err: &subject.ActionError{Phase: subject.PhaseFailed}}), &ae) || ae.Phase != subject.PhaseRefused {
		t.Error("errors.As finds the outer ActionError first")
	}
}
