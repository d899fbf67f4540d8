package conformance

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kvops/operator/internal/pdfixture"
	"github.com/kvops/operator/pdclient"
	"github.com/kvops/operator/subject"
	"github.com/kvops/operator/tikv"
)

// noLeaderAnswer is what the library makes of the real PD's answer while
// it has no leader (recorded: ../testdata/realpd/stores-follower-during-election):
// the outcome of an action whose first read gets it. Both backends must
// give that outcome, whatever class pdclient gives PD's ErrRedirect.
var noLeaderAnswer = sync.OnceValues(func() (outcome, error) {
	ex, err := pdfixture.Read(filepath.Join("..", "testdata", "realpd", "stores-follower-during-election.json"))
	if err != nil {
		return outcome{}, err
	}
	body, err := ex.ResponseBody()
	if err != nil {
		return outcome{}, err
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", ex.Response.ContentType)
		w.WriteHeader(ex.Response.Status)
		_, _ = w.Write(body)
	}))
	defer srv.Close()
	hc := &http.Client{Transport: &http.Transport{}}
	defer hc.CloseIdleConnections()
	sub, err := tikv.New(tikv.Config{DisableMetrics: true, PD: pdclient.Config{Endpoints: []string{srv.URL}, HTTPClient: hc}})
	if err != nil {
		return outcome{}, err
	}
	return outcomeOf(sub.SetScheduleLimit(context.Background(), subject.LeaderLimit, 8)), nil
})

// watchInvariants looks at the invariants every second of the backend's
// time until every store reports to PD (Up, with its sizes) and they find
// nothing, or fails the test after bound. It returns the violations they
// found on the way (false alarms, in the scenarios that use it) and the
// sentinels of the errors their checks met.
func (e *env) watchInvariants(bound time.Duration) (alarms, errs []string) {
	e.t.Helper()
	deadline := e.c.now().Add(bound)
	seen := map[string]bool{}
	for {
		inv := e.invariants(e.sub)
		clear := true
		for name, f := range inv {
			if f.Err != "" && !seen[f.Err] {
				seen[f.Err] = true
				errs = append(errs, f.Err)
			}
			if len(f.Violated) > 0 {
				alarms = append(alarms, fmt.Sprintf("%s %v at %v", name, f.Violated, e.c.now().Format(time.TimeOnly)))
			}
			clear = clear && f.Err == "" && len(f.Violated) == 0 && len(f.Unknown) == 0
		}
		if clear && e.reported() {
			sort.Strings(errs)
			return alarms, errs
		}
		if !e.c.now().Before(deadline) {
			e.t.Fatalf("the stores did not all report to PD within %v: %v", bound, inv)
		}
		require.NoError(e.t, e.c.sleep(e.ctx, time.Second))
	}
}

// quiet is a probe's outcome when the invariants raised no alarm; why
// names the errors their checks met, when the scenario compares those.
func quiet(alarms []string, why string) outcome {
	if len(alarms) > 0 {
		return outcome{Kind: "alarm", Why: strings.Join(alarms, "; ")}
	}
	return outcome{Kind: "no alarm", Why: why}
}

// watchElection watches the invariants through a PD leader change: the
// errors their checks met while PD had no leader, and no false alarm
// before every store reported to the new leader.
func watchElection(e *env) outcome {
	alarms, errs := e.watchInvariants(90 * time.Second)
	return quiet(alarms, "errors "+strings.Join(errs, ","))
}

// reported reports whether PD shows every store Up with its sizes: every
// store has heartbeaten to the PD leader.
func (e *env) reported() bool {
	st, err := e.sub.Stores(e.ctx)
	if err != nil {
		return false
	}
	for _, s := range st {
		if s.State != subject.StateUp || s.Capacity == 0 {
			return false
		}
	}
	return len(st) == stores
}

// pdLeaderChange is the scenario of a PD leader's death: an action refused
// with what PD answers without a leader, then no false alarm until every
// store reports to the new leader. The killed member is started again by
// the real backend's reset.
var pdLeaderChange = scenario{
	name: "PD leader change",
	steps: []step{
		do("kill the PD leader", func(e *env) { e.c.changePDLeader(e.t) }),
		{name: "set a limit while PD has no leader", act: func(e *env) (subject.Result, error) {
			return e.sub.SetScheduleLimit(e.ctx, subject.LeaderLimit, 8)
		}, wantf: func(t *testing.T) outcome {
			o, err := noLeaderAnswer()
			require.NoError(t, err)
			return o
		}},
		{name: "the invariants until every store reports", probe: watchElection, wantf: func(t *testing.T) outcome {
			o, err := noLeaderAnswer()
			require.NoError(t, err)
			return outcome{Kind: "no alarm", Why: "errors " + o.Why}
		}},
	},
}

// freshCluster is the scenario of a cluster being born: PD lists every
// store Down, with no heartbeat, until its first one; store health holds
// its judgement of such stores (tikv.Thresholds.StoreStartGrace), so
// nothing fires. The real PD also answers errors before the simulator
// bootstraps it, which tikvtest does not model: the errors are not
// compared.
var freshCluster = scenario{
	name:  "a cluster being born",
	fresh: true,
	steps: []step{
		{name: "the invariants until every store reports", want: outcome{Kind: "no alarm"}, probe: func(e *env) outcome {
			alarms, _ := e.watchInvariants(2 * time.Minute)
			return quiet(alarms, "")
		}},
	},
}
