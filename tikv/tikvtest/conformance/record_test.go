package conformance

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kvops/operator/internal/realpd"
)

// recordEnv names the folder TestRecord writes its recordings to; without
// it, TestRecord skips. The recordings in ../testdata/realpd came from it.
const recordEnv = "KVOPS_REALPD_RECORD"

// recorder writes PD's answers as the shared fixtures' exchanges
// (internal/pdfixture reads them back).
type recorder struct {
	t   *testing.T
	c   *realpd.Cluster
	dir string
}

// exchange sends a request to member m and returns the answer's status
// and body; with name set, it saves the exchange as name.json.
func (r *recorder) exchange(name string, m *realpd.Member, method, path string, body []byte) (int, []byte) {
	r.t.Helper()
	status, hdr, out, err := r.c.DoMember(context.Background(), m, method, path, body)
	require.NoError(r.t, err)
	if name == "" {
		return status, out
	}
	u, err := url.Parse(m.URL())
	require.NoError(r.t, err)
	port, err := strconv.Atoi(u.Port())
	require.NoError(r.t, err)
	ex := map[string]any{
		"request": map[string]any{"method": method, "path": path, "body": json.RawMessage("null"), "port": port},
		"response": map[string]any{
			"status": status, "content_type": hdr.Get("Content-Type"),
		},
	}
	if body != nil {
		ex["request"].(map[string]any)["body"] = json.RawMessage(body)
	}
	resp := ex["response"].(map[string]any)
	if json.Valid(out) && strings.HasPrefix(hdr.Get("Content-Type"), "application/json") {
		resp["body_kind"], resp["body"] = "json", json.RawMessage(out)
	} else {
		resp["body_kind"], resp["body"] = "text", string(out)
	}
	b, err := json.MarshalIndent(ex, "", " ")
	require.NoError(r.t, err)
	require.NoError(r.t, os.WriteFile(filepath.Join(r.dir, name+".json"), append(b, '\n'), 0o644))
	return status, out
}

// TestRecord records what a real PD answers where tikvtest had no
// recording (../testdata/realpd): what a follower answers while its leader
// is dead, and the stores it shows once another member leads, judged by
// the heartbeat PD wrote to its storage when the stores first heartbeat:
// recent (Up) in a cluster seconds old, older than max-store-down-time
// (Down) in one a minute old.
func TestRecord(t *testing.T) {
	dir := os.Getenv(recordEnv)
	if dir == "" {
		t.Skip(recordEnv + " is not set: nothing to record")
	}
	require.NoError(t, os.MkdirAll(dir, 0o755))
	c := realpd.Start(t, realpd.Config{Members: 3, Stores: stores, Regions: regions, MaxStoreDownTime: maxStoreDownTime})
	r := &recorder{t: t, c: c, dir: dir}
	ctx := context.Background()
	for _, age := range []struct {
		name  string
		after time.Duration // since the stores' first heartbeats
	}{{"up", 0}, {"down", maxStoreDownTime + 10*time.Second}} {
		if wait := time.Until(c.ReadyAt().Add(age.after)); wait > 0 {
			time.Sleep(wait)
		}
		l, err := c.Leader(ctx)
		require.NoError(t, err)
		var follower *realpd.Member
		for _, m := range c.Members() {
			if m != l {
				follower = m
			}
		}
		require.NoError(t, l.Kill())
		killed := time.Now()
		during, after := false, false
		for !after {
			require.Less(t, time.Since(killed), time.Minute, "no new leader")
			status, out := r.exchange("", follower, "GET", "/pd/api/v1/stores", nil)
			switch {
			case status != http.StatusOK && !during && age.name == "up":
				during = true
				for _, what := range []string{"stores", "leader", "members", "config", "health"} {
					r.exchange(what+"-follower-during-election", follower, "GET", "/pd/api/v1/"+what, nil)
				}
			case status == http.StatusOK:
				after = true
				r.exchange("stores-follower-after-election-"+age.name, follower, "GET", "/pd/api/v1/stores", nil)
				t.Logf("%s: a leader after %v: %s", age.name, time.Since(killed).Round(100*time.Millisecond), summary(out))
			}
			time.Sleep(100 * time.Millisecond)
		}
		require.NoError(t, l.Start(ctx))
		wctx, cancel := context.WithTimeout(ctx, time.Minute)
		require.NoError(t, c.WaitReady(wctx))
		cancel()
	}
}

// summary writes each store's id, state, capacity and last heartbeat.
func summary(b []byte) string {
	var v struct {
		Stores []struct {
			Store struct {
				ID    int    `json:"id"`
				State string `json:"state_name"`
			} `json:"store"`
			Status struct {
				Capacity      string `json:"capacity"`
				LastHeartbeat string `json:"last_heartbeat_ts"`
			} `json:"status"`
		} `json:"stores"`
	}
	_ = json.Unmarshal(b, &v)
	var out []string
	for _, s := range v.Stores {
		out = append(out, fmt.Sprintf("%d:%s:%s:%s", s.Store.ID, s.Store.State, s.Status.Capacity, s.Status.LastHeartbeat))
	}
	return strings.Join(out, " ")
}
