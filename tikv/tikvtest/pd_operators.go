package tikvtest

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strings"
)

// PD's operators API.

// getOperators serves GET /operators: the pending operators as PD's
// strings, or with ?object=true as objects (pd-operators/operators-object);
// ?kind=admin keeps the admin ones (pd-operators/operators-kind-admin).
func (c *Cluster) getOperators(r *http.Request) response {
	q := r.URL.Query()
	adminOnly := q.Get("kind") == "admin"
	strs := []string{}
	objs := []operatorJSON{}
	for _, id := range c.sortedRegionIDs() {
		o := c.ops[id]
		if o == nil || adminOnly && !strings.HasPrefix(o.kind, "admin") {
			continue
		}
		strs = append(strs, o.String(id))
		desc, brief, _ := strings.Cut(o.desc, " {")
		objs = append(objs, operatorJSON{
			Desc: desc, Brief: strings.TrimSuffix(brief, "}"), RegionID: id,
			RegionEpoch: epochJSON{ConfVer: o.confVer, Version: o.version},
			Kind:        operatorKind(o.desc), Timeout: operatorTimeout.String(), Status: 1,
		})
	}
	if q.Get("object") == "true" {
		return jsonOK(objs)
	}
	return jsonOK(strs)
}

// operatorKind is the "kind" number of an operator object as the
// recording shows it (pd-operators/operators-object): 1 for an admin
// split, 256 for balance-leader.
func operatorKind(desc string) int {
	switch {
	case strings.HasPrefix(desc, "admin-"):
		return 1
	case strings.HasPrefix(desc, "balance-leader"):
		return 256
	}
	return 0
}

// getOperator serves GET /operators/{region_id}: the region's latest
// operator, whoever made it: the one running, else the last one that ended.
func (c *Cluster) getOperator(r *http.Request) response {
	id, bad := c.pathID(r, "region")
	if bad != nil {
		return *bad
	}
	if o := c.ops[id]; o != nil {
		return jsonOK("status: RUNNING, operator: " + o.String(id))
	}
	if l, ok := c.latest[id]; ok {
		return jsonOK("status: " + l.status + ", operator: " + l.text)
	}
	return jsonStatus(http.StatusInternalServerError, "[PD:operator:ErrOperatorNotFound]operator not found")
}

// deleteOperator serves DELETE /operators/{region_id}: PD cancels the
// running operator, which then shows as CANCEL.
func (c *Cluster) deleteOperator(r *http.Request) response {
	id, bad := c.pathID(r, "region")
	if bad != nil {
		return *bad
	}
	o := c.ops[id]
	if o == nil {
		return jsonStatus(http.StatusInternalServerError, "[PD:operator:ErrOperatorNotFound]operator not found")
	}
	delete(c.ops, id)
	c.end(id, o, "CANCEL")
	return jsonOK("The pending operator is canceled.")
}

// numberArg reads a JSON number argument as PD does (a float64 it then
// converts).
func numberArg(body map[string]any, key string) (uint64, bool) {
	n, ok := body[key].(json.Number)
	if !ok {
		return 0, false
	}
	v, err := n.Float64()
	if err != nil || v < 0 || v > math.MaxUint64 {
		return 0, false
	}
	return uint64(v), true
}

// PD operators the simulator does not model; it refuses them plainly
// rather than pretending they are unknown.
var unmodelledOperators = map[string]bool{
	"transfer-region": true, "transfer-peer": true, "add-peer": true, "add-learner": true,
	"remove-peer": true, "merge-region": true, "scatter-region": true, "scatter-regions": true,
}

func (c *Cluster) postOperator(r *http.Request) response {
	body, bad := readBody(r)
	if bad != nil {
		return *bad
	}
	name, _ := body["name"].(string)
	if name == "" {
		return jsonStatus(http.StatusBadRequest, "missing operator name")
	}
	if unmodelledOperators[name] {
		return jsonStatus(http.StatusNotImplemented, fmt.Sprintf("operator %s is not simulated", name))
	}
	if name != "transfer-leader" && name != "split-region" {
		return jsonStatus(http.StatusBadRequest, "unknown operator")
	}
	regionID, ok := numberArg(body, "region_id")
	if !ok {
		return jsonStatus(http.StatusBadRequest, "missing region id")
	}
	reg := c.regions[regionID]
	if name == "transfer-leader" {
		to, ok := numberArg(body, "to_store_id")
		if !ok {
			return jsonStatus(http.StatusBadRequest, "missing store id to transfer leader to")
		}
		if reg == nil {
			return jsonStatus(http.StatusInternalServerError, regionNotFound(regionID))
		}
		p := reg.peerOn(to)
		if p == nil || p.learner {
			return jsonStatus(http.StatusInternalServerError, fmt.Sprintf("region has no voter in store %d", to))
		}
		if reg.leaderStore() == to {
			return jsonStatus(http.StatusInternalServerError, "no operator step is built")
		}
		// PD judges the target by what it knows, its heartbeats
		// (pkg/schedule/filter's StoreStateFilter for a leader target):
		// Up, not Offline, no evicting scheduler keeping leaders off it. Whether the process runs, it
		// cannot tell.
		if c.stateName(c.stores[to-1]) != "Up" || c.leadersKeptOff(to) {
			return jsonStatus(http.StatusInternalServerError, "cannot create operator: target leader is not allowed")
		}
		if c.ops[regionID] != nil {
			return jsonStatus(http.StatusInternalServerError, errAddOperator)
		}
		from := reg.leaderStore()
		c.ops[regionID] = &operator{
			name: name, target: to, created: c.now, confVer: reg.confVer, version: reg.version, kind: "admin,leader",
			outcome: c.nextOutcome(),
			desc:    fmt.Sprintf("admin-transfer-leader {transfer leader: store %d to %d}", from, to),
			step:    fmt.Sprintf("transfer leader from store %d to store %d", from, to),
		}
		return jsonOK("The operator is created.")
	}
	policy, ok := body["policy"].(string)
	if !ok {
		return jsonStatus(http.StatusBadRequest, "missing split policy")
	}
	switch strings.ToLower(policy) {
	case "approximate", "scan":
	case "usekey":
		return jsonStatus(http.StatusNotImplemented, "split policy usekey is not simulated")
	default:
		return jsonStatus(http.StatusInternalServerError, fmt.Sprintf("check policy %s is not supported", policy))
	}
	if reg == nil {
		return jsonStatus(http.StatusInternalServerError, regionNotFound(regionID))
	}
	if c.ops[regionID] != nil {
		return jsonStatus(http.StatusInternalServerError, errAddOperator)
	}
	pol := strings.ToUpper(policy)
	outcome := c.nextOutcome()
	if c.noSplits {
		outcome = OperatorTimesOut
	}
	c.ops[regionID] = &operator{
		name: name, created: c.now, confVer: reg.confVer, version: reg.version, kind: "admin",
		outcome: outcome,
		desc:    fmt.Sprintf("admin-split-region {split: region %d use policy %s}", regionID, pol),
		step:    "split region with policy " + pol,
	}
	return jsonOK("The operator is created.")
}

// errAddOperator is the real PD's answer to an operator on a region that
// has one pending (issue 11, recorded against PD v8.5).
const errAddOperator = "[PD:operator:ErrAddOperator]failed to add operator, maybe already have one"
