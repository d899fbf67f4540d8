package invariant

import (
	"bytes"
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/stretchr/testify/require"
)

// twoInvariants returns the invariants the state tests save and restore,
// driven by the two scripts.
func twoInvariants(disk, quorum *script) []Invariant {
	return []Invariant{
		{Name: "disk", Check: disk.check, Grace: time.Minute, Severity: SeverityWarning, Labels: map[string]string{"team": "storage"}},
		{Name: "quorum", Check: quorum.check, KeepFiringFor: time.Minute, Severity: SeverityCritical},
	}
}

// busyEvaluator returns an evaluator holding a pending, a firing, a held and
// a resolved pair, one of them with a NaN value.
func busyEvaluator(t *testing.T) (*Evaluator, *script, *script) {
	t.Helper()
	disk, quorum := &script{}, &script{}
	e, err := New(twoInvariants(disk, quorum), Config{})
	require.NoError(t, err)
	steps := []struct {
		at           time.Duration
		disk, quorum []Finding
	}{
		{at: 0, disk: []Finding{{Key: "store=1", Message: "full", Value: math.NaN(), Labels: map[string]string{"zone": "z1"}}}, quorum: keys("region=7", "region=8")},
		{at: time.Second, disk: keys("store=1"), quorum: keys("region=8")},
		{at: 61 * time.Second, disk: []Finding{{Key: "store=1", Message: "full", Value: math.Inf(1), Labels: map[string]string{"zone": "z1"}}, {Key: "store=2", Value: -2.5}}, quorum: keys("region=8")},
		{at: 62 * time.Second, disk: keys("store=1", "store=2"), quorum: nil},
		{at: 63 * time.Second, disk: []Finding{{Key: "store=1", Message: "full", Value: math.Inf(-1), Labels: map[string]string{"zone": "z1"}}, {Key: "store=2", Value: -2.5}}, quorum: nil},
	}
	for _, st := range steps {
		disk.findings, quorum.findings = st.disk, st.quorum
		_, err := e.Evaluate(context.Background(), t0.Add(st.at))
		require.NoError(t, err)
	}
	return e, disk, quorum
}

func TestExportRestoreRoundTrip(t *testing.T) {
	e, _, _ := busyEvaluator(t)
	want := e.Alerts()
	states := map[State]int{}
	for _, a := range want {
		states[a.State]++
	}
	require.Equal(t, map[State]int{StateFiring: 2, StatePending: 1, StateResolved: 1}, states, "precondition: the evaluator holds every kind of pair")

	data, err := e.Export()
	require.NoError(t, err)
	viaMarshal, err := e.MarshalJSON()
	require.NoError(t, err)
	require.Equal(t, data, viaMarshal)

	restored, err := New(twoInvariants(&script{}, &script{}), Config{})
	require.NoError(t, err)
	res, err := restored.Restore(data)
	require.NoError(t, err)
	if diff := cmp.Diff(RestoreResult{Restored: 4}, res); diff != "" {
		t.Errorf("restore result (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(want, restored.Alerts(), cmpopts.EquateNaNs()); diff != "" {
		t.Errorf("alerts after a round trip (-want +got):\n%s", diff)
	}
	again, err := restored.Export()
	require.NoError(t, err)
	if !bytes.Equal(data, again) {
		t.Errorf("export after restore differs:\n%s\n%s", data, again)
	}
}

// TestRestoreThenEvaluate checks what the first calls after a restart do
// with restored pairs.
func TestRestoreThenEvaluate(t *testing.T) {
	e, _, _ := busyEvaluator(t)
	data, err := e.Export()
	require.NoError(t, err)
	// At 63s: disk store=1 firing, disk store=2 pending since 61s (grace
	// 1m), quorum region=8 firing and held since 62s (hold 1m), quorum
	// region=7 resolved at 61s.
	tests := []struct {
		name         string
		at           time.Duration
		disk, quorum []Finding
		transitions  []string
		violations   []string
	}{
		{
			// As Prometheus does for a rule whose 'for' is shorter than
			// --rules.alert.for-grace-period: see TestRestoreForState.
			name: "still seen after the restart: a pending pair whose grace is shorter than ForGracePeriod starts it afresh",
			at:   3 * time.Minute, disk: keys("store=1", "store=2"), quorum: keys("region=8"),
			violations: []string{"store=1:firing", "store=2:pending", "region=8:firing"},
		},
		{
			name: "seen but not past grace: the pending pair waits",
			at:   64 * time.Second, disk: keys("store=2"), quorum: nil,
			transitions: []string{"disk store=1: firing -> resolved"},
			violations:  []string{"store=2:pending", "region=8:firing"},
		},
		{
			name: "no longer seen, long past grace: nothing fires, the pending pair is dropped",
			at:   time.Hour, disk: nil, quorum: nil,
			transitions: []string{
				"disk store=1: firing -> resolved", "disk store=2: pending -> inactive",
				"quorum region=7: resolved -> inactive", "quorum region=8: firing -> resolved",
			},
		},
		{
			name: "a restarted clock behind the saved one fires nothing early",
			at:   -time.Hour, disk: keys("store=1", "store=2"), quorum: nil,
			violations: []string{"store=1:firing", "store=2:pending", "region=8:firing"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			disk, quorum := &script{findings: tt.disk}, &script{findings: tt.quorum}
			restored, err := New(twoInvariants(disk, quorum), Config{})
			require.NoError(t, err)
			_, err = restored.Restore(data)
			require.NoError(t, err)
			r, err := restored.Evaluate(context.Background(), t0.Add(tt.at))
			require.NoError(t, err)
			if diff := cmp.Diff(tt.transitions, transitionStrings(r.Transitions)); diff != "" {
				t.Errorf("transitions (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.violations, violationStrings(r.Violations)); diff != "" {
				t.Errorf("violations (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRestoreDropsUnknownInvariants(t *testing.T) {
	e, _, _ := busyEvaluator(t)
	data, err := e.Export()
	require.NoError(t, err)
	onlyDisk, err := New(twoInvariants(&script{}, &script{})[:1], Config{})
	require.NoError(t, err)
	res, err := onlyDisk.Restore(data)
	require.NoError(t, err)
	want := RestoreResult{Restored: 2, Dropped: []DroppedEntry{
		{Invariant: "quorum", Key: "region=7", State: StateResolved},
		{Invariant: "quorum", Key: "region=8", State: StateFiring},
	}}
	if diff := cmp.Diff(want, res); diff != "" {
		t.Errorf("restore result (-want +got):\n%s", diff)
	}
	var got []string
	for _, a := range onlyDisk.Alerts() {
		got = append(got, a.Invariant+" "+a.Key+":"+a.State.String())
	}
	if diff := cmp.Diff([]string{"disk store=1:firing", "disk store=2:pending"}, got); diff != "" {
		t.Errorf("alerts (-want +got):\n%s", diff)
	}
}

// TestRestoreGolden restores a state file written by hand in format version
// 1: if this breaks, the format changed and needs a new version.
func TestRestoreGolden(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "state-v1.json"))
	require.NoError(t, err)
	e, err := New(twoInvariants(&script{}, &script{}), Config{})
	require.NoError(t, err)
	res, err := e.Restore(data)
	require.NoError(t, err)
	require.Equal(t, 2, res.Restored)
	at := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339, s)
		require.NoError(t, err)
		return v
	}
	want := []Alert{
		{
			Invariant: "disk", Key: "store=4", State: StatePending, Severity: SeverityWarning,
			Message: "disk 91% full", Value: 0.91, Labels: map[string]string{"team": "storage", "zone": "z1"},
			FirstSeen: at("2026-11-27T12:00:00Z"), LastSeen: at("2026-11-27T12:00:30Z"),
		},
		{
			Invariant: "quorum", Key: "", State: StateFiring, Severity: SeverityCritical, Value: math.NaN(),
			FirstSeen: at("2026-11-27T11:00:00Z"), LastSeen: at("2026-11-27T12:00:00Z"), FiredAt: at("2026-11-27T11:00:00Z"),
			KeepFiringSince: at("2026-11-27T12:00:30Z"),
		},
	}
	if diff := cmp.Diff(want, e.Alerts(), cmpopts.EquateNaNs()); diff != "" {
		t.Errorf("alerts (-want +got):\n%s", diff)
	}
}

func TestRestoreRejectsBadStates(t *testing.T) {
	entry := func(fields string) string {
		return `{"version":1,"entries":[{"invariant":"disk","key":"k",` + fields + `}]}`
	}
	const pending = `"state":"pending","firstSeen":"2026-11-27T12:00:00Z","lastSeen":"2026-11-27T12:00:00Z"`
	tests := []struct {
		name, data, want string
	}{
		{name: "not JSON", data: `{"version":1,`, want: "unexpected end"},
		{name: "trailing data", data: `{"version":1}{}`, want: "invalid character"},
		{name: "no version", data: `{"entries":[]}`, want: "format version 0"},
		{name: "future version", data: `{"version":2,"entries":[]}`, want: "format version 2"},
		{name: "unknown state", data: entry(`"state":"burning"`), want: "unknown state"},
		{name: "inactive state", data: entry(`"state":"inactive","firstSeen":"2026-11-27T12:00:00Z"`), want: "cannot be saved"},
		{name: "no first seen", data: entry(`"state":"pending","lastSeen":"2026-11-27T12:00:00Z"`), want: "firstSeen is missing"},
		{name: "no last seen", data: entry(`"state":"pending","firstSeen":"2026-11-27T12:00:00Z"`), want: "lastSeen is missing"},
		{name: "pending that fired", data: entry(pending + `,"firedAt":"2026-11-27T12:00:00Z"`), want: "pending entry has"},
		{name: "firing that never fired", data: entry(`"state":"firing","firstSeen":"2026-11-27T12:00:00Z","lastSeen":"2026-11-27T12:00:00Z"`), want: "firedAt is missing"},
		{name: "firing and resolved", data: entry(`"state":"firing","firstSeen":"2026-11-27T12:00:00Z","lastSeen":"2026-11-27T12:00:00Z","firedAt":"2026-11-27T12:00:00Z","resolvedAt":"2026-11-27T12:00:00Z"`), want: "firing entry has resolvedAt"},
		{name: "resolved without a time", data: entry(`"state":"resolved","firstSeen":"2026-11-27T12:00:00Z","lastSeen":"2026-11-27T12:00:00Z","firedAt":"2026-11-27T12:00:00Z"`), want: "resolvedAt is missing"},
		{name: "bad value", data: entry(pending + `,"value":"lots"`), want: "not a number"},
		{name: "bad time", data: entry(`"state":"pending","firstSeen":"yesterday"`), want: "cannot parse"},
		{
			name: "repeated pair",
			data: `{"version":1,"entries":[{"invariant":"disk","key":"k",` + pending + `},{"invariant":"disk","key":"k",` + pending + `}]}`,
			want: "repeated",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, _, _ := busyEvaluator(t)
			before, err := e.Export()
			require.NoError(t, err)
			_, err = e.Restore([]byte(tt.data))
			if !errors.Is(err, ErrState) {
				t.Fatalf("Restore: error %v, want one matching ErrState", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Restore: error %q does not say %q", err, tt.want)
			}
			after, err := e.Export()
			require.NoError(t, err)
			if !bytes.Equal(before, after) {
				t.Errorf("a refused Restore changed the state:\nbefore %s\nafter  %s", before, after)
			}
		})
	}
}

// FuzzRestore feeds Restore arbitrary bytes: it must never panic, and a
// state it accepts must survive an export and a second restore unchanged.
func FuzzRestore(f *testing.F) {
	f.Add([]byte(`{"version":1,"entries":[]}`))
	f.Add([]byte(`{"version":1,"clock":"2026-11-27T12:00:00Z","entries":[{"invariant":"disk","key":"k","state":"pending","firstSeen":"2026-11-27T12:00:00Z","lastSeen":"2026-11-27T12:00:00Z","value":"NaN"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := New(twoInvariants(&script{}, &script{}), Config{})
		require.NoError(t, err)
		if _, err := e.Restore(data); err != nil {
			if !errors.Is(err, ErrState) {
				t.Fatalf("Restore: error %v does not match ErrState", err)
			}
			return
		}
		first, err := e.Export()
		require.NoError(t, err)
		e2, err := New(twoInvariants(&script{}, &script{}), Config{})
		require.NoError(t, err)
		if _, err := e2.Restore(first); err != nil {
			t.Fatalf("Restore of an export: %v\n%s", err, first)
		}
		second, err := e2.Export()
		require.NoError(t, err)
		if !bytes.Equal(first, second) {
			t.Fatalf("export is not stable:\n%s\n%s", first, second)
		}
		// Whatever was restored, evaluating must work and fire nothing
		// that the checks (which see nothing) do not report.
		r, err := e.Evaluate(context.Background(), t0)
		require.NoError(t, err)
		for _, tr := range r.Transitions {
			if tr.To == StateFiring || tr.To == StatePending {
				t.Errorf("restored state %s: %v with no findings", first, tr)
			}
		}
	})
}

// TestRestoreIdentity: a state saved for one cluster is not restored into
// the evaluator of another (the old cluster's firing store=1 must not be
// applied to the new cluster's store 1); a state without identity is
// restored and flagged as unverified.
func TestRestoreIdentity(t *testing.T) {
	tests := []struct {
		name           string
		saved, current string
		wantErr        bool
		wantUnverified bool
	}{
		{name: "same cluster", saved: "7712828691867624985", current: "7712828691867624985"},
		{name: "another cluster", saved: "7712828691867624985", current: "7301238834312271012", wantErr: true},
		{name: "a state of a cluster into an evaluator of none", saved: "7712828691867624985", current: "", wantErr: true},
		{name: "a state without identity", saved: "", current: "7712828691867624985", wantUnverified: true},
		{name: "neither has one", saved: "", current: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			disk := &script{findings: keys("store=1")}
			old, err := New(twoInvariants(disk, &script{}), Config{Identity: tt.saved})
			require.NoError(t, err)
			_, err = old.Evaluate(context.Background(), t0)
			require.NoError(t, err)
			_, err = old.Evaluate(context.Background(), t0.Add(time.Minute))
			require.NoError(t, err)
			data, err := old.Export()
			require.NoError(t, err)

			e, err := New(twoInvariants(&script{}, &script{}), Config{Identity: tt.current})
			require.NoError(t, err)
			res, err := e.Restore(data)
			if tt.wantErr {
				var ie *IdentityError
				require.ErrorAs(t, err, &ie)
				require.Equal(t, IdentityError{Saved: tt.saved, Evaluator: tt.current}, *ie)
				require.ErrorIs(t, err, ErrIdentity)
				require.ErrorIs(t, err, ErrState)
				require.Empty(t, e.Alerts(), "a refused state was applied")
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.wantUnverified, res.Unverified)
			require.Len(t, e.Alerts(), 1)
			again, err := e.Export()
			require.NoError(t, err)
			require.Equal(t, tt.current != "", bytes.Contains(again, []byte(`"identity":"`+tt.current+`"`)), "export carries the evaluator's identity: %s", again)
		})
	}
}
