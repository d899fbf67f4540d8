package alertmanager_test

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"time"

	"github.com/kvops/operator/invariant"
	"github.com/kvops/operator/invariant/alertmanager"
)

// A store goes down: its alert is sent when it fires, re-sent after the
// resend delay, and sent resolved when the store is back. An httptest
// server stands in for Alertmanager and prints what it receives.
func Example() {
	am := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var alerts []struct {
			Labels           map[string]string
			Annotations      map[string]string
			StartsAt, EndsAt time.Time
		}
		if err := json.NewDecoder(r.Body).Decode(&alerts); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		for _, a := range alerts {
			fmt.Printf("  %s %s: %v %q, %s to %s\n", r.Method, r.URL.Path, labelList(a.Labels),
				a.Annotations["summary"], a.StartsAt.Format("15:04:05"), a.EndsAt.Format("15:04:05"))
		}
	}))
	defer am.Close()

	down := false
	ev, err := invariant.New([]invariant.Invariant{{
		Name: "store_up", Severity: invariant.SeverityCritical, Grace: time.Minute,
		Check: func(context.Context, time.Time) ([]invariant.Finding, error) {
			if !down {
				return nil, nil
			}
			return []invariant.Finding{{Key: "store=4", Message: "store 4 is down", Labels: map[string]string{"store": "4"}}}, nil
		},
	}}, invariant.Config{})
	if err != nil {
		fmt.Println(err)
		return
	}
	snd, err := alertmanager.New(alertmanager.Config{
		URLs:               []string{am.URL},
		EvaluationInterval: 15 * time.Second, // EndsAt = now + 4 × max(15s, 1m)
		ExternalLabels:     map[string]string{"cluster": "prod"},
	})
	if err != nil {
		fmt.Println(err)
		return
	}

	ctx := context.Background()
	start := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	tick := func(at time.Duration) {
		now := start.Add(at)
		if _, err := ev.Evaluate(ctx, now); err != nil {
			fmt.Println(err)
			return
		}
		fmt.Printf("%s queued %d\n", now.Format("15:04:05"), snd.Update(now, ev.Alerts()))
		if err := snd.Flush(ctx); err != nil {
			fmt.Println(err)
		}
	}
	down = true
	tick(0)                // pending: not sent
	tick(time.Minute)      // fires: sent
	tick(90 * time.Second) // sent 30s ago: not again
	tick(135 * time.Second)
	down = false
	tick(150 * time.Second) // resolved: sent with its end
	// Output:
	// 12:00:00 queued 0
	// 12:01:00 queued 1
	//   POST /api/v2/alerts: [alertname=store_up cluster=prod key=store=4 severity=critical store=4] "store 4 is down", 12:01:00 to 12:05:00
	// 12:01:30 queued 0
	// 12:02:15 queued 1
	//   POST /api/v2/alerts: [alertname=store_up cluster=prod key=store=4 severity=critical store=4] "store 4 is down", 12:01:00 to 12:06:15
	// 12:02:30 queued 1
	//   POST /api/v2/alerts: [alertname=store_up cluster=prod key=store=4 severity=critical store=4] "store 4 is down", 12:01:00 to 12:02:30
}

func labelList(m map[string]string) []string {
	var out []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		out = append(out, k+"="+m[k])
	}
	return out
}
