package alertmanager_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kvops/operator/invariant"
	"github.com/kvops/operator/invariant/alertmanager"
)

// TestExportRestore: alerts waiting for a down Alertmanager survive a
// restart of the sender, and restored last-sent times keep the new sender
// from re-sending before the resend delay.
func TestExportRestore(t *testing.T) {
	up := false
	rc := newReceiver(t, func(int) int {
		if up {
			return http.StatusOK
		}
		return http.StatusServiceUnavailable
	})
	cfg := alertmanager.Config{URLs: []string{rc.URL}}
	before, err := alertmanager.New(cfg)
	require.NoError(t, err)
	alerts := firingAlerts(2)
	resolved := firingAlerts(3)[2]
	resolved.State, resolved.FiredAt, resolved.ResolvedAt = invariant.StateResolved, t0.Add(-time.Minute), t0.Add(-time.Second)
	alerts = append(alerts, resolved)
	require.Equal(t, 3, before.Update(t0, alerts))
	require.ErrorIs(t, before.Flush(context.Background()), alertmanager.ErrUnavailable)
	saved, err := before.Export()
	require.NoError(t, err)

	after, err := alertmanager.New(cfg)
	require.NoError(t, err)
	res, err := after.Restore(saved)
	require.NoError(t, err)
	require.Equal(t, alertmanager.RestoreResult{Records: 3, Queued: 3}, res)
	require.Equal(t, 0, after.Update(t0.Add(30*time.Second), alerts), "not due again yet")

	up = true
	require.NoError(t, after.Flush(context.Background()))
	got := rc.all()[len(rc.all())-3:]
	require.Equal(t, []string{"k000", "k001", "k002"}, []string{got[0].Labels["key"], got[1].Labels["key"], got[2].Labels["key"]})
	require.True(t, got[2].EndsAt.Equal(resolved.ResolvedAt), "the resolution survives: %v", got[2].EndsAt)
	require.True(t, got[0].EndsAt.Equal(t0.Add(4*time.Minute)))
	require.Equal(t, 3, after.Update(t0.Add(61*time.Second), alerts), "due one resend delay after the first send")

	// The embedding form is the same document.
	b, err := json.Marshal(after)
	require.NoError(t, err)
	require.True(t, json.Valid(b))
}

// TestExportIncludesInflight: a batch being sent when the state is saved
// is saved too, since its send may yet fail.
func TestExportIncludesInflight(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	rc := newReceiver(t, func(int) int { close(entered); <-release; return http.StatusServiceUnavailable })
	snd, err := alertmanager.New(alertmanager.Config{URLs: []string{rc.URL}})
	require.NoError(t, err)
	snd.Update(t0, firingAlerts(1))
	done := make(chan error)
	go func() { done <- snd.Flush(context.Background()) }()
	<-entered
	saved, err := snd.Export()
	require.NoError(t, err)
	close(release)
	require.Error(t, <-done)
	var st struct {
		Queues []struct {
			Alerts []json.RawMessage `json:"alerts"`
		} `json:"queues"`
	}
	require.NoError(t, json.Unmarshal(saved, &st))
	require.Len(t, st.Queues[0].Alerts, 1)
}

func TestRestoreDropsUnknownAlertmanagers(t *testing.T) {
	a, err := alertmanager.New(alertmanager.Config{URLs: []string{"http://127.0.0.1:1", "http://127.0.0.1:2"}})
	require.NoError(t, err)
	a.Update(t0, firingAlerts(2))
	saved, err := a.Export()
	require.NoError(t, err)
	b, err := alertmanager.New(alertmanager.Config{URLs: []string{"http://127.0.0.1:2", "http://127.0.0.1:3"}, QueueCapacity: 1})
	require.NoError(t, err)
	res, err := b.Restore(saved)
	require.NoError(t, err)
	require.Equal(t, alertmanager.RestoreResult{Records: 2, Queued: 1, Dropped: []alertmanager.DroppedQueue{{URL: "http://127.0.0.1:1", Alerts: 2}}}, res)
	st := b.Stats()
	require.Equal(t, []int{1, 0}, []int{st[0].Queued, st[1].Queued})
	require.Equal(t, uint64(1), st[0].Dropped, "over capacity: the oldest is dropped")
}

func TestRestoreRefusesBadState(t *testing.T) {
	snd, err := alertmanager.New(alertmanager.Config{URLs: []string{"http://127.0.0.1:1"}})
	require.NoError(t, err)
	snd.Update(t0, firingAlerts(1))
	for _, tt := range []struct{ name, state string }{
		{"not JSON", `{`},
		{"version", `{"version":2,"records":[],"queues":[]}`},
		{"repeated record", `{"version":1,"records":[{"invariant":"x","key":"k","lastSentAt":"2026-01-01T00:00:00Z","labels":{"a":"b"}},{"invariant":"x","key":"k","lastSentAt":"2026-01-01T00:00:00Z","labels":{"a":"b"}}],"queues":[]}`},
		{"record without labels", `{"version":1,"records":[{"invariant":"x","key":"k","lastSentAt":"2026-01-01T00:00:00Z"}],"queues":[]}`},
		{"queued alert without labels", `{"version":1,"records":[],"queues":[{"url":"http://127.0.0.1:1","alerts":[{"startsAt":"2026-01-01T00:00:00Z","endsAt":"2026-01-01T00:00:00Z"}]}]}`},
		{"repeated queue", `{"version":1,"records":[],"queues":[{"url":"u","alerts":[]},{"url":"u","alerts":[]}]}`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := snd.Restore([]byte(tt.state))
			require.ErrorIs(t, err, invariant.ErrState)
			require.Equal(t, 1, snd.Stats()[0].Queued, "a refused state changes nothing")
		})
	}
}
