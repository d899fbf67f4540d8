package tikvtest

import (
	"bytes"
	"encoding/hex"
	"net/http"
	"slices"
	"sort"
	"strconv"
)

// PD's regions API.

func (c *Cluster) regionJSON(r *region) regionJSON {
	out := regionJSON{
		ID: r.id, StartKey: keyHex(r.start), EndKey: keyHex(r.end),
		Epoch: epochJSON{ConfVer: r.confVer, Version: r.version},
		// written_bytes covers one region heartbeat interval (60 s).
		WrittenBytes: uint64(r.writeRate * 60), WrittenKeys: uint64(r.writeRate * 60 / 1024),
		ApproximateSize: regionSizeMiB, ApproximateKeys: regionKeys,
	}
	reports := c.reportsDownPeers(r)
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
		if s := c.stores[p.store-1]; reports && c.peersDown(s) {
			out.DownPeers = append(out.DownPeers, downPeerJSON{Peer: pj, DownSeconds: uint64(c.now.Sub(s.lastHeartbeat).Seconds())})
		}
	}
	return out
}

// anyDown reports whether a store's peers are down: only then may a
// region have a down peer.
func (c *Cluster) anyDown() bool {
	for _, s := range c.stores {
		if c.peersDown(s) {
			return true
		}
	}
	return false
}

// peersDown reports whether the store's peers are down, as the leaders of
// their regions report them: its process stopped longer ago than
// max-store-down-time. It goes by the store itself, not by PD's view of
// it, which after a PD leader change can be Down for a store that runs.
func (c *Cluster) peersDown(s *store) bool {
	return !s.running && !s.tombstone && c.now.Sub(s.lastHeartbeat) > c.cfg.maxStoreDownTime
}

// reportsDownPeers reports whether the region's leader tells PD of its
// down peers: a leader whose store does not run reports nothing, so PD
// shows no down peer for its region (the real PD of the conformance
// suite, its stores all stopped, showed none).
func (c *Cluster) reportsDownPeers(r *region) bool {
	ls := r.leaderStore()
	return ls != 0 && c.stores[ls-1].running
}

// hasDownPeer reports whether the region's leader reports a down peer.
func (c *Cluster) hasDownPeer(r *region) bool {
	if !c.reportsDownPeers(r) {
		return false
	}
	for _, p := range r.peers {
		if c.peersDown(c.stores[p.store-1]) {
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

// PD's hotspots API.

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
