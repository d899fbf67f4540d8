package tikvtest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/kvops/operator/logparse"
)

// PD's schedulers API.

var baseSchedulers = []string{"balance-region-scheduler", "balance-leader-scheduler",
	"balance-hot-region-scheduler", "evict-slow-store-scheduler", "evict-stopping-store-scheduler"}

func (c *Cluster) getSchedulers(*http.Request) response {
	out := append([]string{}, baseSchedulers...)
	if len(c.evict) > 0 {
		out = append(out, "evict-leader-scheduler")
	}
	return jsonOK(out)
}

func (c *Cluster) postScheduler(r *http.Request) response {
	body, bad := readBody(r)
	if bad != nil {
		return *bad
	}
	name, _ := body["name"].(string)
	if name != "evict-leader-scheduler" {
		return jsonStatus(http.StatusNotImplemented, fmt.Sprintf("scheduler %q is not simulated", name))
	}
	id, ok := numberArg(body, "store_id")
	if !ok {
		return jsonStatus(http.StatusBadRequest, "missing store id")
	}
	if c.storeByID(id) == nil || c.storeByID(id).tombstone {
		// PD double-encodes this one: a JSON string holding a JSON string.
		q, _ := json.Marshal(storeNotFound(id))
		return jsonStatus(http.StatusInternalServerError, string(q)+"\n")
	}
	if len(c.evict) == 0 {
		c.evict = []uint64{id}
		c.pdLog.write(entry(c.now, logparse.LevelInfo, "coordinator.go:362", "create scheduler", f("scheduler-name", "evict-leader-scheduler")))
		return jsonOK("The scheduler is created.")
	}
	if !c.evicted(id) {
		c.evict = append(c.evict, id)
	}
	return jsonOK("The scheduler has been applied to the store.")
}

// deleteScheduler serves DELETE /schedulers/{name}: evict-leader-scheduler
// removes the whole scheduler, evict-leader-scheduler-<id> one store of it.
// PD answers null with 200, or with 404 when there is nothing to delete.
func (c *Cluster) deleteScheduler(r *http.Request) response {
	name := r.PathValue("name")
	if name == "evict-leader-scheduler" && len(c.evict) > 0 {
		c.evict = nil
		return jsonOK(nil)
	}
	if rest, ok := strings.CutPrefix(name, "evict-leader-scheduler-"); ok {
		id, err := strconv.ParseUint(rest, 10, 64)
		if err == nil && c.evicted(id) {
			kept := c.evict[:0]
			for _, e := range c.evict {
				if e != id {
					kept = append(kept, e)
				}
			}
			c.evict = kept
			return jsonOK(nil)
		}
	}
	return jsonStatus(http.StatusNotFound, nil)
}

func (c *Cluster) getEvictConfig(*http.Request) response {
	if len(c.evict) == 0 {
		// The scheduler's config route is gone with the scheduler: Go's
		// plain-text 404 (pd-operators/evict-leader-list-after-restore).
		return response{status: http.StatusNotFound, raw: true, rawBody: []byte("404 page not found\n"), contentType: "text/plain; charset=utf-8"}
	}
	ranges := map[string][]map[string]string{}
	for _, id := range c.evict {
		ranges[strconv.FormatUint(id, 10)] = []map[string]string{{"end-key": "", "start-key": ""}}
	}
	return jsonOK(map[string]any{"store-id-ranges": ranges, "batch": 3})
}

// PD's own evicting schedulers, evict-slow-store and evict-stopping-store,
// run in every PD (GET /schedulers lists them) and each evicts at most one
// store. Their config lists have the recorded shapes
// (pd-maintenance/scheduler-evict-slow-config.json and
// scheduler-evict-stopping-config.json); the fields the simulator does
// not model (network-slow stores) stay empty, as in the recording.

func (c *Cluster) getEvictSlowConfig(*http.Request) response {
	return jsonOK(map[string]any{
		"disabled":                    false,
		"recovery-duration":           1800,
		"evict-stores":                storeList(c.slowEvicted),
		"enable-network-slow-store":   false,
		"paused-network-slow-stores":  []uint64{},
		"evicted-network-slow-stores": []uint64{},
		"batch":                       3,
	})
}

func (c *Cluster) getEvictStoppingConfig(*http.Request) response {
	return jsonOK(map[string]any{"disabled": false, "evicted-stores": storeList(c.stoppingEvicted), "batch": 3})
}

// storeList is the list of one store, or an empty list (never null) for 0.
func storeList(id uint64) []uint64 {
	if id == 0 {
		return []uint64{}
	}
	return []uint64{id}
}

// schedulerConfigRoutes adds the config lists of PD's own evicting
// schedulers.
func (c *Cluster) schedulerConfigRoutes(h func(string, func(*http.Request) response)) {
	h("GET /scheduler-config/evict-slow-store-scheduler/list", c.getEvictSlowConfig)
	h("GET /scheduler-config/evict-stopping-store-scheduler/list", c.getEvictStoppingConfig)
}
