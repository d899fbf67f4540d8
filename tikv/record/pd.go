package record

import (
	"bytes"
	"context"
	"encoding/json"
	"hash/fnv"
	"log/slog"
	"strconv"
	"time"
)

// pdState is what the recorder keeps of PD's answers: a digest of the
// last answer written per path.
type pdState struct {
	last map[string]uint64
}

// observePD reads every path and writes the answers that changed.
func (r *Recorder) observePD(ctx context.Context, now time.Time) error {
	for _, path := range r.cfg.Paths {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		e := r.readPD(ctx, now, path)
		if e.Status == 0 || e.Status > 299 {
			r.sum.PDFailures++
		}
		d := digest(e)
		if last, ok := r.pd.last[path]; ok && last == d {
			r.sum.PDUnchanged++
			continue
		}
		if err := r.w.Write(Entry{Kind: KindPD, PD: &e}); err != nil {
			return err
		}
		r.pd.last[path] = d
		r.sum.PDAnswers++
	}
	return nil
}

// readPD reads one path into a PD line: the answer PD sent, or the error
// when none came.
func (r *Recorder) readPD(ctx context.Context, now time.Time, path string) PD {
	e := PD{At: now, Path: path}
	resp, err := r.cfg.PD.Raw(ctx, path)
	if resp == nil {
		if err == nil { // cannot happen: Raw returns one or the other
			return e
		}
		r.cfg.Logger.DebugContext(ctx, "record: PD did not answer", slog.String("path", path), slog.Any("error", err))
		e.Error = err.Error()
		return e
	}
	e.Status, e.ContentType = resp.Status, resp.ContentType
	e.Body, e.Text = body(resp.Body)
	return e
}

// body returns b as a JSON value: itself when it is JSON, else a JSON
// string of its text (and true).
func body(b []byte) (json.RawMessage, bool) {
	if len(b) == 0 {
		return nil, false
	}
	if json.Valid(b) {
		var buf bytes.Buffer
		if json.Compact(&buf, b) == nil {
			return buf.Bytes(), false
		}
	}
	s, _ := json.Marshal(string(b))
	return s, true
}

// digest is what says whether an answer changed: everything but its time.
func digest(e PD) uint64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(strconv.Itoa(e.Status)))
	_, _ = h.Write([]byte{0})
	_, _ = h.Write([]byte(e.ContentType))
	_, _ = h.Write([]byte{0})
	_, _ = h.Write(e.Body)
	_, _ = h.Write([]byte{0})
	_, _ = h.Write([]byte(e.Error))
	return h.Sum64()
}
