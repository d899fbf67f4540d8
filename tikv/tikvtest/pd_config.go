package tikvtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"time"

	"github.com/kvops/operator/logparse"
)

// PD's config API.

func (c *Cluster) getConfig(section string) response {
	var all map[string]any
	dec := json.NewDecoder(bytes.NewReader(pdConfigTemplate))
	dec.UseNumber()
	if err := dec.Decode(&all); err != nil {
		return jsonStatus(http.StatusInternalServerError, err.Error())
	}
	sched, _ := all["schedule"].(map[string]any)
	if sched == nil {
		return jsonStatus(http.StatusInternalServerError, "tikvtest: config template has no schedule section")
	}
	sched["leader-schedule-limit"] = c.cfg.leaderLimit
	sched["region-schedule-limit"] = c.cfg.regionLimit
	sched["replica-schedule-limit"] = c.cfg.replicaLimit
	sched["low-space-ratio"] = c.cfg.lowSpaceRatio
	sched["high-space-ratio"] = c.cfg.highSpaceRatio
	sched["max-store-down-time"] = c.cfg.maxStoreDownTime.String()
	sched["store-limit"] = c.storeLimits()
	if section == "" {
		return jsonOK(all)
	}
	return jsonOK(all[section])
}

// postConfig serves POST /config with PD's checks and messages. It checks
// every key before changing any, so a refused body changes nothing.
func (c *Cluster) postConfig(r *http.Request) response {
	body, bad := readBody(r)
	if bad != nil {
		return *bad
	}
	next := c.cfg
	keys := make([]string, 0, len(body))
	for k := range body {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := body[k]
		var err string
		switch k {
		case "leader-schedule-limit":
			next.leaderLimit, err = uintConfig(k, v)
		case "region-schedule-limit":
			next.regionLimit, err = uintConfig(k, v)
		case "replica-schedule-limit":
			next.replicaLimit, err = uintConfig(k, v)
		case "low-space-ratio":
			next.lowSpaceRatio, err = floatConfig(k, v)
		case "high-space-ratio":
			next.highSpaceRatio, err = floatConfig(k, v)
		case "max-store-down-time":
			s, ok := v.(string)
			if !ok {
				err = fmt.Sprintf("json: cannot unmarshal %s into Go struct field ScheduleConfig.%s of type typeutil.Duration", jsonKind(v), k)
				break
			}
			d, perr := time.ParseDuration(s)
			if perr != nil {
				err = perr.Error()
			}
			next.maxStoreDownTime = d
		default:
			err = fmt.Sprintf("config item %s not found", k)
		}
		if err != "" {
			return jsonStatus(http.StatusBadRequest, err)
		}
	}
	switch {
	case next.lowSpaceRatio <= 0 || next.lowSpaceRatio >= 1:
		return jsonStatus(http.StatusBadRequest, "low-space-ratio should between 0 and 1")
	case next.highSpaceRatio <= 0 || next.highSpaceRatio >= 1:
		return jsonStatus(http.StatusBadRequest, "high-space-ratio should between 0 and 1")
	case next.lowSpaceRatio <= next.highSpaceRatio:
		return jsonStatus(http.StatusBadRequest, "low-space-ratio should be larger than high-space-ratio")
	case next.maxStoreDownTime <= 0:
		return jsonStatus(http.StatusBadRequest, "max-store-down-time should be positive")
	}
	if next != c.cfg {
		c.cfg = next
		c.pdLog.write(entry(c.now, logparse.LevelInfo, "server.go:1351", "schedule config is updated"))
	}
	return jsonOK("The config is updated.")
}

func jsonKind(v any) string {
	switch v.(type) {
	case string:
		return "string"
	case json.Number:
		return "number"
	case bool:
		return "bool"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return "null"
}

func uintConfig(k string, v any) (uint64, string) {
	n, ok := v.(json.Number)
	if ok {
		if u, err := strconv.ParseUint(n.String(), 10, 64); err == nil {
			return u, ""
		}
		return 0, fmt.Sprintf("json: cannot unmarshal number %s into Go struct field ScheduleConfig.%s of type uint64", n, k)
	}
	return 0, fmt.Sprintf("json: cannot unmarshal %s into Go struct field ScheduleConfig.%s of type uint64", jsonKind(v), k)
}

func floatConfig(k string, v any) (float64, string) {
	if n, ok := v.(json.Number); ok {
		if f, err := n.Float64(); err == nil {
			return f, ""
		}
	}
	return 0, fmt.Sprintf("json: cannot unmarshal %s into Go struct field ScheduleConfig.%s of type float64", jsonKind(v), k)
}
