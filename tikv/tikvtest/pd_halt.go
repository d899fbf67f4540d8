package tikvtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"

	"github.com/kvops/operator/logparse"
)

// PD's halt-scheduling, its own kill switch (recorded in
// testdata/pd-maintenance: config-halt-scheduling-on, config-schedule-halted).
// POST /config {"halt-scheduling":"true"} turns it on; PD's field is a
// bool with the ",string" tag, so it takes "true" or "false" and refuses
// anything else with 400 (the real PD's answers, read 2026-12-07:
// `json: invalid use of ,string struct tag, trying to unmarshal unquoted
// value into bool` for a JSON true). It shows in /config/schedule (and
// /config's schedule section) only while it is on. While it is on PD runs
// no scheduler and no checker (scheduler_controller.go,
// checker_controller.go): the simulated evict-leader, PD's own evicting
// schedulers, balance-leader and the drain's replica moves do nothing;
// admin operators are still created and run (Tick).

// getConfigHalted serves GET /config and /config/schedule: getConfig,
// with halt-scheduling while it is on.
func (c *Cluster) getConfigHalted(section string) response {
	resp := c.getConfig(section)
	if !c.pdOwn.halted || resp.status != http.StatusOK {
		return resp
	}
	m, _ := resp.body.(map[string]any)
	if section == "" {
		m, _ = m["schedule"].(map[string]any)
	}
	if m != nil {
		m["halt-scheduling"] = "true"
	}
	return resp
}

// postConfigHalt serves POST /config: halt-scheduling here, the other
// settings by postConfig. A refused body changes nothing.
func (c *Cluster) postConfigHalt(r *http.Request) response {
	b, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		return inputError(err)
	}
	var m map[string]json.RawMessage
	raw, ok := json.RawMessage(nil), false
	if json.Unmarshal(b, &m) == nil && m != nil {
		raw, ok = m["halt-scheduling"]
	}
	if !ok {
		r.Body = io.NopCloser(bytes.NewReader(b))
		return c.postConfig(r)
	}
	var on bool
	switch string(bytes.TrimSpace(raw)) {
	case `"true"`:
		on = true
	case `"false"`:
	default:
		what := "unquoted value"
		if len(raw) > 0 && raw[0] == '"' {
			what = string(raw)
		}
		return jsonStatus(http.StatusBadRequest, fmt.Sprintf("json: invalid use of ,string struct tag, trying to unmarshal %s into bool", what))
	}
	delete(m, "halt-scheduling")
	rest, err := json.Marshal(m)
	if err != nil {
		return inputError(err)
	}
	r.Body = io.NopCloser(bytes.NewReader(rest))
	resp := c.postConfig(r)
	if resp.status == http.StatusOK && on != c.pdOwn.halted {
		c.pdOwn.halted = on
		c.pdLog.write(entry(c.now, logparse.LevelInfo, "server.go:1351", "schedule config is updated"))
	}
	return resp
}
