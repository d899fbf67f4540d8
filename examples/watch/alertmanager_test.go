package main

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kvops/operator/internal/amtest"
	"github.com/kvops/operator/internal/promtest"
	"github.com/kvops/operator/internal/syncbuf"
)

// TestRunSimulatedWithAlertmanager runs the main job with -alertmanager
// against a real Alertmanager: once store 2 stops (3 s in, by the fault
// schedule) and its grace period is over, its alert must be listed by
// Alertmanager. The wait is bounded and ends as soon as it is there.
func TestRunSimulatedWithAlertmanager(t *testing.T) {
	promtest.Require(t)
	am := amtest.Start(t)
	var out syncbuf.Buffer
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- run(ctx, options{json: true, alertmanager: am.URL}, &out) }()

	got := am.WaitAlerts(t, 80*time.Second, func(as []amtest.Alert) bool {
		for _, a := range as {
			if a.Labels["alertname"] == "store_health" && a.Labels["store"] == "2" {
				return true
			}
		}
		return false
	})
	cancel()
	err := <-done
	require.True(t, errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded), "run: %v", err)
	for _, a := range got {
		if a.Labels["alertname"] == "store_health" && a.Labels["store"] == "2" {
			require.Equal(t, "key=store=2 severity=critical", "key="+a.Labels["key"]+" severity="+a.Labels["severity"])
			require.NotEmpty(t, a.Annotations["summary"])
		}
	}
	require.Contains(t, out.String(), `"message":"sending alerts to Alertmanager at `+am.URL)
}
