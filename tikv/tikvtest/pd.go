package tikvtest

import (
	"bytes"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/kvops/operator/logparse"
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

// PDHandler returns the PD HTTP API (paths under /pd/api/v1), for use with
// or without Start.
func (c *Cluster) PDHandler() http.Handler {
	mux := http.NewServeMux()
	h := func(pattern string, fn func(*http.Request) response) {
		method, path, _ := strings.Cut(pattern, " ")
		mux.HandleFunc(method+" "+apiPrefix+path, func(w http.ResponseWriter, r *http.Request) {
			c.mu.Lock()
			resp := fn(r)
			c.mu.Unlock()
			resp.write(w)
		})
	}
	h("GET /ping", func(*http.Request) response { return response{status: http.StatusOK, raw: true} })
	h("GET /health", c.getHealth)
	h("GET /members", c.getMembers)
	h("GET /leader", func(*http.Request) response { return jsonOK(c.memberJSON(c.leaderIdx, false)) })
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
	h("GET /config", func(*http.Request) response { return c.getConfig("") })
	h("GET /config/schedule", func(*http.Request) response { return c.getConfig("schedule") })
	h("GET /config/replicate", func(*http.Request) response { return c.getConfig("replication") })
	h("POST /config", c.postConfig)
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
	return mux
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

func (c *Cluster) memberJSON(i int, full bool) memberJSON {
	m := c.members[i]
	url := "http://127.0.0.1:2379"
	if c.net != nil && c.net.pdURL != "" {
		url = c.net.pdURL
	}
	out := memberJSON{Name: m.name, MemberID: m.id, PeerURLs: []string{m.peerURL}, ClientURLs: []string{url}}
	if full {
		out.DeployPath, out.BinaryVersion, out.GitHash = "/opt/pd/bin", pdVersion, pdGitHash
	}
	return out
}

func (c *Cluster) getHealth(*http.Request) response {
	type health struct {
		Name       string   `json:"name"`
		MemberID   uint64   `json:"member_id"`
		ClientURLs []string `json:"client_urls"`
		Health     bool     `json:"health"`
	}
	out := []health{}
	for i := range c.members {
		m := c.memberJSON(i, false)
		out = append(out, health{m.Name, m.MemberID, m.ClientURLs, true})
	}
	return jsonOK(out)
}

func (c *Cluster) getMembers(*http.Request) response {
	var ms []memberJSON
	for i := range c.members {
		ms = append(ms, c.memberJSON(i, true))
	}
	leader := c.memberJSON(c.leaderIdx, true)
	return jsonOK(map[string]any{
		"header":      map[string]any{"cluster_id": uint64(clusterID)},
		"members":     ms,
		"leader":      leader,
		"etcd_leader": leader,
	})
}

// ---- stores ----

func (c *Cluster) storeJSON(s *store) storeJSON {
	name := c.stateName(s)
	capacity, available, used := c.diskSizes(s)
	cnt := c.counts()
	leaders, peers, learners := cnt.leaders[s.id-1], cnt.peers[s.id-1], cnt.learners[s.id-1]
	leaderSize := int64(leaders) * regionSizeMiB
	regionSize := int64(peers) * regionSizeMiB
	usage := float64(used) / float64(max(capacity, 1))
	regionScore := float64(regionSize) / s.regionWeight * (1 + usage)
	if s.stale {
		// The new PD leader has not heard from the store yet: it knows the
		// counts from region heartbeats, not the store's own statistics.
		capacity, available, used, leaderSize, regionSize, regionScore = 0, 0, 0, 0, 0, 0
	}
	start := s.startTime.UTC()
	last := s.lastHeartbeat.UTC()
	out := storeJSON{
		Store: metaStoreJSON{
			ID: s.id, Address: s.address, Version: tikvVersion,
			StatusAddress: s.statusAddress, GitHash: tikvGitHash,
			StartTimestamp: s.startTime.Unix(), DeployPath: "/opt/tikv/bin",
			LastHeartbeat: s.lastHeartbeat.UnixNano(), NodeState: 1, StateName: name,
		},
		Status: storeStatusJSON{
			Capacity: humanSize(capacity), Available: humanSize(available), UsedSize: humanSize(used),
			LeaderCount: leaders, LeaderWeight: s.leaderWeight, LeaderScore: float64(leaders) / s.leaderWeight,
			LeaderSize: leaderSize, RegionCount: peers, RegionWeight: s.regionWeight,
			RegionScore: regionScore, RegionSize: regionSize, LearnerCount: learners,
			StartTS: &start, LastHeartbeatTS: &last,
			PauseLeaderTransferIn: c.evicted(s.id),
		},
	}
	if up := s.lastHeartbeat.Sub(s.startTime); up > 0 {
		out.Status.Uptime = up.String()
	}
	for _, l := range s.labels {
		out.Store.Labels = append(out.Store.Labels, labelJSON{l.key, l.value})
	}
	switch {
	case s.tombstone:
		out.Store.State, out.Store.NodeState = 2, 3
	case s.offline:
		out.Store.State, out.Store.NodeState = 1, 2
	}
	return out
}

// getStores serves GET /stores: ?state= takes metapb.StoreState numbers (0
// Up, 1 Offline, 2 Tombstone); without it, Tombstone stores are left out.
func (c *Cluster) getStores(r *http.Request) response {
	want := map[int]bool{0: true, 1: true}
	if vs, ok := r.URL.Query()["state"]; ok {
		want = map[int]bool{}
		for _, v := range vs {
			n, err := strconv.Atoi(v)
			if err != nil {
				return jsonStatus(http.StatusBadRequest, err.Error())
			}
			want[n] = true
		}
	}
	out := storesJSON{Stores: []storeJSON{}}
	for _, s := range c.stores {
		sj := c.storeJSON(s)
		if want[sj.Store.State] {
			out.Stores = append(out.Stores, sj)
		}
	}
	out.Count = len(out.Stores)
	return jsonOK(out)
}

// getStoresCheck serves GET /stores/check?state=down: stores whose
// state_name matches one of the states, case-insensitively.
func (c *Cluster) getStoresCheck(r *http.Request) response {
	out := storesJSON{Stores: []storeJSON{}}
	for _, s := range c.stores {
		name := c.stateName(s)
		for _, v := range r.URL.Query()["state"] {
			if strings.EqualFold(v, name) {
				out.Stores = append(out.Stores, c.storeJSON(s))
				break
			}
		}
	}
	out.Count = len(out.Stores)
	return jsonOK(out)
}

func (c *Cluster) storeLimits() map[string]map[string]float64 {
	out := map[string]map[string]float64{}
	for _, s := range c.stores {
		if !s.tombstone {
			out[strconv.FormatUint(s.id, 10)] = map[string]float64{"add-peer": 15, "remove-peer": 15}
		}
	}
	return out
}

func (c *Cluster) getStore(r *http.Request) response {
	s, bad := c.pathStore(r)
	if bad != nil {
		return *bad
	}
	return jsonOK(c.storeJSON(s))
}

// deleteStore serves DELETE /store/{id}: the store goes Offline and its
// regions start moving away.
func (c *Cluster) deleteStore(r *http.Request) response {
	s, bad := c.pathStore(r)
	if bad != nil {
		return *bad
	}
	if s.tombstone {
		return jsonStatus(http.StatusGone, fmt.Sprintf("[PD:core:ErrStoreRemoved]store %d has been removed", s.id))
	}
	if !s.offline {
		s.offline = true
		c.pdLog.write(entry(c.now, logparse.LevelWarn, "cluster.go:1639", "store has been offline",
			f("store-id", s.id), f("store-address", s.address), f("physically-destroyed", "false")))
	}
	return jsonOK("The store is set as Offline.")
}

// postStoreState serves POST /store/{id}/state?state=Up|Offline.
func (c *Cluster) postStoreState(r *http.Request) response {
	s, bad := c.pathStore(r)
	if bad != nil {
		return *bad
	}
	state := r.URL.Query().Get("state")
	switch {
	case strings.EqualFold(state, "Up"):
		if s.tombstone {
			return jsonStatus(http.StatusGone, fmt.Sprintf("[PD:core:ErrStoreRemoved]store %d has been removed", s.id))
		}
		if s.offline {
			s.offline = false
			c.pdLog.write(entry(c.now, logparse.LevelWarn, "cluster.go:1790", "store has been up",
				f("store-id", s.id), f("store-address", s.address)))
		}
	case strings.EqualFold(state, "Offline"):
		return c.deleteStore(r)
	default:
		return jsonStatus(http.StatusBadRequest, fmt.Sprintf("invalid state %s", state))
	}
	return jsonOK("The store's state is updated.")
}

// readBody decodes a JSON object body the way PD's handlers do, answering
// malformed input with PD's {"code":"input"} error.
func readBody(r *http.Request) (map[string]any, *response) {
	b, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		resp := inputError(err)
		return nil, &resp
	}
	if !json.Valid(b) {
		var v any
		resp := inputError(json.Unmarshal(b, &v))
		return nil, &resp
	}
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		resp := inputError(err)
		return nil, &resp
	}
	if m == nil {
		resp := jsonStatus(http.StatusBadRequest, "body is not a JSON object")
		return nil, &resp
	}
	return m, nil
}

// pathStoreBody is pathStore, then readBody.
func (c *Cluster) pathStoreBody(r *http.Request) (*store, map[string]any, *response) {
	s, bad := c.pathStore(r)
	if bad != nil {
		return nil, nil, bad
	}
	body, bad := readBody(r)
	if bad != nil {
		return nil, nil, bad
	}
	return s, body, nil
}

func (c *Cluster) postStoreLabel(r *http.Request) response {
	s, body, bad := c.pathStoreBody(r)
	if bad != nil {
		return *bad
	}
	keys := make([]string, 0, len(body))
	for k, v := range body {
		if _, ok := v.(string); !ok {
			return jsonStatus(http.StatusBadRequest, fmt.Sprintf("label value of %s is not a string", k))
		}
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := body[k].(string)
		found := false
		for i := range s.labels {
			if s.labels[i].key == k {
				s.labels[i].value, found = v, true
			}
		}
		if !found {
			s.labels = append(s.labels, label{k, v})
		}
	}
	return jsonOK("The store's label is updated.")
}

func (c *Cluster) postStoreWeight(r *http.Request) response {
	s, body, bad := c.pathStoreBody(r)
	if bad != nil {
		return *bad
	}
	var w [2]float64
	for i, k := range []string{"leader", "region"} {
		n, ok := body[k].(json.Number)
		if !ok {
			return jsonStatus(http.StatusBadRequest, fmt.Sprintf("missing %s weight", k))
		}
		v, err := n.Float64()
		if err != nil || v < 0 || math.IsInf(v, 0) {
			return jsonStatus(http.StatusBadRequest, fmt.Sprintf("%s weight should not be negative", k))
		}
		w[i] = v
	}
	if w[0] == 0 || w[1] == 0 {
		return jsonStatus(http.StatusBadRequest, "weight should be positive")
	}
	s.leaderWeight, s.regionWeight = w[0], w[1]
	return jsonOK("The store's weight is updated.")
}

// ---- regions ----

func (c *Cluster) regionJSON(r *region) regionJSON {
	out := regionJSON{
		ID: r.id, StartKey: keyHex(r.start), EndKey: keyHex(r.end),
		Epoch: epochJSON{ConfVer: r.confVer, Version: r.version},
		// written_bytes covers one region heartbeat interval (60 s).
		WrittenBytes: uint64(r.writeRate * 60), WrittenKeys: uint64(r.writeRate * 60 / 1024),
		ApproximateSize: regionSizeMiB, ApproximateKeys: regionKeys,
	}
	for _, p := range r.peers {
		pj := peerJSON{RoleName: "Voter", ID: p.id, StoreID: p.store}
		if p.learner {
			pj.RoleName, pj.IsLearner = "Learner", true
		}
		out.Peers = append(out.Peers, pj)
		if p.id == r.leader {
			l := pj
			out.Leader = &l
		}
		if s := c.stores[p.store-1]; c.stateName(s) == "Down" {
			out.DownPeers = append(out.DownPeers, downPeerJSON{Peer: pj, DownSeconds: uint64(c.now.Sub(s.lastHeartbeat).Seconds())})
		}
	}
	return out
}

// anyDown reports whether a store is Down: only then may a region have a
// down peer.
func (c *Cluster) anyDown() bool {
	for _, s := range c.stores {
		if c.stateName(s) == "Down" {
			return true
		}
	}
	return false
}

func (c *Cluster) hasDownPeer(r *region) bool {
	for _, p := range r.peers {
		if c.stateName(c.stores[p.store-1]) == "Down" {
			return true
		}
	}
	return false
}

func (c *Cluster) voters(r *region) int {
	n := 0
	for _, p := range r.peers {
		if !p.learner {
			n++
		}
	}
	return n
}

// regionList answers with the regions, at most limit of them (limit < 0:
// all).
func (c *Cluster) regionList(rs []*region, limit int) response {
	out := regionsJSON{Regions: []regionJSON{}}
	for _, r := range rs {
		if limit >= 0 && len(out.Regions) >= limit {
			break
		}
		out.Regions = append(out.Regions, c.regionJSON(r))
	}
	out.Count = len(out.Regions)
	return regionsResponse(out)
}

func (c *Cluster) regionCheck(keep func(*region) bool) response {
	var rs []*region
	for _, r := range c.regionsByKey() {
		if keep(r) {
			rs = append(rs, r)
		}
	}
	return c.regionList(rs, -1)
}

func queryLimit(r *http.Request, def int) (int, *response) {
	v := r.URL.Query().Get("limit")
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		resp := jsonStatus(http.StatusBadRequest, err.Error())
		return 0, &resp
	}
	return n, nil
}

// getRegionsByKey serves GET /regions/key?key=&end_key=&format=&limit=:
// the regions from the one holding key, in key order, stopping before
// end_key (none when empty); limit 16 by default. Keys are raw, or hex
// with format=hex, as PD's ScanRegions handler reads them
// (apiutil.ParseHexKeys in server/api/region.go: bad hex is a 400 with
// the decoder's message).
func (c *Cluster) getRegionsByKey(r *http.Request) response {
	limit, bad := queryLimit(r, 16)
	if bad != nil {
		return *bad
	}
	// As PD's ScanRegions handler (server/api/region.go): with
	// format=hex both keys are hex (apiutil.ParseHexKeys, which answers a
	// bad one with 400), and the scan runs from the region containing key
	// to the last region that starts before end_key.
	q := r.URL.Query()
	key, end := []byte(q.Get("key")), []byte(q.Get("end_key"))
	if q.Get("format") == "hex" {
		var err error
		if key, err = hex.DecodeString(string(key)); err != nil {
			return jsonStatus(http.StatusBadRequest, err.Error())
		}
		if end, err = hex.DecodeString(string(end)); err != nil {
			return jsonStatus(http.StatusBadRequest, err.Error())
		}
	}
	rs := c.regionsByKey()[c.regionAt(key):]
	if len(end) > 0 && bytes.Compare(end, key) <= 0 {
		rs = nil
	} else if len(end) > 0 {
		rs = rs[:c.regionAt(end)-c.regionAt(key)+1]
		if n := len(rs); n > 0 && bytes.Compare(rs[n-1].start, end) >= 0 {
			rs = rs[:n-1]
		}
	}
	return c.regionList(rs, limit)
}

// getRegionsByStore serves GET /regions/store/{id}. The recorded PD
// answered every region of the store whatever the limit; so does this.
func (c *Cluster) getRegionsByStore(r *http.Request) response {
	id, bad := c.pathID(r, "id")
	if bad != nil {
		return *bad
	}
	var rs []*region
	for _, reg := range c.regionsByKey() {
		if reg.peerOn(id) != nil {
			rs = append(rs, reg)
		}
	}
	return c.regionList(rs, -1)
}

func (c *Cluster) getRegion(r *http.Request) response {
	id, bad := c.pathID(r, "id")
	if bad != nil {
		return *bad
	}
	reg := c.regions[id]
	if reg == nil {
		return jsonStatus(http.StatusNotFound, regionNotFound(id))
	}
	return regionsResponse(c.regionJSON(reg))
}

// getWriteFlow serves GET /regions/writeflow?limit=: the regions that wrote
// most, most first.
func (c *Cluster) getWriteFlow(r *http.Request) response {
	limit, bad := queryLimit(r, 16)
	if bad != nil {
		return *bad
	}
	rs := slices.Clone(c.regionsByKey())
	sort.SliceStable(rs, func(i, j int) bool { return rs[i].writeRate > rs[j].writeRate })
	return c.regionList(rs, limit)
}

// ---- hotspots ----

func (c *Cluster) hotRegions(write bool) hotRegionsJSON {
	out := hotRegionsJSON{AsPeer: map[string]*hotStoreJSON{}, AsLeader: map[string]*hotStoreJSON{}}
	for _, s := range c.stores {
		if s.tombstone {
			continue
		}
		k := strconv.FormatUint(s.id, 10)
		out.AsPeer[k] = &hotStoreJSON{Stats: []hotPeerJSON{}}
		out.AsLeader[k] = &hotStoreJSON{Stats: []hotPeerJSON{}}
	}
	for _, r := range c.regionsByKey() {
		for _, p := range r.peers {
			if hs := out.AsPeer[strconv.FormatUint(p.store, 10)]; hs != nil && write {
				hs.StoreByteRate += r.writeRate
				hs.StoreKeyRate += r.writeRate / 1024
			}
		}
		if !write || r.hotTicks == 0 {
			continue
		}
		var stores []uint64
		for _, p := range r.peers {
			stores = append(stores, p.store)
		}
		for _, p := range r.peers {
			stat := hotPeerJSON{
				StoreID: p.store, Stores: stores, IsLeader: p.id == r.leader, IsLearner: p.learner,
				RegionID: r.id, HotDegree: r.hotTicks, ByteRate: r.writeRate, KeyRate: r.writeRate / 1024,
				LastUpdateTime: c.now.UTC(),
			}
			add := func(hs *hotStoreJSON) {
				if hs == nil {
					return
				}
				hs.TotalBytesRate += stat.ByteRate
				hs.TotalKeysRate += stat.KeyRate
				hs.Count++
				hs.Stats = append(hs.Stats, stat)
			}
			add(out.AsPeer[strconv.FormatUint(p.store, 10)])
			if stat.IsLeader {
				add(out.AsLeader[strconv.FormatUint(p.store, 10)])
			}
		}
	}
	for k, hs := range out.AsPeer {
		if l := out.AsLeader[k]; l != nil {
			l.StoreByteRate, l.StoreKeyRate = hs.StoreByteRate, hs.StoreKeyRate
		}
	}
	return out
}

func (c *Cluster) hotStores() map[string]map[string]float64 {
	out := map[string]map[string]float64{}
	for _, k := range []string{"bytes-write-rate", "bytes-read-rate", "keys-write-rate", "keys-read-rate",
		"query-write-rate", "query-read-rate", "cpu-read-rate"} {
		out[k] = map[string]float64{}
	}
	for _, s := range c.stores {
		if s.tombstone {
			continue
		}
		k := strconv.FormatUint(s.id, 10)
		var bytesRate float64
		for _, r := range c.regions {
			if r.peerOn(s.id) != nil {
				bytesRate += r.writeRate
			}
		}
		for name, m := range out {
			m[k] = 0
			switch name {
			case "bytes-write-rate":
				m[k] = bytesRate
			case "keys-write-rate":
				m[k] = bytesRate / 1024
			}
		}
	}
	return out
}

// ---- operators ----

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
		if !c.usable(to) || c.evicted(to) {
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
	c.ops[regionID] = &operator{
		name: name, created: c.now, confVer: reg.confVer, version: reg.version, kind: "admin",
		outcome: c.nextOutcome(),
		desc:    fmt.Sprintf("admin-split-region {split: region %d use policy %s}", regionID, pol),
		step:    "split region with policy " + pol,
	}
	return jsonOK("The operator is created.")
}

// errAddOperator is the real PD's answer to an operator on a region that
// has one pending (issue 11, recorded against PD v8.5).
const errAddOperator = "[PD:operator:ErrAddOperator]failed to add operator, maybe already have one"

// ---- schedulers ----

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

// ---- config ----

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
