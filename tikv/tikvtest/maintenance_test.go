package tikvtest

import (
	"encoding/json"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/kvops/operator/internal/pdfixture"
)

// replayRecorded sends the recorded request of testdata/pd-maintenance/name
// to the simulator and checks its answer against the recording: status,
// content type, a JSON string (PD's message) word for word, an object or
// array by shape, and the fields of existing_task but its start time.
func replayRecorded(t *testing.T, cl *client, name string) []byte {
	t.Helper()
	ex, err := pdfixture.Read(filepath.Join("testdata", "pd-maintenance", name+".json"))
	require.NoError(t, err)
	var body any
	if b := ex.Request.Body; len(b) > 0 && string(b) != "null" {
		var s string
		if json.Unmarshal(b, &s) == nil {
			body = []byte(s) // a text body: the maintenance task's description
		} else {
			body = []byte(b)
		}
	}
	code, hdr, got := cl.do(ex.Request.Method, ex.Request.Path, body)
	require.Equal(t, ex.Response.Status, code, "%s: status; body %s", name, got)
	require.Equal(t, ex.Response.ContentType, hdr.Get("Content-Type"), "%s: content type", name)
	want, err := ex.ResponseBody()
	require.NoError(t, err)
	if ex.Response.BodyKind == "text" || want[0] == '"' {
		require.Equal(t, string(want), string(got), "%s: body", name)
		return got
	}
	var wantV, gotV any
	require.NoError(t, json.Unmarshal(want, &wantV))
	require.NoError(t, json.Unmarshal(got, &gotV), "%s: %s", name, got)
	if d := cmp.Diff(shape(wantV, false), shape(gotV, true)); d != "" {
		t.Errorf("%s: shape (-recorded +sim):\n%s", name, d)
	}
	if w, ok := wantV.(map[string]any); ok && w["existing_task"] != nil {
		wt, gt := w["existing_task"].(map[string]any), gotV.(map[string]any)["existing_task"].(map[string]any)
		delete(wt, "start_timestamp")
		delete(gt, "start_timestamp")
		require.Equal(t, wt, gt, "%s: existing_task", name)
		require.Equal(t, w["error"], gotV.(map[string]any)["error"], "%s: PD's message", name)
	}
	return got
}

// TestMaintenanceLockRecorded plays the recorded life of PD's maintenance
// lock, in the order it was recorded, against the simulator: one task for
// the whole cluster, 409 naming the holder for any second PUT (the same
// one again included), DELETE with another id 409 and with another type
// 404, the list 404 when empty.
func TestMaintenanceLockRecorded(t *testing.T) {
	c, cl := newStarted(t)
	for _, name := range []string{
		"maintenance-none", "maintenance-start", "maintenance-same-again", "maintenance-conflict-other-id",
		"maintenance-conflict-other-type", "maintenance-list", "maintenance-by-type", "maintenance-by-other-type",
		"maintenance-delete-wrong-id", "maintenance-delete-wrong-type", "maintenance-delete",
		"maintenance-delete-again", "maintenance-after-delete",
	} {
		replayRecorded(t, cl, name)
	}
	// The start time is the cluster's, in unix seconds.
	cl.mustOK("PUT", "/pd/api/v2/maintenance/tikv_restart/a", []byte("d"))
	var tasks []maintenanceTask
	cl.get("/pd/api/v2/maintenance", &tasks)
	require.Equal(t, []maintenanceTask{{Type: "tikv_restart", ID: "a", StartTimestamp: c.Now().Unix(), Description: "d"}}, tasks)
	// No TTL: hours later it is still held.
	c.Advance(48 * time.Hour)
	cl.get("/pd/api/v2/maintenance", &tasks)
	require.Len(t, tasks, 1)
}

// TestMaintenanceEndpointMissing: a simulated PD older than the lock
// answers its routes as the real one answers a route it lacks (recorded:
// maintenance-route-missing), for every method, and so does any other
// API v2 path, with or without the lock.
func TestMaintenanceEndpointMissing(t *testing.T) {
	c, cl := newStarted(t)
	ex, err := pdfixture.Read(filepath.Join("testdata", "pd-maintenance", "maintenance-route-missing.json"))
	require.NoError(t, err)
	want, err := ex.ResponseBody()
	require.NoError(t, err)
	check := func(method, path string) {
		t.Helper()
		code, hdr, got := cl.do(method, path, nil)
		require.Equal(t, http.StatusNotFound, code, "%s %s", method, path)
		require.Equal(t, ex.Response.ContentType, hdr.Get("Content-Type"))
		require.Equal(t, string(want), string(got))
	}
	check(ex.Request.Method, ex.Request.Path)
	check("PUT", "/pd/api/v2/maintenance")
	check("GET", "/pd/api/v2/keyspaces")
	check("PUT", "/pd/api/v2/maintenance/t/a%2Fb") // gin routes the decoded path

	cl.mustOK("PUT", "/pd/api/v2/maintenance/t/1", nil)
	c.SetMaintenanceEndpoint(false)
	check("GET", "/pd/api/v2/maintenance")
	check("GET", "/pd/api/v2/maintenance/t")
	check("PUT", "/pd/api/v2/maintenance/t/2")
	check("DELETE", "/pd/api/v2/maintenance/t/1")
	c.SetMaintenanceEndpoint(true)
	var tasks []maintenanceTask
	cl.get("/pd/api/v2/maintenance", &tasks)
	require.Len(t, tasks, 1, "the task held before is held again")
}
