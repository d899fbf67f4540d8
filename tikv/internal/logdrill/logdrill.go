// Package logdrill is the fault drill of log sources, shared by the tests
// of package tikv (file sources) and tikv/dockerlog: the drills break a
// Subject's log source between two evaluations of invariants that read
// leadership changes through the Subject, and check
// that the failure is a typed error naming the source, that no goroutine
// is left behind, and that the evaluator keeps every state and grace clock:
// a firing alert stays firing, a pending one keeps its first-seen time,
// nothing fires or resolves because the log could not be read.
package logdrill

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	gocmp "github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/kvops/operator/invariant"
	"github.com/kvops/operator/logparse"
	"github.com/kvops/operator/subject"
	"github.com/kvops/operator/tikv"
)

// Names of the drills' invariants.
const (
	InvChurn     = "leader_churn"      // fires at once
	InvChurnHeld = "leader_churn_held" // fires after a minute
)

// churnInvariant is a leadership-churn check: a region whose leader
// changed more than max times in the window before now, as the subject's
// log tells, is a violation. PD's "leader changed" lines and TiKV's
// "became leader" lines count; followers do not.
func churnInvariant(name string, sub *tikv.Subject, now func() time.Time, window time.Duration, max int, grace time.Duration) invariant.Invariant {
	return invariant.Invariant{
		Name: name, Grace: grace, Severity: invariant.SeverityWarning,
		Description: fmt.Sprintf("no region changes leader more than %d times in %v", max, window),
		Check: func(ctx context.Context, _ time.Time) ([]invariant.Finding, error) {
			changes, err := sub.LeadershipChanges(ctx, now().Add(-window))
			if err != nil {
				// What was read before the error is not all there is:
				// judging on it could resolve a real alert.
				return nil, err
			}
			n := map[subject.RegionID]int{}
			for _, c := range changes {
				if c.Role == "" || c.Role == "leader" {
					n[c.Region]++
				}
			}
			var out []invariant.Finding
			for r, k := range n {
				if k > max {
					out = append(out, invariant.Finding{Key: fmt.Sprintf("region=%d", r), Value: float64(k),
						Message: fmt.Sprintf("region %d changed leader %d times in %v", r, k, window)})
				}
			}
			slices.SortFunc(out, func(a, b invariant.Finding) int { return cmp.Compare(a.Key, b.Key) })
			return out, nil
		},
	}
}

// ChurnLog is a PD log from base on: region 7 changes leader three times
// (churn), region 8 once (no churn), and a line of another kind.
func ChurnLog(base time.Time) string {
	var b strings.Builder
	for i, c := range []struct{ region, from, to int }{{7, 1, 2}, {8, 1, 3}, {7, 2, 3}, {7, 3, 1}} {
		b.Write(logparse.Format(logparse.Entry{
			Time: base.Add(time.Duration(i+1) * time.Second), Level: logparse.LevelInfo, Source: "region.go:900",
			Message: "leader changed",
			Fields:  []logparse.Field{{Key: "region-id", Value: fmt.Sprint(c.region)}, {Key: "from", Value: fmt.Sprint(c.from)}, {Key: "to", Value: fmt.Sprint(c.to)}},
		}))
	}
	b.Write(logparse.Format(logparse.Entry{Time: base.Add(5 * time.Second), Level: logparse.LevelWarn, Source: "cluster.go:1543",
		Message: "store disconnected", Fields: []logparse.Field{{Key: "store-id", Value: "4"}}}))
	return b.String()
}

// Drill evaluates the churn invariants over a Subject reading src, at
// times it sets.
type Drill struct {
	t   *testing.T
	E   *invariant.Evaluator
	now time.Time
}

// New returns a drill over a Subject reading src.
func New(t *testing.T, src tikv.LogSource) *Drill {
	t.Helper()
	sub, err := tikv.New(tikv.Config{DisableMetrics: true, Logs: src})
	require.NoError(t, err)
	d := &Drill{t: t}
	now := func() time.Time { return d.now }
	e, err := invariant.New([]invariant.Invariant{
		churnInvariant(InvChurn, sub, now, 5*time.Minute, 2, 0),
		churnInvariant(InvChurnHeld, sub, now, 5*time.Minute, 2, time.Minute),
	}, invariant.Config{})
	require.NoError(t, err)
	d.E = e
	return d
}

// Tick evaluates at now and returns the transitions as strings, and the
// checks' errors.
func (d *Drill) Tick(now time.Time) (transitions []string, errs []error) {
	d.t.Helper()
	d.now = now
	rep, err := d.E.Evaluate(d.t.Context(), now)
	require.NoError(d.t, err)
	for _, tr := range rep.Transitions {
		transitions = append(transitions, fmt.Sprintf("%s %s: %s -> %s", tr.Invariant, tr.Key, tr.From, tr.To))
	}
	for _, ce := range rep.Errors {
		errs = append(errs, ce.Err)
	}
	return transitions, errs
}

// Run is the drill: a first evaluation at base+10s sees region 7's churn
// (firing at once, and pending for the held invariant); then breakIt
// breaks the source, and the evaluation at base+40s must fail with an
// error that want accepts, changing nothing. Then, when repair is not nil,
// it mends the source, and at base+80s the held alert fires: its grace
// clock ran from the first evaluation, across the failed one.
func (d *Drill) Run(base time.Time, breakIt func(), want func(error) bool, repair func()) {
	t := d.t
	t.Helper()
	tr, errs := d.Tick(base.Add(10 * time.Second))
	require.Empty(t, errs, "the first evaluation reads the log: %v", errs)
	require.Equal(t, []string{
		InvChurn + " region=7: inactive -> firing",
		InvChurnHeld + " region=7: inactive -> pending",
	}, tr)
	before := d.E.Alerts()

	breakIt()
	tr, errs = d.Tick(base.Add(40 * time.Second))
	if len(tr) != 0 {
		t.Errorf("the failed evaluation changed states: %v", tr)
	}
	require.Len(t, errs, 2, "both checks fail")
	for _, err := range errs {
		if !want(err) {
			t.Errorf("unexpected error: %v", err)
		}
		var lse *tikv.LogSourceError
		if !errors.As(err, &lse) || lse.Source == "" || !strings.Contains(err.Error(), lse.Source) {
			t.Errorf("the error does not name its source: %#v", err)
		}
		if !strings.HasPrefix(err.Error(), "tikv: leadership changes: ") {
			t.Errorf("the error does not say what failed: %v", err)
		}
	}
	if diff := gocmp.Diff(before, d.E.Alerts()); diff != "" {
		t.Errorf("states changed by the failed evaluation (-before +after):\n%s", diff)
	}
	if repair == nil {
		return
	}
	repair()
	tr, errs = d.Tick(base.Add(80 * time.Second))
	require.Empty(t, errs, "the repaired source reads")
	require.Equal(t, []string{InvChurnHeld + " region=7: pending -> firing"}, tr,
		"the held alert fires a minute after it was first seen, across the failed evaluation")
}

// churnLines returns ChurnLog(base) as logwriter commands, one per line.
func ChurnLines(base time.Time) []string {
	var out []string
	for _, l := range strings.Split(strings.TrimSuffix(ChurnLog(base), "\n"), "\n") {
		out = append(out, "out:"+l)
	}
	return out
}
