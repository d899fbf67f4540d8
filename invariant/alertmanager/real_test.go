package alertmanager_test

import (
	"bufio"
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/kvops/operator/internal/amtest"
	"github.com/kvops/operator/internal/promtest"
	"github.com/kvops/operator/invariant"
	"github.com/kvops/operator/invariant/alertmanager"
	"github.com/kvops/operator/promclient"
	"github.com/kvops/operator/promclient/rules"
)

// These tests run Debian's prometheus-alertmanager. Alertmanager judges
// EndsAt by its own clock, so the tests' clock starts ten minutes in the
// past and never passes the real time: a resolution is then in the past
// for Alertmanager, and with a one-hour evaluation interval a firing
// alert's EndsAt (now + 4h) is in its future. Times are whole milliseconds,
// the precision of the wire format.
func realStart() time.Time { return time.Now().Add(-10 * time.Minute).Truncate(time.Millisecond) }

func realConfig(am *amtest.Alertmanager) alertmanager.Config {
	return alertmanager.Config{
		URLs:               []string{am.URL},
		ExternalLabels:     map[string]string{"cluster": "test"},
		EvaluationInterval: time.Hour,
		ResendDelay:        time.Minute,
		Timeout:            10 * time.Second,
	}
}

// storeDown is a plain invariant; tikvDown an alert shaped as
// promclient/rules shapes a rule's: its own alertname, annotations in
// labels.
func storeDown(tg *toggle) invariant.Invariant {
	return invariant.Invariant{Name: "store_down", Check: tg.check, Severity: invariant.SeverityCritical}
}

var downFinding = invariant.Finding{
	Key: "store=4", Message: "store 4 is down", Labels: map[string]string{"store": "4", "address": "127.0.0.1:20160"},
}

func byName(as []amtest.Alert, name string) *amtest.Alert {
	for i := range as {
		if as[i].Labels["alertname"] == name {
			return &as[i]
		}
	}
	return nil
}

// TestRealAlertmanagerReceivesAndResolves: firing alerts arrive with their
// labels, annotations and times, as GET /api/v2/alerts reads them back and
// as Alertmanager notifies its webhook; resolved, they leave the list and
// Alertmanager notifies the resolution with its end.
func TestRealAlertmanagerReceivesAndResolves(t *testing.T) {
	am := amtest.Start(t)
	var plain, rule toggle
	ev := newEvaluator(t, storeDown(&plain), invariant.Invariant{
		Name: "tikv/TiKV_server_is_down", Check: rule.check, Severity: invariant.SeverityCritical,
	})
	snd, err := alertmanager.New(realConfig(am))
	require.NoError(t, err)
	ctx := context.Background()

	start := realStart()
	plain.set(downFinding)
	rule.set(invariant.Finding{Key: `{alertname="TiKV_server_is_down", instance="tikv-4:20180", level="critical"}`, Labels: map[string]string{
		"alertname": "TiKV_server_is_down", "instance": "tikv-4:20180", "level": "critical",
		"__annotation_summary": "TiKV server is down", "__annotation_description": "instance tikv-4:20180 is down",
	}})
	require.Equal(t, 2, step(t, ev, start, snd.Update))
	require.NoError(t, snd.Flush(ctx))

	got, err := am.Alerts(ctx)
	require.NoError(t, err)
	require.Len(t, got, 2)
	a := byName(got, "store_down")
	require.NotNil(t, a, "%+v", got)
	if diff := cmp.Diff(map[string]string{
		"alertname": "store_down", "severity": "critical", "key": "store=4", "store": "4",
		"address": "127.0.0.1:20160", "cluster": "test",
	}, a.Labels); diff != "" {
		t.Errorf("labels (-want +got):\n%s", diff)
	}
	require.Equal(t, map[string]string{"summary": "store 4 is down"}, a.Annotations)
	require.True(t, a.StartsAt.Equal(start), "startsAt %v, want %v", a.StartsAt, start)
	require.True(t, a.EndsAt.Equal(start.Add(4*time.Hour)), "endsAt %v, want now + 4 × max(1h, 1m)", a.EndsAt)
	require.Equal(t, "active", a.Status.State)
	r := byName(got, "TiKV_server_is_down")
	require.NotNil(t, r, "%+v", got)
	require.Equal(t, map[string]string{"alertname": "TiKV_server_is_down", "instance": "tikv-4:20180", "level": "critical", "cluster": "test"}, r.Labels)
	require.Equal(t, map[string]string{"summary": "TiKV server is down", "description": "instance tikv-4:20180 is down"}, r.Annotations)

	n := am.WaitNotification(t, 30*time.Second, func(n amtest.Notification) bool {
		return n.Status == "firing" && n.Alerts[0].Labels["alertname"] == "store_down"
	})
	require.Equal(t, "store 4 is down", n.Alerts[0].Annotations["summary"])

	plain.set()
	rule.set()
	resolvedAt := start.Add(2 * time.Minute)
	require.Equal(t, 2, step(t, ev, resolvedAt, snd.Update))
	require.NoError(t, snd.Flush(ctx))
	got, err = am.Alerts(ctx)
	require.NoError(t, err)
	require.Empty(t, got, "resolved alerts are not listed")
	n = am.WaitNotification(t, 30*time.Second, func(n amtest.Notification) bool {
		return n.Status == "resolved" && n.Alerts[0].Labels["alertname"] == "store_down"
	})
	require.True(t, n.Alerts[0].EndsAt.Equal(resolvedAt), "resolved endsAt %v, want %v", n.Alerts[0].EndsAt, resolvedAt)
	require.Equal(t, uint64(4), snd.Stats()[0].Sent)
}

// TestRealAlertmanagerRestart: Alertmanager keeps alerts in memory, so a
// restart loses them; the next resend delivers them again.
func TestRealAlertmanagerRestart(t *testing.T) {
	am := amtest.Start(t)
	var tg toggle
	ev := newEvaluator(t, storeDown(&tg))
	snd, err := alertmanager.New(realConfig(am))
	require.NoError(t, err)
	ctx := context.Background()
	start := realStart()
	tg.set(downFinding)
	require.Equal(t, 1, step(t, ev, start, snd.Update))
	require.NoError(t, snd.Flush(ctx))
	got, err := am.Alerts(ctx)
	require.NoError(t, err)
	require.Len(t, got, 1)

	am.Restart()
	got, err = am.Alerts(ctx)
	require.NoError(t, err)
	require.Empty(t, got, "a restarted Alertmanager has lost its alerts")

	require.Equal(t, 0, step(t, ev, start.Add(30*time.Second), snd.Update), "not due yet")
	resend := start.Add(75 * time.Second)
	require.Equal(t, 1, step(t, ev, resend, snd.Update), "due after the resend delay")
	require.NoError(t, snd.Flush(ctx))
	got, err = am.Alerts(ctx)
	require.NoError(t, err)
	require.Len(t, got, 1)
	require.True(t, got[0].StartsAt.Equal(start), "the same alert, firing since %v: %v", start, got[0].StartsAt)
	require.True(t, got[0].EndsAt.Equal(resend.Add(4*time.Hour)))
}

// TestRealSenderRestart: while Alertmanager is down an alert fires and
// another resolves; the operator restarts, restoring the evaluator's and
// the sender's states; once Alertmanager is back, both arrive.
func TestRealSenderRestart(t *testing.T) {
	am := amtest.Start(t)
	var tg toggle
	inv := storeDown(&tg)
	ev := newEvaluator(t, inv)
	cfg := realConfig(am)
	snd, err := alertmanager.New(cfg)
	require.NoError(t, err)
	ctx := context.Background()
	start := realStart()

	// store 5 fires and is delivered.
	other := invariant.Finding{Key: "store=5", Message: "store 5 is down", Labels: map[string]string{"store": "5"}}
	tg.set(other)
	require.Equal(t, 1, step(t, ev, start, snd.Update))
	require.NoError(t, snd.Flush(ctx))

	am.Stop()
	tg.set(downFinding) // store 4 fires, store 5 resolves, Alertmanager is down
	resolvedAt := start.Add(time.Minute)
	require.Equal(t, 2, step(t, ev, resolvedAt, snd.Update))
	err = snd.Flush(ctx)
	require.ErrorIs(t, err, alertmanager.ErrUnavailable)
	var se *alertmanager.SendError
	require.ErrorAs(t, err, &se)
	require.Zero(t, se.StatusCode, "no answer: %v", err)
	evState, err := ev.Export()
	require.NoError(t, err)
	sndState, err := snd.Export()
	require.NoError(t, err)

	// The operator restarts.
	ev2 := newEvaluator(t, inv)
	_, err = ev2.Restore(evState)
	require.NoError(t, err)
	snd2, err := alertmanager.New(cfg)
	require.NoError(t, err)
	res, err := snd2.Restore(sndState)
	require.NoError(t, err)
	require.Equal(t, 2, res.Queued)
	am.Restart()
	require.Equal(t, 0, step(t, ev2, resolvedAt.Add(15*time.Second), snd2.Update), "nothing is due again yet")
	require.NoError(t, snd2.Flush(ctx))

	got, err := am.Alerts(ctx)
	require.NoError(t, err)
	require.Len(t, got, 1)
	require.Equal(t, "4", got[0].Labels["store"])
	require.True(t, got[0].StartsAt.Equal(resolvedAt))
	// Alertmanager lists no resolved alert; it counts those it received
	// (from 0, since it restarted).
	require.Equal(t, 1.0, receivedResolved(t, am), "store 5's resolution arrived")
	require.Equal(t, uint64(2), snd2.Stats()[0].Sent)
}

// receivedResolved reads Alertmanager's own count of resolved alerts it
// received since it started, alertmanager_alerts_received_total
// {status="resolved"} summed over API versions.
func receivedResolved(t *testing.T, am *amtest.Alertmanager) float64 {
	t.Helper()
	resp, err := http.Get(am.URL + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	sum := 0.0
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "alertmanager_alerts_received_total{") || !strings.Contains(line, `status="resolved"`) {
			continue
		}
		v, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
		require.NoError(t, err, line)
		sum += v
	}
	require.NoError(t, sc.Err())
	return sum
}

// TestRealRuleFileAlerts: a rule file's alert, judged by promclient/rules
// against a real Prometheus, reaches Alertmanager with the labels and
// expanded annotations Prometheus would send.
func TestRealRuleFileAlerts(t *testing.T) {
	am := amtest.Start(t)
	prom := promtest.Start(t)
	file := filepath.Join(t.TempDir(), "r.yml")
	require.NoError(t, os.WriteFile(file, []byte(`groups:
  - name: demo
    rules:
      - alert: AlwaysOne
        expr: vector(1)
        labels:
          level: warning
          source: "{{ $value | humanize }}"
        annotations:
          summary: "value is {{ $value }}"
`), 0o600))
	pc := promclient.DefaultConfig()
	pc.Address = prom.URL
	pcl, err := promclient.New(pc)
	require.NoError(t, err)
	set, err := rules.Load(rules.Config{Prometheus: pcl}, file)
	require.NoError(t, err)
	ev := newEvaluator(t, set.Invariants()...)
	snd, err := alertmanager.New(realConfig(am))
	require.NoError(t, err)
	ctx := context.Background()

	require.Equal(t, 1, step(t, ev, realStart(), snd.Update))
	require.NoError(t, snd.Flush(ctx))
	got, err := am.Alerts(ctx)
	require.NoError(t, err)
	require.Len(t, got, 1)
	require.Equal(t, map[string]string{"alertname": "AlwaysOne", "level": "warning", "source": "1", "cluster": "test"}, got[0].Labels)
	require.Equal(t, map[string]string{"summary": "value is 1"}, got[0].Annotations)
}
