package invariant

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestRestoreForState restores pending and firing pairs after outages of
// various lengths and checks when they fire against the answers of
// Prometheus' RestoreForState (rules/manager.go in Prometheus 2.x, which
// Debian ships; rules/group.go since 2.5x) and rules/alerting.go. The
// first cases are Prometheus' own TestForStateRestoreHoldDuration
// (rules/manager_test.go, prometheus/prometheus#19882), with its
// --rules.alert.for-outage-tolerance of 30m and --rules.alert.for-grace-period
// of 10m; the rule is always active (vector(1)), evaluated every minute.
//
// Prometheus evaluates a restarted group twice and restores at the second
// evaluation (Group.run): an alert it does not restore keeps the ActiveAt
// of the first, one interval before its restore time. This evaluator
// restores at the first call that sees the pair, so there both are that
// call's time (restart below).
func TestRestoreForState(t *testing.T) {
	const m = time.Minute
	tests := []struct {
		name string
		// grace is the invariant's (Prometheus' hold duration, `for`).
		grace time.Duration
		// before are the calls before the restart; restart is the first
		// call after it.
		before  []time.Duration
		restart time.Duration
		prior   State
		// firstSeen is the pair's first-seen time after the first call
		// (Prometheus' ActiveAt after restoring); fires is when it fires.
		firstSeen, fires time.Duration
	}{
		// Prometheus: firing, nextState firing.
		{name: "firing below grace period", grace: 5 * m, before: []time.Duration{0, 4 * m, 6 * m, 8 * m}, restart: 12 * m,
			prior: StateFiring, firstSeen: 0, fires: 6 * m},
		{name: "firing at grace period", grace: 10 * m, before: []time.Duration{0, 9 * m, 11 * m, 13 * m}, restart: 17 * m,
			prior: StateFiring, firstSeen: 0, fires: 11 * m},
		{name: "firing above grace period", grace: 15 * m, before: []time.Duration{0, 14 * m, 16 * m, 18 * m}, restart: 22 * m,
			prior: StateFiring, firstSeen: 0, fires: 16 * m},
		// Prometheus: ActiveAt 5m, the first evaluation after its restart
		// (one interval before its restore at 6m).
		{name: "pending below grace period restarts hold duration", grace: 5 * m, before: []time.Duration{0, 2 * m}, restart: 6 * m,
			prior: StatePending, firstSeen: 6 * m, fires: 11 * m},
		// Prometheus: ActiveAt 10m; the 10 minutes down do not count.
		{name: "pending above grace period excludes outage", grace: 25 * m, before: []time.Duration{0, 5 * m}, restart: 15 * m,
			prior: StatePending, firstSeen: 10 * m, fires: 35 * m},
		// Prometheus: ActiveAt 10m; 5 minutes were left, it waits the grace
		// period of 10.
		{name: "pending near hold duration receives grace period", grace: 25 * m, before: []time.Duration{0, 20 * m}, restart: 25 * m,
			prior: StatePending, firstSeen: 10 * m, fires: 35 * m},
		{name: "zero hold duration keeps evaluated firing timestamp", grace: 0, before: []time.Duration{0, 2 * m}, restart: 6 * m,
			prior: StateFiring, firstSeen: 0, fires: 0},
		// Prometheus (released code, both versions): an ALERTS_FOR_STATE
		// sample older than the tolerance is not found, and the alert
		// starts afresh.
		{name: "pending outside outage tolerance restarts hold duration", grace: 25 * m, before: []time.Duration{0, 5 * m}, restart: 36 * m,
			prior: StatePending, firstSeen: 36 * m, fires: 61 * m},
		{name: "pending exactly at outage tolerance is restored", grace: 25 * m, before: []time.Duration{0, 5 * m}, restart: 35 * m,
			prior: StatePending, firstSeen: 30 * m, fires: 55 * m},
		// Prometheus' nextState here is pending (ActiveAt 39m): it keeps
		// no firing state, and one it cannot restore starts afresh. This
		// evaluator keeps it firing (see Evaluator.Restore).
		{name: "firing outside outage tolerance stays firing", grace: 5 * m, before: []time.Duration{0, 4 * m, 6 * m, 8 * m}, restart: 40 * m,
			prior: StateFiring, firstSeen: 0, fires: 6 * m},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := Config{OutageTolerance: 30 * m, ForGracePeriod: 10 * m}
			fired, firstSeen := restoreAndRun(t, cfg, tt.grace, tt.before, tt.restart, tt.prior)
			require.Equal(t, t0.Add(tt.firstSeen), firstSeen, "first seen after the restart")
			require.Equal(t, t0.Add(tt.fires), fired, "fired at")
			if tt.prior == StatePending {
				require.True(t, fired.After(t0.Add(tt.restart)), "a restored pending pair fired at its first look")
			}
		})
	}
}

// TestRestoreForStateDefaults: with the defaults (1h, 10m), a pending pair
// restored after a long outage does not fire at its first look, one
// restored after a short one has the outage left out, and one whose grace
// had run out before the restart (its invariant's Grace since lowered)
// fires at once, as Prometheus' "timeRemainingPending <= 0" does.
func TestRestoreForStateDefaults(t *testing.T) {
	const m = time.Minute
	for _, tt := range []struct {
		name             string
		grace            time.Duration
		before           []time.Duration
		regrace          time.Duration // the invariant's Grace after the restart
		restart          time.Duration
		firstSeen, fires time.Duration
	}{
		{name: "two hours down", grace: 15 * m, before: []time.Duration{0, 10 * m}, restart: 130 * m, firstSeen: 130 * m, fires: 145 * m},
		{name: "an hour down", grace: 30 * m, before: []time.Duration{0, 10 * m}, restart: 70 * m, firstSeen: 60 * m, fires: 90 * m},
		{name: "grace lowered below the time already pending", grace: time.Hour, before: []time.Duration{0, 20 * m}, regrace: 15 * m,
			restart: 25 * m, firstSeen: 0, fires: 25 * m},
	} {
		t.Run(tt.name, func(t *testing.T) {
			grace := tt.grace
			if tt.regrace != 0 {
				grace = tt.regrace
			}
			fired, firstSeen := restoreAndRunWith(t, Config{}, tt.grace, grace, tt.before, tt.restart, StatePending)
			require.Equal(t, t0.Add(tt.firstSeen), firstSeen, "first seen after the restart")
			require.Equal(t, t0.Add(tt.fires), fired, "fired at")
		})
	}
}

// restoreAndRun evaluates an always-seen pair of an invariant with the
// given grace at before, saves the state, restores it into a new
// evaluator and evaluates it from restart every minute. It returns when it
// fired and its first-seen time after the call at restart.
func restoreAndRun(t *testing.T, cfg Config, grace time.Duration, before []time.Duration, restart time.Duration, prior State) (fired, firstSeen time.Time) {
	t.Helper()
	return restoreAndRunWith(t, cfg, grace, grace, before, restart, prior)
}

func restoreAndRunWith(t *testing.T, cfg Config, grace, regrace time.Duration, before []time.Duration, restart time.Duration, prior State) (fired, firstSeen time.Time) {
	t.Helper()
	always := &script{findings: keys("k")}
	old, err := New([]Invariant{{Name: "inv", Check: always.check, Grace: grace, Severity: SeverityWarning}}, cfg)
	require.NoError(t, err)
	for _, at := range before {
		r, err := old.Evaluate(context.Background(), t0.Add(at))
		require.NoError(t, err)
		for _, tr := range r.Transitions {
			if tr.To == StateFiring {
				fired = tr.At
			}
		}
	}
	require.Len(t, old.Alerts(), 1)
	require.Equal(t, prior, old.Alerts()[0].State, "state before the restart")
	saved, err := old.Export()
	require.NoError(t, err)

	e, err := New([]Invariant{{Name: "inv", Check: always.check, Grace: regrace, Severity: SeverityWarning}}, cfg)
	require.NoError(t, err)
	_, err = e.Restore(saved)
	require.NoError(t, err)
	for at := restart; at <= restart+3*time.Hour; at += time.Minute {
		r, err := e.Evaluate(context.Background(), t0.Add(at))
		require.NoError(t, err)
		require.Len(t, r.Violations, 1)
		if at == restart {
			firstSeen = r.Violations[0].FirstSeen
		}
		if r.Violations[0].State == StateFiring {
			if fired.IsZero() {
				fired = r.Violations[0].FiredAt
			}
			return fired, firstSeen
		}
	}
	t.Fatal("never fired")
	return
}

// TestRestoreBeforeYearOne: a state saved by an evaluator whose clock was
// before year 1 survives Restore(Export()) (fixed by this work: restoring
// clamped the unset (zero) times of a pending pair into real ones, after
// which the export was refused as inconsistent).
func TestRestoreBeforeYearOne(t *testing.T) {
	early := time.Date(0, 6, 1, 0, 0, 0, 0, time.UTC)
	disk, quorum := &script{findings: keys("store=1")}, &script{findings: keys("region=7")}
	e, err := New(twoInvariants(disk, quorum), Config{})
	require.NoError(t, err)
	_, err = e.Evaluate(context.Background(), early)
	require.NoError(t, err)
	first, err := e.Export()
	require.NoError(t, err)

	again, err := New(twoInvariants(&script{}, &script{}), Config{})
	require.NoError(t, err)
	res, err := again.Restore(first)
	require.NoError(t, err, "%s", first)
	require.Zero(t, res.Clamped)
	for _, a := range again.Alerts() {
		if a.State == StatePending {
			require.True(t, a.FiredAt.IsZero() && a.ResolvedAt.IsZero() && a.KeepFiringSince.IsZero(), "%+v", a)
		}
	}
	second, err := again.Export()
	require.NoError(t, err)
	require.JSONEq(t, string(first), string(second))
	third, err := New(twoInvariants(&script{}, &script{}), Config{})
	require.NoError(t, err)
	_, err = third.Restore(second)
	require.NoError(t, err)
}
