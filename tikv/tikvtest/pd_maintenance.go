package tikvtest

import (
	"io"
	"net/http"
	"strings"
	"time"
)

// PD's maintenance lock (API v2, /pd/api/v2/maintenance; RFC-0118, PD's
// server/apiv2/handlers/maintenance.go), with the recorded shapes
// (testdata/pd-maintenance/maintenance-*): one task at a time for the
// whole cluster, whatever its type; a second PUT, even of the same type
// and id, is 409 with existing_task (not re-entrant); DELETE with another
// id is 409, with another type 404; the list is 404 when there is none;
// no TTL. API v2 answers with gin's JSON ("application/json;
// charset=utf-8", lower case, unlike API v1), and a path it does not
// route with gin's plain-text 404.

const (
	apiV2Prefix   = "/pd/api/v2"
	contentJSONv2 = "application/json; charset=utf-8"
)

// pdAutomation is what PD's own automation and its coordination with
// other tools hold in the simulated PD.
type pdAutomation struct {
	// task holds the maintenance lock; nil when it is free.
	task *maintenanceTask
	// noMaintenance: the routes answer as a PD older than the lock does.
	noMaintenance bool
	// halted is halt-scheduling (see pd_halt.go).
	halted bool
	// stoppingSince is when the store of evict-stopping-store began to
	// report stopping (see stopping.go).
	stoppingSince time.Time
}

// maintenanceTask is PD's endpoint.MaintenanceTask, as PD marshals it.
type maintenanceTask struct {
	Type           string `json:"type"`
	ID             string `json:"id"`
	StartTimestamp int64  `json:"start_timestamp"`
	Description    string `json:"description"`
}

// SetMaintenanceEndpoint, with on false, makes the simulated PD answer the
// maintenance lock's routes as a PD older than the lock does: its router's
// plain-text 404 "404 page not found" (recorded in pdclient's
// testdata/pd-maintenance/maintenance-route-missing), for every method.
// With on true (the default) it serves them again, with the task it held.
func (c *Cluster) SetMaintenanceEndpoint(on bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.pdOwn.noMaintenance = !on
}

// maintenanceRoutes adds API v2's maintenance routes to mux, and gin's
// plain-text 404 for every other API v2 path.
func (c *Cluster) maintenanceRoutes(mux *http.ServeMux) {
	h := func(pattern string, fn func(*http.Request) response) {
		method, path, _ := strings.Cut(pattern, " ")
		mux.HandleFunc(method+" "+apiV2Prefix+path, func(w http.ResponseWriter, r *http.Request) {
			c.mu.Lock()
			resp := routeMissing()
			if !c.pdOwn.noMaintenance && !strings.Contains(r.PathValue("type")+r.PathValue("id"), "/") {
				// gin routes on the decoded path: an escaped "/" in a
				// type or id makes another path, which it does not route.
				resp = fn(r)
			}
			c.mu.Unlock()
			resp.write(w)
		})
	}
	h("PUT /maintenance/{type}/{id}", c.putMaintenance)
	h("GET /maintenance", c.getMaintenance)
	h("GET /maintenance/{type}", c.getMaintenanceOfType)
	h("DELETE /maintenance/{type}/{id}", c.deleteMaintenance)
	mux.HandleFunc(apiV2Prefix+"/", func(w http.ResponseWriter, _ *http.Request) { routeMissing().write(w) })
}

// routeMissing is gin's answer to a path it does not route (recorded:
// maintenance-route-missing).
func routeMissing() response {
	return response{status: http.StatusNotFound, raw: true, rawBody: []byte("404 page not found"), contentType: "text/plain"}
}

func v2JSON(status int, v any) response {
	return response{status: status, body: v, contentType: contentJSONv2}
}

func (c *Cluster) conflict(msg string) response {
	return v2JSON(http.StatusConflict, map[string]any{"error": msg, "existing_task": c.pdOwn.task})
}

func (c *Cluster) putMaintenance(r *http.Request) response {
	desc, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		return v2JSON(http.StatusInternalServerError, err.Error())
	}
	if c.pdOwn.task != nil {
		return c.conflict("Another maintenance task is already running")
	}
	c.pdOwn.task = &maintenanceTask{Type: r.PathValue("type"), ID: r.PathValue("id"), StartTimestamp: c.now.Unix(), Description: string(desc)}
	return v2JSON(http.StatusOK, "Maintenance task started successfully.")
}

func (c *Cluster) getMaintenance(*http.Request) response {
	if c.pdOwn.task == nil {
		return v2JSON(http.StatusNotFound, "No maintenance task is running")
	}
	return v2JSON(http.StatusOK, []*maintenanceTask{c.pdOwn.task})
}

func (c *Cluster) getMaintenanceOfType(r *http.Request) response {
	if c.pdOwn.task == nil || c.pdOwn.task.Type != r.PathValue("type") {
		return v2JSON(http.StatusNotFound, "No maintenance task is running for this type")
	}
	return v2JSON(http.StatusOK, c.pdOwn.task)
}

func (c *Cluster) deleteMaintenance(r *http.Request) response {
	switch t := c.pdOwn.task; {
	case t == nil || t.Type != r.PathValue("type"):
		return v2JSON(http.StatusNotFound, "No maintenance task is running for this type")
	case t.ID != r.PathValue("id"):
		return c.conflict("Task ID does not match the current task")
	}
	c.pdOwn.task = nil
	return v2JSON(http.StatusOK, "Maintenance task deleted successfully.")
}
