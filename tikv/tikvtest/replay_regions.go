package tikvtest

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/kvops/operator/tikv/record"
)

// regionState is a replay's regions: the latest full snapshot with the
// deltas after it applied.
type regionState struct {
	seen   bool // a Regions line was applied: the region endpoints answer
	byID   map[uint64]*replayRegion
	order  []*replayRegion // by start key; nil when it must be sorted again
	fullAt time.Time       // the At of the snapshot being read, while its chunks come
	inFull bool
}

// replayRegion is one region as PD's answers carried it, with what the
// endpoints select it by.
type replayRegion struct {
	id      uint64
	raw     []byte // PD's region object, served as it is
	start   string // hex, uppercase, as PD shows it ("" for the first)
	end     string // "" for the last
	stores  []uint64
	voters  int
	down    bool
	pending bool
}

// regionObject is what the replay reads of a PD region object.
type regionObject struct {
	ID       uint64 `json:"id"`
	StartKey string `json:"start_key"`
	EndKey   string `json:"end_key"`
	Peers    []struct {
		StoreID   uint64 `json:"store_id"`
		IsLearner bool   `json:"is_learner"`
		RoleName  string `json:"role_name"`
	} `json:"peers"`
	DownPeers    []json.RawMessage `json:"down_peers"`
	PendingPeers []json.RawMessage `json:"pending_peers"`
}

func (s *regionState) apply(e *record.Regions) error {
	s.seen = true
	if e.Full && (!s.inFull || !e.At.Equal(s.fullAt)) {
		s.byID = make(map[uint64]*replayRegion, e.Count)
		s.inFull, s.fullAt = true, e.At
	} else if !e.Full {
		s.inFull = false
	}
	if s.byID == nil {
		s.byID = map[uint64]*replayRegion{}
	}
	for _, raw := range e.Changed {
		var o regionObject
		if err := json.Unmarshal(raw, &o); err != nil || o.ID == 0 {
			return fmt.Errorf("%w: a recorded region at %v is not PD's region object: %v", ErrBadArgument, e.At, err)
		}
		rr := &replayRegion{id: o.ID, raw: bytes.Clone(raw), start: strings.ToUpper(o.StartKey), end: strings.ToUpper(o.EndKey),
			down: len(o.DownPeers) > 0, pending: len(o.PendingPeers) > 0}
		for _, p := range o.Peers {
			rr.stores = append(rr.stores, p.StoreID)
			if !p.IsLearner && p.RoleName != "Learner" {
				rr.voters++
			}
		}
		s.byID[o.ID] = rr
	}
	for _, id := range e.Removed {
		delete(s.byID, id)
	}
	s.order = nil
	return nil
}

// sorted returns the regions in key order.
func (s *regionState) sorted() []*replayRegion {
	if s.order == nil {
		s.order = make([]*replayRegion, 0, len(s.byID))
		for _, r := range s.byID {
			s.order = append(s.order, r)
		}
		// Uppercase hex sorts as the keys it encodes.
		slices.SortFunc(s.order, func(a, b *replayRegion) int { return strings.Compare(a.start, b.start) })
	}
	return s.order
}

// answer serves the region endpoints (rest is the path under /pd/api/v1),
// when the recording has regions.
func (s *regionState) answer(req *http.Request, rest string) (response, bool) {
	if !s.seen {
		return response{}, false
	}
	all := func(keep func(*replayRegion) bool) response {
		var rs []*replayRegion
		for _, r := range s.sorted() {
			if keep(r) {
				rs = append(rs, r)
			}
		}
		return regionListRaw(rs)
	}
	switch {
	case rest == "/regions":
		return regionListRaw(s.sorted()), true
	case rest == "/regions/count":
		return jsonOK(map[string]any{"count": len(s.byID), "regions": nil}), true
	case rest == "/regions/check/down-peer":
		return all(func(r *replayRegion) bool { return r.down }), true
	case rest == "/regions/check/pending-peer":
		return all(func(r *replayRegion) bool { return r.pending }), true
	case rest == "/regions/check/miss-peer":
		return all(func(r *replayRegion) bool { return r.voters < 3 }), true
	case rest == "/regions/key":
		return s.byKey(req), true
	case strings.HasPrefix(rest, "/regions/store/"):
		id, err := strconv.ParseUint(rest[len("/regions/store/"):], 10, 64)
		if err != nil {
			return inputError(err), true
		}
		return all(func(r *replayRegion) bool { return slices.Contains(r.stores, id) }), true
	case strings.HasPrefix(rest, "/region/id/"):
		id, err := strconv.ParseUint(rest[len("/region/id/"):], 10, 64)
		if err != nil {
			return inputError(err), true
		}
		r := s.byID[id]
		if r == nil {
			return jsonStatus(http.StatusNotFound, regionNotFound(id)), true
		}
		return response{status: http.StatusOK, raw: true, rawBody: r.raw, contentType: contentRegions}, true
	}
	return response{}, false
}

// byKey serves /regions/key as [Cluster]'s getRegionsByKey does.
func (s *regionState) byKey(req *http.Request) response {
	limit := 16
	q := req.URL.Query()
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return jsonStatus(http.StatusBadRequest, err.Error())
		}
		limit = n
	}
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
	kh, eh := keyHex(key), keyHex(end)
	order := s.sorted()
	// The region holding key: the last one starting at or before it.
	at, found := slices.BinarySearchFunc(order, kh, func(r *replayRegion, k string) int { return strings.Compare(r.start, k) })
	if !found && at > 0 {
		at--
	}
	var rs []*replayRegion
	if len(end) == 0 || bytes.Compare(end, key) > 0 {
		for _, r := range order[at:] {
			if limit >= 0 && len(rs) >= limit || eh != "" && r.start >= eh && len(rs) > 0 {
				break
			}
			rs = append(rs, r)
		}
	}
	return regionListRaw(rs)
}

// regionListRaw writes PD's {"count":n,"regions":[...]} from the
// recorded region objects.
func regionListRaw(rs []*replayRegion) response {
	n := 32
	for _, r := range rs {
		n += len(r.raw) + 1
	}
	b := make([]byte, 0, n)
	b = append(b, `{"count":`...)
	b = strconv.AppendInt(b, int64(len(rs)), 10)
	b = append(b, `,"regions":[`...)
	for i, r := range rs {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, r.raw...)
	}
	b = append(b, "]}"...)
	return response{status: http.StatusOK, raw: true, rawBody: b, contentType: contentRegions}
}
