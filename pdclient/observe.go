package pdclient

import (
	"strings"
	"time"
)

// RequestInfo is one HTTP exchange with one PD member, as
// [Config].OnRequest receives it: the client's counterpart of an HTTP
// client's metrics (requests by route and status, with latency), given as
// plain data so that this package links no metrics library. Package
// tikv/opmetrics turns it into Prometheus metrics.
//
// A call of a method may make several exchanges (failover, retries, the
// member list it asks for first): each is reported.
type RequestInfo struct {
	// Method is the HTTP method.
	Method string
	// Route is PD's route template for the request, as PD's router
	// (server/api/router.go) registers it under /pd/api/v1, or API v2's
	// (server/apiv2/handlers) under /pd/api/v2:
	// "/pd/api/v1/operators/{region_id}" for a request of
	// /pd/api/v1/operators/9, never the concrete path, so that it can be a
	// metric label of bounded cardinality. A path the client does not
	// know (one sent through [Client.Do]) is [RouteOther].
	Route string
	// Endpoint is the member asked, as scheme://host:port.
	Endpoint string
	// Status is the HTTP status of the member's answer; 0 when none came
	// (the connection failed, or the attempt ran out of time first).
	Status int
	// Err is the exchange's error; nil when it succeeded.
	Err error
	// Duration is how long the exchange took, the answer read and
	// decoded included.
	Duration time.Duration
}

// RouteOther is [RequestInfo].Route for a path that matches none of the
// routes the client knows.
const RouteOther = "other"

// routes are PD's route templates (tikv/pd server/api/router.go,
// createRouter) for the paths this client sends, and a few more of PD's
// read-only ones. A {name} segment matches any one segment.
var routes = splitRoutes([]string{
	"/ping", "/health", "/members", "/leader", "/version", "/status",
	"/cluster", "/cluster/status",
	"/config", "/config/schedule", "/config/replicate", "/config/default", "/config/pd-server",
	"/operators", "/operators/records", "/operators/{region_id}",
	"/schedulers", "/schedulers/{name}",
	// PD registers /scheduler-config as a prefix and hands the rest to
	// the scheduler: this client only lists the evict-leader stores.
	"/scheduler-config/evict-leader-scheduler/list",
	"/region/id/{id}", "/region/key/{key}",
	"/regions", "/regions/count", "/regions/key", "/regions/store/{id}",
	"/regions/writeflow", "/regions/readflow", "/regions/confver", "/regions/version",
	"/regions/size", "/regions/keys", "/regions/cpu",
	"/regions/check/miss-peer", "/regions/check/extra-peer", "/regions/check/pending-peer",
	"/regions/check/down-peer", "/regions/check/learner-peer", "/regions/check/empty-region",
	"/regions/check/offline-peer", "/regions/check/oversized-region", "/regions/check/undersized-region",
	"/regions/check/hist-size", "/regions/check/hist-keys",
	"/hotspot/regions/write", "/hotspot/regions/read", "/hotspot/regions/history", "/hotspot/stores",
	"/store/{id}", "/store/{id}/state", "/store/{id}/label", "/store/{id}/weight", "/store/{id}/limit",
	"/stores", "/stores/check", "/stores/limit", "/stores/progress",
})

// routesV2 are API v2's route templates for the paths this client sends
// (PD's server/apiv2/handlers/maintenance.go, RegisterMaintenance).
var routesV2 = splitRoutesUnder(apiV2Prefix, []string{
	"/maintenance", "/maintenance/{task_type}", "/maintenance/{task_type}/{task_id}",
})

// route is a template split into its segments.
type route struct {
	template string
	segments []string
}

func splitRoutes(templates []string) []route { return splitRoutesUnder(apiPrefix, templates) }

func splitRoutesUnder(prefix string, templates []string) []route {
	out := make([]route, len(templates))
	for i, t := range templates {
		out[i] = route{template: prefix + t, segments: strings.Split(t[1:], "/")}
	}
	return out
}

// routeOf returns PD's route template for a request path (under
// /pd/api/v1 or /pd/api/v2, with or without a query): of the templates
// that match, the one with the fewest {name} segments, so that
// /operators/records is not /operators/{region_id}. It allocates nothing.
func routeOf(path string) string {
	path, _, _ = strings.Cut(path, "?")
	table := routes
	rest, ok := strings.CutPrefix(path, apiPrefix+"/")
	if !ok {
		if rest, ok = strings.CutPrefix(path, apiV2Prefix+"/"); !ok {
			return RouteOther
		}
		table = routesV2
	}
	best, wild := RouteOther, -1
	for i := range table {
		if w, ok := table[i].match(rest); ok && (wild < 0 || w < wild) {
			best, wild = table[i].template, w
		}
	}
	return best
}

// match reports whether the path (without the API prefix and its slash)
// fits the route, and how many {name} segments it took.
func (r *route) match(path string) (wild int, ok bool) {
	for i, seg := range r.segments {
		var s string
		var more bool
		s, path, more = strings.Cut(path, "/")
		last := i == len(r.segments)-1
		switch {
		case more == last, s == "":
			return 0, false
		case strings.HasPrefix(seg, "{"):
			wild++
		case s != seg:
			return 0, false
		}
	}
	return wild, true
}

// observing reports whether the client tells anyone about its exchanges.
func (c *Client) observing() bool { return c.onRequest != nil }
