package amtest_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kvops/operator/internal/amtest"
)

func post(t *testing.T, url, body string) {
	t.Helper()
	resp, err := http.Post(url+"/api/v2/alerts", "application/json", strings.NewReader(body))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
}

// TestStartRestart posts an alert, reads it back, and checks that a
// restart comes back on the same address without it (Alertmanager keeps
// alerts in memory) and that the webhook saw it.
func TestStartRestart(t *testing.T) {
	am := amtest.Start(t)
	now := time.Now().UTC()
	post(t, am.URL, `[{"labels":{"alertname":"Probe","job":"x"},"annotations":{"summary":"hi"},"startsAt":"`+
		now.Format(time.RFC3339)+`","endsAt":"`+now.Add(time.Hour).Format(time.RFC3339)+`"}]`)

	got, err := am.Alerts(t.Context())
	require.NoError(t, err)
	require.Len(t, got, 1)
	require.Equal(t, map[string]string{"alertname": "Probe", "job": "x"}, got[0].Labels)
	require.Equal(t, map[string]string{"summary": "hi"}, got[0].Annotations)

	n := am.WaitNotification(t, 30*time.Second, func(n amtest.Notification) bool { return n.Status == "firing" })
	require.Equal(t, "Probe", n.Alerts[0].Labels["alertname"])

	url := am.URL
	am.Restart()
	require.Equal(t, url, am.URL)
	got, err = am.Alerts(t.Context())
	require.NoError(t, err)
	require.Empty(t, got, "a restarted Alertmanager keeps no alerts")
}

// TestStopRefuses: while stopped, a request fails at once (no answer)
// rather than waiting for the next run, and Restart serves again on the
// same address.
func TestStopRefuses(t *testing.T) {
	am := amtest.Start(t)
	am.Stop()
	am.Stop() // idempotent
	resp, err := http.Post(am.URL+"/api/v2/alerts", "application/json", strings.NewReader(`[]`))
	if err == nil {
		resp.Body.Close()
		t.Fatalf("a stopped Alertmanager answered %s", resp.Status)
	}
	am.Restart()
	got, err := am.Alerts(t.Context())
	require.NoError(t, err)
	require.Empty(t, got)
}
