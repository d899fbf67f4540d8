package pdclient

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/kvops/operator/internal/errs"
)

// apiV2Prefix is the root of PD's API v2, where the maintenance lock
// lives.
const apiV2Prefix = "/pd/api/v2"

// PD's maintenance lock (RFC-0118; PD's server/apiv2/handlers/maintenance.go):
// one task at a time for the whole cluster, whatever its type, shared by
// every tool that maintains the cluster. As recorded from the real PD
// (testdata/pd-maintenance):
//
//   - PUT /pd/api/v2/maintenance/{type}/{id} with a text body (the
//     description) starts a task: 200 and a JSON string; any second PUT,
//     even of the same type and id, is 409 with {"error", "existing_task"}:
//     it is not re-entrant.
//   - GET /pd/api/v2/maintenance lists the tasks (an array), or answers
//     404 with a JSON string when there is none; GET .../{type} answers the
//     task of that type, or 404 with a JSON string.
//   - DELETE .../{type}/{id} ends it: 200; with another id of the same
//     type 409 with existing_task ("Task ID does not match the current
//     task"); when no task of that type runs (none at all, or one of
//     another type), 404 with a JSON string.
//   - There is no TTL: a holder that dies keeps the lock until someone
//     deletes it.
//
// A PD without these routes (older than the lock) answers 404 with a
// plain-text "404 page not found" (the router's own answer, recorded as
// maintenance-route-missing*), never a JSON string: the client tells the
// two apart and reports the first as ErrNotSupported.

// MaintenanceTask is a task holding PD's maintenance lock.
type MaintenanceTask struct {
	// Type is the kind of task ("tikv_restart"), ID the holder's name for
	// it; together they name the task.
	Type string `json:"type"`
	ID   string `json:"id"`
	// StartTimestamp is when the task started, in unix seconds.
	StartTimestamp int64 `json:"start_timestamp"`
	// Description is the text the holder gave when it started the task.
	Description string `json:"description"`
}

// Started returns StartTimestamp as a time, zero when PD gave none.
func (t MaintenanceTask) Started() time.Time {
	if t.StartTimestamp == 0 {
		return time.Time{}
	}
	return time.Unix(t.StartTimestamp, 0).UTC()
}

// String returns e.g. `tikv_restart/store-1 ("rolling restart of store
// 1"), since 2026-12-07T03:02:51Z`.
func (t MaintenanceTask) String() string {
	s := t.Type + "/" + t.ID
	if t.Description != "" {
		s += fmt.Sprintf(" (%q)", errs.Clip(t.Description, 80))
	}
	if at := t.Started(); !at.IsZero() {
		s += ", since " + at.Format(time.RFC3339)
	}
	return s
}

// MaintenanceConflictError is PD's 409 answer to a maintenance request:
// another task holds the lock (StartMaintenance), or the task of that
// type has another id (FinishMaintenance). Nothing was changed. It matches
// ErrPrecondition (and subject.ErrPrecondition); Unwrap gives PD's
// *APIError.
type MaintenanceConflictError struct {
	// Holder is the task PD says holds the lock (its existing_task).
	Holder MaintenanceTask
	// Err is PD's answer.
	Err *APIError
}

// Error names the holder and PD's message.
func (e *MaintenanceConflictError) Error() string {
	return fmt.Sprintf("pdclient: %s %s%s: status %d: %s: held by %s",
		e.Err.Method, e.Err.Endpoint, e.Err.Path, e.Err.Status, errs.Clip(e.Err.Message, errs.MaxMessage), e.Holder)
}

// Unwrap returns PD's answer.
func (e *MaintenanceConflictError) Unwrap() error { return e.Err }

// StartMaintenance starts a maintenance task: it takes PD's maintenance
// lock for the whole cluster, with description as the task's text. When
// another task holds it (whatever its type, and even when it is this very
// type and id: the lock is not re-entrant) the error is a
// *MaintenanceConflictError naming the holder. A PD without the lock
// answers with an error matching ErrNotSupported. typ and id must be
// non-empty and hold no "/" (PD's router would not route them), else the
// error matches ErrBadRequest and nothing is sent. A lost answer matches
// ErrUnconfirmed: the lock may be held by this task; FinishMaintenance
// with the same type and id releases it either way.
//
// PD API: PUT /pd/api/v2/maintenance/{task_type}/{task_id}
func (c *Client) StartMaintenance(ctx context.Context, typ, id, description string) error {
	path, err := maintenancePath(typ, id)
	if err != nil {
		return err
	}
	r := request{method: http.MethodPut, path: path, body: []byte(description), contentType: "text/plain; charset=utf-8"}
	return maintenanceError(c.do(ctx, r, discard))
}

// FinishMaintenance ends a maintenance task and releases the lock, only
// when the task of that type has that id: PD refuses another id with a
// *MaintenanceConflictError naming the task that holds it, and answers
// with an error matching ErrNotFound when no task of that type runs (none
// at all, or one of another type). So it never releases another tool's
// lock. typ and id as for StartMaintenance.
//
// PD API: DELETE /pd/api/v2/maintenance/{task_type}/{task_id}
func (c *Client) FinishMaintenance(ctx context.Context, typ, id string) error {
	path, err := maintenancePath(typ, id)
	if err != nil {
		return err
	}
	return maintenanceError(c.do(ctx, request{method: http.MethodDelete, path: path}, discard))
}

// MaintenanceTasks returns the tasks holding the maintenance lock: at most
// one, as PD runs one at a time; none (and no error) when the lock is
// free. A PD without the lock answers with an error matching
// ErrNotSupported.
//
// PD API: GET /pd/api/v2/maintenance
func (c *Client) MaintenanceTasks(ctx context.Context) ([]MaintenanceTask, error) {
	var out []MaintenanceTask
	err := maintenanceError(c.do(ctx, request{method: http.MethodGet, path: apiV2Prefix + "/maintenance"}, decodeInto(&out)))
	switch {
	case errors.Is(err, ErrNotFound):
		return []MaintenanceTask{}, nil
	case err != nil:
		return nil, err
	}
	if out == nil {
		out = []MaintenanceTask{}
	}
	return out, nil
}

// MaintenanceTaskOf returns the task of type typ that holds the
// maintenance lock. When none does (the lock is free, or held by a task
// of another type), the error matches ErrNotFound; a PD without the lock
// answers with an error matching ErrNotSupported.
//
// PD API: GET /pd/api/v2/maintenance/{task_type}
func (c *Client) MaintenanceTaskOf(ctx context.Context, typ string) (*MaintenanceTask, error) {
	if err := checkMaintenanceName("type", typ); err != nil {
		return nil, err
	}
	var out MaintenanceTask
	r := request{method: http.MethodGet, path: apiV2Prefix + "/maintenance/" + url.PathEscape(typ)}
	if err := maintenanceError(c.do(ctx, r, decodeInto(&out))); err != nil {
		return nil, err
	}
	return &out, nil
}

func maintenancePath(typ, id string) (string, error) {
	if err := errors.Join(checkMaintenanceName("type", typ), checkMaintenanceName("id", id)); err != nil {
		return "", err
	}
	return apiV2Prefix + "/maintenance/" + url.PathEscape(typ) + "/" + url.PathEscape(id), nil
}

// checkMaintenanceName refuses a task type or id PD's router cannot take
// as one path segment: it decodes %2F before routing (the real PD answered
// a PUT of "a%2Fb" with its plain-text 404), and an empty one matches
// another route.
func checkMaintenanceName(what, s string) error {
	if s == "" || strings.Contains(s, "/") || s == "." || s == ".." {
		return invalidArg("maintenance task %s %q: want a non-empty name without \"/\"", what, s)
	}
	return nil
}

// maintenanceError reads a maintenance answer's error: a 409 becomes a
// *MaintenanceConflictError, and a 404 that is not PD's JSON-string
// answer (the router's plain-text "404 page not found": a PD without the
// maintenance routes) matches ErrNotSupported instead of ErrNotFound.
func maintenanceError(err error) error {
	// Both statuses are refusals, which the client returns as they are.
	ae, ok := err.(*APIError)
	if !ok {
		return err
	}
	switch ae.Status {
	case http.StatusNotFound:
		if body := bytes.TrimSpace(ae.Body); len(body) > 0 && body[0] == '"' {
			return err // PD's handler: no such task
		}
		cp := *ae
		cp.kind = ErrNotSupported
		return &cp
	case http.StatusConflict:
		var conflict struct {
			ExistingTask *MaintenanceTask `json:"existing_task"`
		}
		if json.Unmarshal(ae.Body, &conflict) != nil || conflict.ExistingTask == nil {
			// Not PD's shape (a proxy's?): a refusal all the same.
			cp := *ae
			cp.kind = ErrPrecondition
			return &cp
		}
		cp := *ae
		cp.kind = ErrPrecondition
		return &MaintenanceConflictError{Holder: *conflict.ExistingTask, Err: &cp}
	}
	return err
}
