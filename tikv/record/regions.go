package record

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"net/url"
	"slices"
	"strconv"
	"time"
)

// MaxRegionsPage is the most regions PD gives in one answer to GET
// /regions/key (it lowers a larger limit to it), and so the most regions
// one Regions line holds.
const MaxRegionsPage = 10240

// regionState is what the recorder keeps of the regions between reads: a
// digest of what a delta follows, per region.
type regionState struct {
	seen     map[uint64]regionMark
	round    uint32
	at       time.Time // the last read's time
	tried    bool
	reads    int
	needFull bool
}

type regionMark struct {
	digest uint64
	round  uint32
}

// regionPage is one answer to GET /regions/key.
type regionPage struct {
	Regions []json.RawMessage `json:"regions"`
}

// regionMeta is what a delta follows of a region, and what paging needs.
type regionMeta struct {
	ID           uint64          `json:"id"`
	StartKey     string          `json:"start_key"`
	EndKey       string          `json:"end_key"`
	Epoch        json.RawMessage `json:"epoch"`
	Leader       json.RawMessage `json:"leader"`
	Peers        json.RawMessage `json:"peers"`
	DownPeers    json.RawMessage `json:"down_peers"`
	PendingPeers json.RawMessage `json:"pending_peers"`
}

func (m *regionMeta) digest() uint64 {
	h := fnv.New64a()
	for _, b := range [][]byte{[]byte(m.StartKey), []byte(m.EndKey), m.Epoch, m.Leader, m.Peers, m.DownPeers, m.PendingPeers} {
		_, _ = h.Write(b)
		_, _ = h.Write([]byte{0})
	}
	return h.Sum64()
}

// readRegions reads every region, a page at a time, and writes them: all
// of them on the first read (and after a failed one), else what changed.
// A failure is written as the read's last line; only a failed write is
// returned.
func (r *Recorder) readRegions(ctx context.Context, now time.Time) error {
	st := &r.regions
	st.tried, st.at = true, now
	full := st.reads == 0 || st.needFull
	if full || st.seen == nil {
		st.seen = map[uint64]regionMark{}
	}
	st.round++
	key, count := "", 0
	var lastID uint64
	for {
		page, err := r.regionPage(ctx, key)
		if err != nil {
			r.cfg.Logger.DebugContext(ctx, "record: reading the regions failed", slog.Any("error", err))
			st.needFull = true
			r.sum.RegionFailures++
			r.sum.RegionLines++
			return r.w.Write(Entry{Kind: KindRegions, Regions: &Regions{At: now, Full: full, Count: count, Error: err.Error()}})
		}
		var changed []json.RawMessage
		next := ""
		for _, raw := range page.Regions {
			var m regionMeta
			if err := json.Unmarshal(raw, &m); err != nil || m.ID == 0 {
				err = errors.Join(fmt.Errorf("a region without an id"), err)
				st.needFull = true
				r.sum.RegionFailures++
				r.sum.RegionLines++
				return r.w.Write(Entry{Kind: KindRegions, Regions: &Regions{At: now, Full: full, Count: count, Error: "PD's answer: " + err.Error()}})
			}
			next = m.EndKey
			if m.ID == lastID {
				continue // returned again at a page boundary
			}
			lastID = m.ID
			count++
			d := m.digest()
			if old, ok := st.seen[m.ID]; full || !ok || old.digest != d {
				changed = append(changed, raw)
			}
			st.seen[m.ID] = regionMark{digest: d, round: st.round}
		}
		done := len(page.Regions) == 0 || next == ""
		if !done && next == key {
			err := fmt.Errorf("PD's page from key %q ends at the same key", key)
			st.needFull = true
			r.sum.RegionFailures++
			r.sum.RegionLines++
			return r.w.Write(Entry{Kind: KindRegions, Regions: &Regions{At: now, Full: full, Count: count, Error: err.Error()}})
		}
		if full || len(changed) > 0 || done {
			line := &Regions{At: now, Full: full, Count: count, Changed: changed, Done: done}
			if done {
				line.Removed = st.removed()
			}
			if err := r.w.Write(Entry{Kind: KindRegions, Regions: line}); err != nil {
				return err
			}
			r.sum.RegionLines++
		}
		if done {
			break
		}
		key = next
	}
	st.needFull = false
	st.reads++
	r.sum.RegionReads++
	r.sum.Regions = count
	return nil
}

// removed forgets the regions the read that just ended did not list, and
// returns their ids in order.
func (st *regionState) removed() []uint64 {
	var out []uint64
	for id, m := range st.seen {
		if m.round != st.round {
			out = append(out, id)
			delete(st.seen, id)
		}
	}
	slices.Sort(out)
	return out
}

// regionPage reads one page of regions from key (hex, "" for the start).
func (r *Recorder) regionPage(ctx context.Context, key string) (*regionPage, error) {
	path := "/pd/api/v1/regions/key?key=" + url.QueryEscape(key)
	if key != "" {
		path += "&format=hex"
	}
	path += "&limit=" + strconv.Itoa(r.cfg.RegionsPage)
	resp, err := r.cfg.PD.Raw(ctx, path)
	if err != nil {
		return nil, err
	}
	var p regionPage
	if err := json.Unmarshal(resp.Body, &p); err != nil {
		return nil, fmt.Errorf("PD's answer to %s: %w", path, err)
	}
	if len(p.Regions) > r.cfg.RegionsPage {
		return nil, fmt.Errorf("PD's answer to %s: %d regions, more than the %d asked for", path, len(p.Regions), r.cfg.RegionsPage)
	}
	return &p, nil
}
