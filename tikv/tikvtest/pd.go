package tikvtest

import (
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

const (
	apiPrefix   = "/pd/api/v1"
	contentJSON = "application/json; charset=UTF-8"
	// PD writes region answers as raw bytes with this content type.
	contentRegions = "application/octet-stream"
	pdVersion      = "v8.5.0"
	pdGitHash      = "a186e0cc61def1408fc57ae7b3d1044a572c8ae3"
	clusterID      = 7712828691867624985
	tikvVersion    = "8.5.0"
	tikvGitHash    = "2d2d4b8e0b6e5c9bd7ad86b6c1d0b1b0f3d9a3d1"
)

// pdConfigTemplate is the recorded real PD's GET /config answer; the
// settings the simulator keeps are written over it.
//
//go:embed pdconfig.json
var pdConfigTemplate []byte

// PDHandler returns the PD HTTP API (paths under /pd/api/v1) and, at
// /metrics, the PD leader's metrics, for use with or without Start.
func (c *Cluster) PDHandler() http.Handler {
	mux := http.NewServeMux()
	h := func(pattern string, fn func(*http.Request) response) {
		method, path, _ := strings.Cut(pattern, " ")
		local := localPaths[path]
		mux.HandleFunc(method+" "+apiPrefix+path, func(w http.ResponseWriter, r *http.Request) {
			c.mu.Lock()
			var resp response
			if c.electing() && !local {
				resp = c.noLeader(method, path)
			} else {
				resp = fn(r)
			}
			c.mu.Unlock()
			resp.write(w)
		})
	}
	h("GET /ping", func(*http.Request) response { return response{status: http.StatusOK, raw: true} })
	h("GET /health", c.getHealth)
	h("GET /members", c.getMembers)
	h("GET /leader", func(r *http.Request) response { return jsonOK(c.memberJSON(r, c.leaderIdx, false)) })
	h("GET /version", func(*http.Request) response {
		return jsonOK(map[string]string{"version": pdVersion, "build_time": "", "hash": "", "branch": ""})
	})
	h("GET /status", func(*http.Request) response {
		return jsonOK(map[string]any{"build_ts": "None", "version": pdVersion, "git_hash": pdGitHash,
			"start_timestamp": c.start.Unix(), "kernel_type": "Classic"})
	})
	h("GET /cluster", func(*http.Request) response {
		return jsonOK(map[string]any{"id": uint64(clusterID), "max_peer_count": 3})
	})
	h("GET /cluster/status", func(*http.Request) response {
		return jsonOK(map[string]any{"raft_bootstrap_time": c.start.UTC(), "is_initialized": true, "replication_status": ""})
	})
	h("GET /config", func(*http.Request) response { return c.getConfigHalted("") })
	h("GET /config/schedule", func(*http.Request) response { return c.getConfigHalted("schedule") })
	h("GET /config/replicate", func(*http.Request) response { return c.getConfig("replication") })
	h("POST /config", c.postConfigHalt)
	h("GET /stores", c.getStores)
	h("GET /stores/check", c.getStoresCheck)
	h("GET /stores/limit", func(*http.Request) response { return jsonOK(c.storeLimits()) })
	h("GET /store/{id}", c.getStore)
	h("DELETE /store/{id}", c.deleteStore)
	h("POST /store/{id}/state", c.postStoreState)
	h("POST /store/{id}/label", c.postStoreLabel)
	h("POST /store/{id}/weight", c.postStoreWeight)
	h("GET /regions", func(*http.Request) response { return c.regionList(c.regionsByKey(), -1) })
	h("GET /regions/count", func(*http.Request) response {
		return jsonOK(map[string]any{"count": len(c.regions), "regions": nil})
	})
	h("GET /regions/key", c.getRegionsByKey)
	h("GET /regions/store/{id}", c.getRegionsByStore)
	h("GET /region/id/{id}", c.getRegion)
	h("GET /regions/writeflow", c.getWriteFlow)
	h("GET /regions/check/down-peer", func(*http.Request) response {
		if !c.anyDown() {
			return c.regionList(nil, -1) // no region to look at
		}
		return c.regionCheck(c.hasDownPeer)
	})
	// The simulator's peers are never pending.
	h("GET /regions/check/pending-peer", func(*http.Request) response { return c.regionList(nil, -1) })
	h("GET /regions/check/miss-peer", func(*http.Request) response {
		return c.regionCheck(func(r *region) bool { return c.voters(r) < min(3, len(c.stores)) })
	})
	h("GET /regions/check/offline-peer", func(*http.Request) response {
		return c.regionCheck(func(r *region) bool {
			for _, p := range r.peers {
				if c.stores[p.store-1].offline {
					return true
				}
			}
			return false
		})
	})
	h("GET /hotspot/regions/write", func(*http.Request) response { return jsonOK(c.hotRegions(true)) })
	h("GET /hotspot/regions/read", func(*http.Request) response { return jsonOK(c.hotRegions(false)) })
	h("GET /hotspot/stores", func(*http.Request) response { return jsonOK(c.hotStores()) })
	h("GET /operators", c.getOperators)
	h("POST /operators", c.postOperator)
	h("GET /operators/records", func(*http.Request) response { return jsonOK(append([]string{}, c.records...)) })
	h("GET /operators/{region}", c.getOperator)
	h("DELETE /operators/{region}", c.deleteOperator)
	h("GET /schedulers", c.getSchedulers)
	h("POST /schedulers", c.postScheduler)
	h("DELETE /schedulers/{name}", c.deleteScheduler)
	h("GET /scheduler-config/evict-leader-scheduler/list", c.getEvictConfig)
	mux.Handle("GET /metrics", c.pdMetricsHandler(-1))
	c.schedulerConfigRoutes(h)
	c.maintenanceRoutes(mux)
	return mux
}

// localPaths are those a PD member answers itself, leader or not (PD's
// localOnlyPaths in pkg/utils/apiutil/serverapi/middleware.go).
var localPaths = map[string]bool{"/ping": true, "/health": true, "/status": true, "/version": true}

// noLeader is what a PD follower answers while the leader it forwards to
// is dead: recorded in realpd/*-follower-during-election. PD's redirector
// answers http.Error(ErrRedirect), except GET /config, which a follower
// serves itself by merging the leader's configuration, and fails to.
func (c *Cluster) noLeader(method, path string) response {
	if method == http.MethodGet && path == "/config" {
		old := c.members[(c.leaderIdx+len(c.members)-1)%len(c.members)]
		return jsonStatus(http.StatusInternalServerError, fmt.Sprintf(
			"Get %q: dial tcp %s: connect: connection refused", old.client+apiPrefix+"/config", strings.TrimPrefix(old.client, "http://")))
	}
	return response{status: http.StatusInternalServerError, raw: true, contentType: "text/plain; charset=utf-8",
		rawBody: []byte("[PD:apiutil:ErrRedirect]redirect failed\n")}
}

// response is a PD answer: a JSON body (or a raw one) and a status code.
type response struct {
	status      int
	body        any
	raw         bool
	rawBody     []byte
	contentType string
}

func jsonOK(v any) response { return response{status: http.StatusOK, body: v} }

func jsonStatus(status int, v any) response { return response{status: status, body: v} }

func (r response) write(w http.ResponseWriter) {
	if r.raw {
		if r.contentType != "" {
			w.Header().Set("Content-Type", r.contentType)
		}
		w.WriteHeader(r.status)
		if len(r.rawBody) > 0 {
			_, _ = w.Write(r.rawBody)
		}
		return
	}
	b, err := json.Marshal(r.body)
	if err != nil {
		// Only the simulator's own types are marshalled; this is a bug.
		http.Error(w, "tikvtest: marshal: "+err.Error(), http.StatusInternalServerError)
		return
	}
	ct := r.contentType
	if ct == "" {
		ct = contentJSON
	}
	w.Header().Set("Content-Type", ct)
	w.WriteHeader(r.status)
	_, _ = w.Write(b)
}

// regionsResponse writes region JSON the way PD does: raw bytes typed
// application/octet-stream.
func regionsResponse(v any) response {
	b, err := json.Marshal(v)
	if err != nil {
		return jsonStatus(http.StatusInternalServerError, err.Error())
	}
	return response{status: http.StatusOK, raw: true, rawBody: b, contentType: contentRegions}
}

// inputError is PD's answer to a malformed request: {"code":"input",...}.
func inputError(err error) response {
	data := map[string]any{}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		data["Offset"] = se.Offset
	}
	return jsonStatus(http.StatusBadRequest, map[string]any{"code": "input", "msg": err.Error(), "data": data})
}

func (c *Cluster) pathID(r *http.Request, name string) (uint64, *response) {
	id, err := strconv.ParseUint(r.PathValue(name), 10, 64)
	if err != nil {
		resp := inputError(err)
		return 0, &resp
	}
	return id, nil
}

func storeNotFound(id uint64) string {
	return fmt.Sprintf("[PD:core:ErrStoreNotFound]store %d not found", id)
}

func regionNotFound(id uint64) string {
	return fmt.Sprintf("[PD:region:ErrRegionNotFound]region %d not found", id)
}

// pathStore returns the store named by the {id} path value, or PD's
// answer when the id is malformed (400) or unknown (404).
func (c *Cluster) pathStore(r *http.Request) (*store, *response) {
	id, bad := c.pathID(r, "id")
	if bad != nil {
		return nil, bad
	}
	s := c.storeByID(id)
	if s == nil {
		resp := jsonStatus(http.StatusNotFound, storeNotFound(id))
		return nil, &resp
	}
	return s, nil
}

// storeByID returns the store, or nil when there is none.
func (c *Cluster) storeByID(id uint64) *store {
	if id < 1 || id > uint64(len(c.stores)) {
		return nil
	}
	return c.stores[id-1]
}

// memberJSON describes member i. Every member's client URL is the one PD
// API URL: Start's, or, for a handler served by the caller (PDHandler),
// the URL the request came in on, as a lone PD member advertises its own:
// a client that learns the members from it must come back to it.
func (c *Cluster) memberJSON(r *http.Request, i int, full bool) memberJSON {
	m := c.members[i]
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	url := scheme + "://" + r.Host
	if c.net != nil && c.net.pdURL != "" && !c.net.anyHost {
		url = c.net.pdURL
	}
	out := memberJSON{Name: m.name, MemberID: m.id, PeerURLs: []string{m.peerURL}, ClientURLs: []string{url}}
	if full {
		out.DeployPath, out.BinaryVersion, out.GitHash = "/opt/pd/bin", pdVersion, pdGitHash
	}
	return out
}

func (c *Cluster) getHealth(r *http.Request) response {
	type health struct {
		Name       string   `json:"name"`
		MemberID   uint64   `json:"member_id"`
		ClientURLs []string `json:"client_urls"`
		Health     bool     `json:"health"`
	}
	out := []health{}
	for i := range c.members {
		m := c.memberJSON(r, i, false)
		out = append(out, health{m.Name, m.MemberID, m.ClientURLs, true})
	}
	return jsonOK(out)
}

func (c *Cluster) getMembers(r *http.Request) response {
	var ms []memberJSON
	for i := range c.members {
		ms = append(ms, c.memberJSON(r, i, true))
	}
	leader := c.memberJSON(r, c.leaderIdx, true)
	return jsonOK(map[string]any{
		"header":      map[string]any{"cluster_id": uint64(clusterID)},
		"members":     ms,
		"leader":      leader,
		"etcd_leader": leader,
	})
}
