package record

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/kvops/operator/subject"
)

// Cut writes to w the part of the recording r between from and to: a
// recording that replays from from as the whole one does. PD's latest
// answer to each path before from is written at from; the regions as the
// reads before from left them are written as one Full read at from (in
// key order, pages of MaxRegionsPage); then the entries of [from, to], and
// the series clipped to it.
//
// Cut holds the latest answer per path and the regions as of from in
// memory (about a kilobyte a region), nothing of the rest. A recording
// that is cut short or damaged ends the cut with the reader's error, the
// output then having no end line. from after to matches
// subject.ErrInvalid.
func Cut(w io.Writer, r *Reader, from, to time.Time) error {
	if from.After(to) {
		return fmt.Errorf("record: cut from %v to %v: %w: from is after to", from, to, subject.ErrInvalid)
	}
	h := r.Header()
	if h.Start.After(from) {
		from = h.Start
	}
	if h.End.Before(to) && !h.End.Before(from) {
		to = h.End
	}
	h.Start, h.End = from, to
	if h.End.Before(h.Start) {
		h.End = h.Start
	}
	cw, err := NewWriter(w, h)
	if err != nil {
		return err
	}
	c := &cutter{w: cw, from: from, to: to, latest: map[string]*PD{}, regions: map[uint64]json.RawMessage{}}
	for {
		e, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		if err := c.add(e); err != nil {
			return err
		}
	}
	if err := c.emitState(); err != nil {
		return err
	}
	return cw.Close(from)
}

type cutter struct {
	w        *Writer
	from, to time.Time
	emitted  bool
	// Before from: the latest answer per path, in the order the paths
	// first came, and the regions as of the last whole read.
	paths   []string
	latest  map[string]*PD
	regions map[uint64]json.RawMessage
	read    *pendingRead
}

// pendingRead is a read of the regions whose last line has not come yet.
type pendingRead struct {
	full    bool
	changed map[uint64]json.RawMessage
	removed []uint64
}

func (c *cutter) add(e Entry) error {
	if e.Kind == KindEnd {
		return nil
	}
	if e.Series != nil {
		return c.series(e.Series)
	}
	at := e.At()
	if at.Before(c.from) {
		return c.before(e)
	}
	if at.After(c.to) {
		return nil
	}
	if err := c.emitState(); err != nil {
		return err
	}
	return c.w.Write(e)
}

// before keeps what an entry before from says of the state at from.
func (c *cutter) before(e Entry) error {
	switch {
	case e.PD != nil:
		if _, ok := c.latest[e.PD.Path]; !ok {
			c.paths = append(c.paths, e.PD.Path)
		}
		c.latest[e.PD.Path] = e.PD
	case e.Regions != nil:
		rg := e.Regions
		if c.read == nil {
			c.read = &pendingRead{full: rg.Full, changed: map[uint64]json.RawMessage{}}
		}
		if rg.Error != "" {
			c.read = nil
			return nil
		}
		for _, raw := range rg.Changed {
			var m struct {
				ID uint64 `json:"id"`
			}
			if err := json.Unmarshal(raw, &m); err != nil {
				return fmt.Errorf("record: a region at %v: %w: %w", rg.At, subject.ErrInvalid, err)
			}
			c.read.changed[m.ID] = raw
		}
		c.read.removed = append(c.read.removed, rg.Removed...)
		if rg.Done {
			if c.read.full {
				c.regions = c.read.changed
			} else {
				for id, raw := range c.read.changed {
					c.regions[id] = raw
				}
			}
			for _, id := range c.read.removed {
				delete(c.regions, id)
			}
			c.read = nil
		}
	}
	return nil
}

// emitState writes, once, the state at from: the latest answers and the
// regions.
func (c *cutter) emitState() error {
	if c.emitted {
		return nil
	}
	c.emitted = true
	for _, p := range c.paths {
		pd := *c.latest[p]
		pd.At = c.from
		if err := c.w.Write(Entry{Kind: KindPD, PD: &pd}); err != nil {
			return err
		}
	}
	c.latest = nil
	if len(c.regions) == 0 {
		return nil
	}
	type keyed struct {
		key string
		raw json.RawMessage
	}
	all := make([]keyed, 0, len(c.regions))
	for _, raw := range c.regions {
		var m struct {
			StartKey string `json:"start_key"`
		}
		_ = json.Unmarshal(raw, &m) // an id decoded already
		all = append(all, keyed{m.StartKey, raw})
	}
	c.regions = nil
	slices.SortFunc(all, func(a, b keyed) int { return strings.Compare(a.key, b.key) })
	for i := 0; i < len(all); i += MaxRegionsPage {
		end := min(i+MaxRegionsPage, len(all))
		line := &Regions{At: c.from, Full: true, Count: end, Done: end == len(all), Changed: make([]json.RawMessage, 0, end-i)}
		for _, k := range all[i:end] {
			line.Changed = append(line.Changed, k.raw)
		}
		if err := c.w.Write(Entry{Kind: KindRegions, Regions: line}); err != nil {
			return err
		}
	}
	return nil
}

// series writes the part of a chunk within [from, to].
func (c *cutter) series(s *Series) error {
	if s.To.Before(c.from) || s.From.After(c.to) {
		return nil
	}
	out := *s
	out.Samples = nil
	for _, smp := range s.Samples {
		if !smp.T.Before(c.from) && !smp.T.After(c.to) {
			out.Samples = append(out.Samples, smp)
		}
	}
	if len(out.Samples) == 0 {
		return nil
	}
	if out.From.Before(c.from) {
		out.From = c.from
	}
	if out.To.After(c.to) {
		out.To = c.to
	}
	if err := c.emitState(); err != nil {
		return err
	}
	return c.w.Write(Entry{Kind: KindSeries, Series: &out})
}
