package pdclient

import (
	"context"
	"errors"
	"io"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/kvops/operator/internal/errs"
)

// recordedHolder is the task that held the lock in the recording of
// testdata/pd-maintenance.
var recordedHolder = MaintenanceTask{Type: "tikv_restart", ID: "store-1", StartTimestamp: 1796612571,
	Description: "rolling restart of store 1 by kvops"}

func startTask(typ, id, desc string) func(context.Context, *Client) (any, error) {
	return write(func(ctx context.Context, c *Client) error { return c.StartMaintenance(ctx, typ, id, desc) })
}

func finishTask(typ, id string) func(context.Context, *Client) (any, error) {
	return write(func(ctx context.Context, c *Client) error { return c.FinishMaintenance(ctx, typ, id) })
}

func taskOf(typ string) func(context.Context, *Client) (any, error) {
	return call(func(ctx context.Context, c *Client) (*MaintenanceTask, error) { return c.MaintenanceTaskOf(ctx, typ) })
}

var tasks = method((*Client).MaintenanceTasks)

// TestMaintenanceRecorded replays every exchange of the recorded
// maintenance lock and halt-scheduling (testdata/pd-maintenance): what
// each method returns, and for a refusal its sentinels, the holder PD
// named, and that it changed nothing (NotApplied).
func TestMaintenanceRecorded(t *testing.T) {
	holder := recordedHolder
	cases := map[string]struct {
		call    func(context.Context, *Client) (any, error)
		want    any
		wantErr error
		holder  *MaintenanceTask // of the *MaintenanceConflictError
	}{
		"maintenance-start":               {call: startTask("tikv_restart", "store-1", "rolling restart of store 1 by kvops")},
		"maintenance-same-again":          {call: startTask("tikv_restart", "store-1", "again"), wantErr: ErrPrecondition, holder: &holder},
		"maintenance-conflict-other-id":   {call: startTask("tikv_restart", "store-2", "second task"), wantErr: ErrPrecondition, holder: &holder},
		"maintenance-conflict-other-type": {call: startTask("pd_upgrade", "pd-1", ""), wantErr: ErrPrecondition, holder: &holder},
		"maintenance-list":                {call: tasks, want: []MaintenanceTask{holder}},
		"maintenance-none":                {call: tasks, want: []MaintenanceTask{}},
		"maintenance-after-delete":        {call: tasks, want: []MaintenanceTask{}},
		"maintenance-by-type":             {call: taskOf("tikv_restart"), want: &holder},
		"maintenance-by-other-type":       {call: taskOf("pd_upgrade"), wantErr: ErrNotFound},
		"maintenance-delete":              {call: finishTask("tikv_restart", "store-1")},
		"maintenance-delete-again":        {call: finishTask("tikv_restart", "store-1"), wantErr: ErrNotFound},
		"maintenance-delete-wrong-id":     {call: finishTask("tikv_restart", "store-2"), wantErr: ErrPrecondition, holder: &holder},
		"maintenance-delete-wrong-type":   {call: finishTask("pd_upgrade", "store-1"), wantErr: ErrNotFound},
		"config-halt-scheduling-on": {call: write(func(ctx context.Context, c *Client) error {
			return c.SetHaltScheduling(ctx, true)
		})},
		"config-halt-scheduling-off": {call: write(func(ctx context.Context, c *Client) error {
			return c.SetHaltScheduling(ctx, false)
		})},
		"config-schedule-halted": {call: call(func(ctx context.Context, c *Client) (bool, error) {
			sc, err := c.ScheduleConfig(ctx)
			if err != nil {
				return false, err
			}
			return sc.HaltScheduling, nil
		}), want: true},
	}
	files, err := filepath.Glob(filepath.Join("testdata", "pd-maintenance", "*.json"))
	require.NoError(t, err)
	var names []string
	for _, f := range files {
		if n := strings.TrimSuffix(filepath.Base(f), ".json"); !strings.HasPrefix(n, "maintenance-route-missing") {
			names = append(names, n)
		}
	}
	var caseNames []string
	for n := range cases {
		caseNames = append(caseNames, n)
	}
	slices.Sort(names)
	slices.Sort(caseNames)
	require.Equal(t, names, caseNames, "every recording has a case, and every case a recording")

	for _, name := range names {
		tt := cases[name]
		t.Run(name, func(t *testing.T) {
			ex := loadExchange(t, "pd-maintenance", name)
			rs := newReplayServer(t, ex)
			c := newTestClient(t, rs.srv.URL)
			got, err := tt.call(t.Context(), c)
			require.Equal(t, 1, rs.count("", ""), "requests sent")
			if tt.wantErr == nil {
				require.NoError(t, err)
				if tt.want != nil {
					if d := cmp.Diff(tt.want, got); d != "" {
						t.Errorf("(-want +got):\n%s", d)
					}
				}
				return
			}
			require.ErrorIs(t, err, tt.wantErr)
			for _, other := range []error{ErrNotFound, ErrPrecondition, ErrNotSupported, ErrServer} {
				if other != tt.wantErr {
					require.NotErrorIs(t, err, other)
				}
			}
			require.True(t, NotApplied(err), "PD refused it: nothing changed")
			var ae *APIError
			require.ErrorAs(t, err, &ae)
			require.Equal(t, ex.Response.Status, ae.Status)
			var ce *MaintenanceConflictError
			if tt.holder == nil {
				require.False(t, errors.As(err, &ce), "a %d is no conflict", ex.Response.Status)
				return
			}
			require.ErrorAs(t, err, &ce)
			if d := cmp.Diff(*tt.holder, ce.Holder); d != "" {
				t.Errorf("holder (-want +got):\n%s", d)
			}
			require.ErrorIs(t, err, errs.ErrPrecondition, "matches subject.ErrPrecondition")
			require.Contains(t, err.Error(), "tikv_restart/store-1", "the error names the holder")
		})
	}
}

// TestMaintenanceRouteMissing: a PD without the maintenance routes
// answers them with its router's plain-text 404 (recorded from the real
// PD for a route it lacks: API v2's router, and the top-level one a PD
// without API v2 falls through to). Every maintenance method reports it
// as ErrNotSupported, never as "no task" (ErrNotFound), and the list as
// an error, not as an empty lock.
func TestMaintenanceRouteMissing(t *testing.T) {
	for _, name := range []string{"maintenance-route-missing", "maintenance-route-missing-mux"} {
		t.Run(name, func(t *testing.T) {
			ex := loadExchange(t, "pd-maintenance", name)
			require.Equal(t, http.StatusNotFound, ex.Response.Status)
			srv := newRawServer(t, ex.Response.Status, ex.Response.ContentType, string(responseBody(t, ex)))
			c := newTestClient(t, srv.URL)
			for what, call := range map[string]func(context.Context, *Client) (any, error){
				"start": startTask("tikv_restart", "store-1", "x"), "finish": finishTask("tikv_restart", "store-1"),
				"list": tasks, "by type": taskOf("tikv_restart"),
			} {
				got, err := call(t.Context(), c)
				require.ErrorIs(t, err, ErrNotSupported, what)
				require.ErrorIs(t, err, errs.ErrNotSupported, what)
				require.NotErrorIs(t, err, ErrNotFound, what)
				require.True(t, NotApplied(err), what)
				if what == "list" {
					require.Nil(t, got.([]MaintenanceTask), "no list from a PD without the lock")
				}
			}
		})
	}
}

// TestMaintenanceNames: a type or id PD's router cannot take as one path
// segment is refused before anything is sent.
func TestMaintenanceNames(t *testing.T) {
	srv := newRawServer(t, http.StatusOK, "application/json; charset=utf-8", `"Maintenance task started successfully."`)
	c := newTestClient(t, srv.URL)
	for _, tt := range [][2]string{{"", "a"}, {"a", ""}, {"a/b", "c"}, {"a", "b/c"}, {"a", ".."}} {
		err := c.StartMaintenance(t.Context(), tt[0], tt[1], "")
		require.ErrorIs(t, err, ErrBadRequest, "%q", tt)
		require.ErrorIs(t, c.FinishMaintenance(t.Context(), tt[0], tt[1]), ErrBadRequest, "%q", tt)
	}
	_, err := c.MaintenanceTaskOf(t.Context(), "a/b")
	require.ErrorIs(t, err, ErrBadRequest)
	require.Zero(t, srv.hits.Load(), "nothing sent")
	// A name PD takes is escaped as one segment.
	require.NoError(t, c.StartMaintenance(t.Context(), "tikv restart", "store 1", "d"))
	require.EqualValues(t, 1, srv.hits.Load())
}

// TestMaintenanceStartSendsText: the description goes as PD reads it,
// the raw body, typed as text.
func TestMaintenanceStartSendsText(t *testing.T) {
	var ct, body string
	srv := newHTTPServer(t, func(w http.ResponseWriter, r *http.Request) {
		ct = r.Header.Get("Content-Type")
		b, _ := io.ReadAll(r.Body)
		body = string(b)
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		_, _ = w.Write([]byte(`"Maintenance task started successfully."`))
	})
	c := newTestClient(t, srv.URL)
	require.NoError(t, c.StartMaintenance(t.Context(), "t", "1", `restart "store 1"`))
	require.Equal(t, `restart "store 1"`, body)
	require.Equal(t, "text/plain; charset=utf-8", ct)
}

func TestMaintenanceTaskString(t *testing.T) {
	require.Equal(t, `tikv_restart/store-1 ("rolling restart of store 1 by kvops"), since 2026-12-07T03:02:51Z`, recordedHolder.String())
	require.Equal(t, "t/1", MaintenanceTask{Type: "t", ID: "1"}.String())
}
