package rules_test

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	gocmp "github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/kvops/operator/invariant"
	"github.com/kvops/operator/promclient/rules"
	"github.com/kvops/operator/subject"
)

const seriesRules = `groups:
- name: g
  rules:
  - alert: Missing
    expr: demo_renamed_value{job="demo"} > 10 and on(instance) demo_value > 0
  - alert: Quiet
    expr: demo_value > 1000
  - alert: Absent
    expr: absent(demo_never{job="demo"})
  - alert: Partly
    expr: demo_value > 10 or demo_renamed_value > 10
`

// TestNoSeriesSaidOnce: against a real Prometheus, the first evaluation
// of a rule whose series exist nowhere and whose result is empty fails
// once with a NoSeriesError naming the selectors that select nothing, and
// reads as usual after that; a rule whose series exist but whose result is
// empty is healthy; absent() is meant to find nothing; a rule with a
// result and a dead branch is logged, not failed; SkipSeriesCheck keeps
// quiet.
func TestNoSeriesSaidOnce(t *testing.T) {
	c := startSemantics(t)
	var log bytes.Buffer
	set, err := rules.Parse(rules.Config{Prometheus: c, Logger: slog.New(slog.NewTextHandler(&log, nil))}, "test.yml", []byte(seriesRules))
	require.NoError(t, err)
	// One check at a time: they share the log buffer.
	e, err := invariant.New(set.Invariants(), invariant.Config{Concurrency: 1})
	require.NoError(t, err)
	at := epoch.Add(4 * time.Minute)

	rep, err := e.Evaluate(t.Context(), at)
	require.NoError(t, err)
	require.Len(t, rep.Errors, 1, "%v", rep.Errors)
	var nse *rules.NoSeriesError
	require.True(t, errors.As(rep.Errors[0].Err, &nse), "%v", rep.Errors[0].Err)
	require.ErrorIs(t, rep.Errors[0].Err, rules.ErrNoSeries)
	require.Equal(t, &rules.NoSeriesError{Rule: "g/Missing", Selectors: []string{`demo_renamed_value{job="demo"}`}}, nse)
	var firing []string
	for _, v := range rep.Violations {
		firing = append(firing, v.Invariant)
	}
	firing = slices.Compact(firing) // Partly fires for two instances
	if d := gocmp.Diff([]string{"g/Absent", "g/Partly"}, firing); d != "" {
		t.Errorf("firing (-want +got):\n%s", d)
	}
	require.Equal(t, 2, strings.Count(log.String(), "exist nowhere"), "Missing and Partly, once each:\n%s", log.String())

	// Said once: the next evaluations read the rule as usual.
	for i := 1; i <= 2; i++ {
		rep, err = e.Evaluate(t.Context(), at.Add(time.Duration(i)*time.Minute))
		require.NoError(t, err)
		require.Empty(t, rep.Errors)
	}
	require.Equal(t, 2, strings.Count(log.String(), "exist nowhere"))

	quiet, err := rules.Parse(rules.Config{Prometheus: c, SkipSeriesCheck: true}, "test.yml", []byte(seriesRules))
	require.NoError(t, err)
	e, err = invariant.New(quiet.Invariants(), invariant.Config{})
	require.NoError(t, err)
	rep, err = e.Evaluate(t.Context(), at)
	require.NoError(t, err)
	require.Empty(t, rep.Errors)
}

// failProbes fails the first n requests that ask whether a rule's series
// exist (the query naming kvops_selector), and carries the others.
type failProbes struct {
	mu   sync.Mutex
	n    int
	next http.RoundTripper
}

func (f *failProbes) RoundTrip(req *http.Request) (*http.Response, error) {
	body, err := io.ReadAll(req.Body)
	if err != nil {
		return nil, err
	}
	req.Body = io.NopCloser(bytes.NewReader(body))
	f.mu.Lock()
	fail := f.n > 0 && bytes.Contains(body, []byte("kvops_selector"))
	if fail {
		f.n--
	}
	f.mu.Unlock()
	if fail {
		return nil, errors.New("connection reset by the test")
	}
	return f.next.RoundTrip(req)
}

// TestNoSeriesCheckRetriedAfterFailure: when Prometheus cannot say
// whether the rule's series exist, the rule reads as usual and the
// question is asked again at the next evaluation, which says so.
func TestNoSeriesCheckRetriedAfterFailure(t *testing.T) {
	sem := unitTestGroup(t, "testdata/semantics.test.yml")
	next := &http.Transport{}
	t.Cleanup(next.CloseIdleConnections)
	tr := &failProbes{n: 1, next: next}
	c := backfilled(t, sem, tr)
	set, err := rules.Parse(rules.Config{Prometheus: c}, "test.yml", []byte(seriesRules))
	require.NoError(t, err)
	missing := set.Invariants()[0]
	at := epoch.Add(4 * time.Minute)
	fs, err := missing.Check(t.Context(), at)
	require.NoError(t, err, "the probe failed: nothing said yet")
	require.Empty(t, fs)
	_, err = missing.Check(t.Context(), at)
	require.ErrorIs(t, err, rules.ErrNoSeries)
	_, err = missing.Check(t.Context(), at)
	require.NoError(t, err, "said once")
}

// TestPlaceholders: tiup's ENV_LABELS_ENV is replaced as tiup replaces it,
// or dropped with an empty replacement (in labels, and in expressions,
// where env="" selects series without the label); left in, the loader
// says so.
func TestPlaceholders(t *testing.T) {
	c := startSemantics(t)
	const file = `groups:
- name: g
  rules:
  - alert: High
    expr: demo_value{env="ENV_LABELS_ENV"} > 10
    labels:
      env: ENV_LABELS_ENV
      level: warning
    annotations:
      description: 'cluster: ENV_LABELS_ENV, instance: {{ $labels.instance }}'
`
	at := epoch.Add(4 * time.Minute)
	for _, tt := range []struct {
		name         string
		placeholders map[string]string
		env          string // the alerts' env label, "" for none
		findings     int
		warned       bool
	}{
		{"set", map[string]string{"ENV_LABELS_ENV": "prod"}, "prod", 0, false}, // no demo series has env="prod"
		{"dropped", map[string]string{"ENV_LABELS_ENV": ""}, "", 2, false},
		{"left", nil, "ENV_LABELS_ENV", 0, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var log bytes.Buffer
			set, err := rules.Parse(rules.Config{Prometheus: c, Placeholders: tt.placeholders, SkipSeriesCheck: true,
				Logger: slog.New(slog.NewTextHandler(&log, nil))}, "pd.rules.yml", []byte(file))
			require.NoError(t, err)
			require.Equal(t, tt.warned, strings.Contains(log.String(), "ENV_LABELS_ENV"), "log:\n%s", log.String())
			got, ok := set.Groups()[0].Rules[0].Labels["env"]
			require.Equal(t, tt.env != "", ok && got != "", "env label %q", got)
			if tt.env != "" {
				require.Equal(t, tt.env, got)
			}
			fs, err := set.Invariants()[0].Check(t.Context(), at)
			require.NoError(t, err)
			require.Len(t, fs, tt.findings)
			for _, f := range fs {
				_, has := f.Labels["env"]
				require.False(t, has, "a dropped env label is no label: %v", f.Labels)
				require.Equal(t, "cluster: , instance: "+f.Labels["instance"], rules.Annotations(invariant.Alert{Labels: f.Labels})["description"])
			}
		})
	}
	_, err := rules.Parse(rules.Config{Prometheus: c, Placeholders: map[string]string{"": "x"}}, "x.yml", []byte(file))
	require.ErrorIs(t, err, subject.ErrInvalid)
}
