package guard

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"

	"github.com/kvops/operator/subject"
)

// maxRecord bounds one journal line on Replay.
const maxRecord = 1 << 20

// write sends rec to the logger and the journal. Only the journal can
// fail; a failure after submission is logged, since the action cannot be
// taken back.
func (g *Guard) write(ctx context.Context, rec Record) error {
	level := slog.LevelInfo
	switch rec.Event {
	case EventRefused, EventFailed, EventUnconfirmed, EventUnresolved:
		level = slog.LevelWarn
	}
	attrs := []slog.Attr{
		slog.String("id", rec.ID), slog.String("event", string(rec.Event)),
		slog.String("action", rec.Action), slog.String("target", rec.Target), slog.String("mode", rec.Mode.String()),
	}
	for _, kv := range [][2]string{{"by", rec.By}, {"status", rec.Status}, {"reason", rec.Reason}, {"error", rec.Error}} {
		if kv[1] != "" {
			attrs = append(attrs, slog.String(kv[0], kv[1]))
		}
	}
	if rec.Result != nil && rec.Result.Summary != "" {
		attrs = append(attrs, slog.String("summary", rec.Result.Summary))
	}
	g.log.LogAttrs(ctx, level, "guard: "+string(rec.Event), attrs...)
	if g.journal == nil {
		return nil
	}
	b, err := json.Marshal(rec)
	if err == nil {
		g.jmu.Lock()
		_, err = g.journal.Write(append(b, '\n'))
		g.jmu.Unlock()
	}
	if err != nil {
		g.log.LogAttrs(ctx, slog.LevelError, "guard: journal not written", slog.String("id", rec.ID),
			slog.String("event", string(rec.Event)), slog.String("error", err.Error()))
		return fmt.Errorf("guard: journal: %w", err)
	}
	return nil
}

// Replay reads a journal written by a guard (JSON lines, as Config.Journal
// receives them) and takes up where it stopped, before any action of this
// guard is let through; actions asked for meanwhile are refused with
// [ErrUnresolved]. It restores the cooldowns and the stores with leaders
// evicted, records as refused every action that stopped before it was
// submitted (nothing was sent), and then calls [Guard.Recheck] on every
// action found submitted whose outcome was never known. New records go to
// Config.Journal, which may be the same file opened for appending.
//
// A line that is not a record of SchemaVersion is skipped and reported in
// the error, which matches subject.ErrInvalid; a last line cut short (a
// crash while writing it) is skipped silently, since the guard writes a
// record before acting on it. The error also carries Recheck's.
func (g *Guard) Replay(ctx context.Context, r io.Reader) error {
	g.mu.Lock()
	if g.replaying {
		g.mu.Unlock()
		return fmt.Errorf("guard: a replay is already running: %w", subject.ErrPrecondition)
	}
	g.replaying = true
	g.mu.Unlock()
	defer func() {
		g.mu.Lock()
		g.replaying = false
		g.mu.Unlock()
	}()

	last, order, errs := readJournal(r)
	for _, id := range order {
		rec := last[id]
		switch rec.Event {
		case EventRequested, EventApproved:
			rec.Schema, rec.Time, rec.Event = SchemaVersion, g.clock(), EventRefused
			rec.By, rec.Status, rec.Result = "", "", nil
			rec.Reason = "the guard stopped before submitting it; nothing was sent"
			rec.Error = ""
			if err := g.write(ctx, rec); err != nil {
				errs = append(errs, err)
			}
		case EventSubmitted, EventUnconfirmed, EventUnresolved, EventConfirmed, EventFailed, EventNotApplied:
			g.mu.Lock()
			g.ended(rec)
			g.mu.Unlock()
		}
	}
	if err := g.recheck(ctx); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// readJournal returns the last record of each action and the actions in
// the order of their last record.
func readJournal(r io.Reader) (map[string]Record, []string, []error) {
	last := map[string]Record{}
	var order []string
	var errs []error
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), maxRecord)
	var bad error
	for n := 1; sc.Scan(); n++ {
		if bad != nil {
			errs = append(errs, bad)
			bad = nil
		}
		line := sc.Bytes()
		if len(line) == 0 {
			continue
		}
		var rec Record
		if err := json.Unmarshal(line, &rec); err != nil {
			bad = fmt.Errorf("guard: journal line %d: %w: %w", n, subject.ErrInvalid, err)
			continue
		}
		if rec.Schema != SchemaVersion || rec.ID == "" || rec.Action == "" {
			errs = append(errs, fmt.Errorf("guard: journal line %d: schema %d, id %q, action %q: want schema %d with an id and an action: %w",
				n, rec.Schema, rec.ID, rec.Action, SchemaVersion, subject.ErrInvalid))
			continue
		}
		if _, seen := last[rec.ID]; seen {
			order = deleteID(order, rec.ID)
		}
		last[rec.ID] = rec
		order = append(order, rec.ID)
	}
	// bad, if set, was the last line: a record cut short by a crash.
	if err := sc.Err(); err != nil {
		errs = append(errs, fmt.Errorf("guard: reading the journal: %w", err))
	}
	return last, order, errs
}

func deleteID(ids []string, id string) []string {
	for i, v := range ids {
		if v == id {
			return append(ids[:i], ids[i+1:]...)
		}
	}
	return ids
}

// Recheck checks every pending action (see [Guard.Pending]) against the
// cluster: it runs the same action again as a dry run and hands the answer
// to Config.Confirm, which says whether it took effect. The outcome is
// recorded: EventConfirmed, EventNotApplied, or EventUnresolved when
// Confirm is nil, fails, or cannot tell; the action then stays pending and
// disruptive actions stay refused until [Guard.Resolve] settles it.
func (g *Guard) Recheck(ctx context.Context) error {
	return g.recheck(ctx)
}

func (g *Guard) recheck(ctx context.Context) error {
	var errs []error
	for _, p := range g.Pending() {
		res, derr := invoke(subject.WithDryRun(ctx), g.sub, p.Action, p.Args)
		r := Resolution{Reason: "no Config.Confirm to tell whether it took effect"}
		if g.confirm != nil {
			var err error
			r, err = g.confirm(ctx, Pending{Record: p, DryRun: res, DryRunErr: derr})
			if err != nil {
				errs = append(errs, fmt.Errorf("guard: confirming %s %s (%s): %w", p.Action, p.Target, p.ID, err))
				r = Resolution{Reason: "confirm failed: " + err.Error()}
			}
		}
		rec := p
		rec.Result = &res
		if derr != nil {
			rec.Result = nil
		}
		if err := g.settle(ctx, rec, r); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Resolve settles a pending action by hand, when someone has looked at the
// cluster: r.Outcome must be OutcomeApplied or OutcomeNotApplied, and r.By
// must name who decided. An id that is not pending is an error matching
// subject.ErrNotFound.
func (g *Guard) Resolve(ctx context.Context, id string, r Resolution) error {
	if r.Outcome != OutcomeApplied && r.Outcome != OutcomeNotApplied || r.By == "" {
		return fmt.Errorf("guard: a resolution needs an outcome, applied or not, and who decided: %w", subject.ErrInvalid)
	}
	g.mu.Lock()
	p, ok := g.pending[id]
	g.mu.Unlock()
	if !ok {
		return fmt.Errorf("guard: no pending action %q: %w", id, subject.ErrNotFound)
	}
	p.Result = nil
	return g.settle(ctx, p, r)
}

// settle records a resolution of pending action p.
func (g *Guard) settle(ctx context.Context, p Record, r Resolution) error {
	rec := p
	rec.Schema, rec.Time, rec.By, rec.Reason, rec.Status, rec.Error = SchemaVersion, g.clock(), r.By, r.Reason, "", ""
	rec.Mode = g.mode
	switch r.Outcome {
	case OutcomeApplied:
		rec.Event = EventConfirmed
	case OutcomeNotApplied:
		rec.Event = EventNotApplied
	default:
		rec.Event = EventUnresolved
	}
	g.mu.Lock()
	g.ended(rec)
	g.mu.Unlock()
	return g.write(ctx, rec)
}
