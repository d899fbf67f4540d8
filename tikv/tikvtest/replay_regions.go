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

// regionState is a replay's regions: as the last whole read of them left
// them.
type regionState struct {
	seen  bool // a whole read was applied: the region endpoints answer
	byID  map[uint64]*replayRegion
	order []*replayRegion // by start key; nil when it must be sorted again
	read  *regionRead     // the read whose lines are being applied
}

// regionRead is a read of the regions whose last line has not been
// applied yet.
type regionRead struct {
	at      time.Time
	full    bool
	changed []*replayRegion
	removed []uint64
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

// apply applies one line of a read of the regions: the read takes effect
// at its last line (Done); a read that failed (a line with Error), or
// that a line of another time interrupts, is ignored whole. A read of
// what changed before any whole read has nothing to change and is
// ignored too. A whole read that does not add up to the count its last
// line says is ErrBadArgument.
func (s *regionState) apply(e *record.Regions) error {
	if s.read != nil && !e.At.Equal(s.read.at) {
		s.read = nil // never ended: ignored
	}
	if s.read == nil {
		s.read = &regionRead{at: e.At, full: e.Full}
	}
	if e.Error != "" {
		s.read = nil
		return nil
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
		s.read.changed = append(s.read.changed, rr)
	}
	s.read.removed = append(s.read.removed, e.Removed...)
	if !e.Done {
		return nil
	}
	rd := s.read
	s.read = nil
	switch {
	case rd.full:
		s.byID = make(map[uint64]*replayRegion, len(rd.changed))
	case !s.seen:
		return nil
	}
	for _, rr := range rd.changed {
		s.byID[rr.id] = rr
	}
	for _, id := range rd.removed {
		delete(s.byID, id)
	}
	s.seen, s.order = true, nil
	if len(s.byID) != e.Count {
		return fmt.Errorf("%w: the read of the regions at %v counts %d regions, the recording's reads add up to %d", ErrBadArgument, e.At, e.Count, len(s.byID))
	}
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
