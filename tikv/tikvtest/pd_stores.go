package tikvtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/kvops/operator/logparse"
)

// PD's stores API.

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
	pdLast := c.pdHeartbeat(s)
	last := pdLast.UTC()
	if pdLast.IsZero() {
		// Registered, never heartbeaten (pd-bootstrap): PD knows no
		// sizes, no start, no heartbeat, and prints the zero times as
		// 1970.
		capacity, available, used, leaderSize, regionSize, regionScore = 0, 0, 0, 0, 0, 0
		start, last = time.Unix(0, 0).UTC(), time.Unix(0, 0).UTC()
	}
	out := storeJSON{
		Store: metaStoreJSON{
			ID: s.id, Address: s.address, Version: tikvVersion,
			StatusAddress: s.statusAddress, GitHash: tikvGitHash,
			StartTimestamp: s.startTime.Unix(), DeployPath: "/opt/tikv/bin",
			LastHeartbeat: unixNano(pdLast), NodeState: 1, StateName: name,
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
	if up := pdLast.Sub(s.startTime); up > 0 {
		out.Status.Uptime = up.String()
	}
	if pdLast.IsZero() {
		out.Store.NodeState, out.Store.StartTimestamp = 0, 0
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

// unixNano is t in nanoseconds since 1970, or 0 for the zero time (PD
// leaves last_heartbeat out then).
func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// getStores serves GET /stores: ?state= takes metapb.StoreState numbers (0
// Up, 1 Offline, 2 Tombstone); without it, Tombstone stores are left out.
func (c *Cluster) getStores(r *http.Request) response {
	want, err := storeStates(r.URL.Query())
	if err != nil {
		return jsonStatus(http.StatusBadRequest, err.Error())
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

// storeStates reads GET /stores' ?state= as PD does: metapb.StoreState
// numbers (0 Up, 1 Offline, 2 Tombstone), repeatable; without it, Up and
// Offline (Tombstone stores are left out).
func storeStates(q url.Values) (map[int]bool, error) {
	vs, ok := q["state"]
	if !ok {
		return map[int]bool{0: true, 1: true}, nil
	}
	want := map[int]bool{}
	for _, v := range vs {
		n, err := strconv.Atoi(v)
		if err != nil {
			return nil, err
		}
		want[n] = true
	}
	return want, nil
}
