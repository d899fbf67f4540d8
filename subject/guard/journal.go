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
// fail: the error is a *JournalError, which the caller hands on (see
// JournalError for where).
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
		return &JournalError{ID: rec.ID, Event: rec.Event, Action: rec.Action, Target: rec.Target, Err: err}
	}
	return nil
}

// JournalError is a record the guard could not write to [Config.Journal].
// The caller always sees it:
//
//   - before submission (the requested, approved or submitted record),
//     the action is refused with [ErrJournal] and nothing is sent;
//   - after submission (the outcome record), the action's error keeps its
//     phase and carries the JournalError too; an action that was
//     confirmed returns a nil error (it was done: a caller that retried
//     would repeat it) and the JournalError's text in its result's
//     Warnings. The guard's own state is
//     up to date, but the journal is not: replayed after a restart, it
//     shows the action submitted, and Replay checks it again;
//   - a dry run's record: its result, with an ErrJournal refusal;
//   - a refusal's record: the refusal, carrying it;
//   - Replay, Recheck and Resolve return it.
type JournalError struct {
	// ID, Event, Action and Target are those of the record not written.
	ID     string
	Event  Event
	Action string
	Target string
	// Err is the journal's error.
	Err error
}

// Error names the record and the cause.
func (e *JournalError) Error() string {
	return fmt.Sprintf("guard: journal: the %s record of %s %s (%s) was not written: %v", e.Event, e.Action, e.Target, e.ID, e.Err)
}

// Unwrap returns the journal's error.
func (e *JournalError) Unwrap() error { return e.Err }

// withJournalError adds jerr, the failure to record how req ended, to its
// error: the error stays a *subject.ActionError of the same phase whose Err
// also carries jerr. A nil err (a confirmed action, whose result carries
// the failure instead) and an error about the journal already are left as
// they are.
func withJournalError(req Request, err, jerr error) error {
	var je *JournalError
	if jerr == nil || err == nil || errors.As(err, &je) {
		return err
	}
	var ae *subject.ActionError
	if !errors.As(err, &ae) {
		return errors.Join(err, jerr)
	}
	cp := *ae
	cp.Err = errors.Join(ae.Err, jerr)
	return &cp
}

// Replay reads a journal written by a guard (JSON lines, as Config.Journal
// receives them; a [FileJournal]'s Records) and takes up where it stopped,
// before any action of this guard is let through; actions asked for
// meanwhile are refused with [ErrUnresolved]. It restores the cooldowns and
// the stores with leaders evicted, records as refused every action that
// stopped before it was submitted (nothing was sent), and then calls
// [Guard.Recheck] on every action found submitted whose outcome was never
// known. Last come the maintenance locks the journal shows this guard may
// hold (see [MaintenanceLock]): it holds again one whose action is still
// in effect, if the cluster still lists it, and releases the others, by
// their own type and id, never another tool's. New records go to
// Config.Journal, which may be the same file opened for appending.
//
// A line that is not a record of SchemaVersion is skipped and reported in
// the error, which matches subject.ErrInvalid. A last line that does not
// end in a newline (a crash, or a full disk, while writing it) is skipped
// too, whether or not it reads as a record, and reported as a
// *[TornTailError]: the guard writes each record whole, newline included,
// before acting on it, so such a record was never acted on. The error also
// carries Recheck's.
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
	var locks []Record // the maintenance locks it may hold
	for _, id := range order {
		rec := last[id]
		if rec.Lock != nil {
			if rec.Event == EventLockRequested || rec.Event == EventLockTaken {
				locks = append(locks, rec)
			}
			continue
		}
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
	if err := g.replayLocks(ctx, locks); err != nil {
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
	// The scanner drops the newlines: split remembers whether the last
	// line had one, and where each line starts.
	var off, start int64
	torn := false
	sc.Split(func(data []byte, atEOF bool) (int, []byte, error) {
		adv, tok, err := bufio.ScanLines(data, atEOF)
		if tok != nil {
			start = off
			off += int64(adv)
			torn = atEOF && adv == len(data) && (len(data) == 0 || data[len(data)-1] != '\n')
		}
		return adv, tok, err
	})
	for n := 1; sc.Scan(); n++ {
		line := sc.Bytes()
		if torn {
			errs = append(errs, tornTail(n, start, line))
			break
		}
		if len(line) == 0 {
			continue
		}
		var rec Record
		if err := json.Unmarshal(line, &rec); err != nil {
			errs = append(errs, fmt.Errorf("guard: journal line %d: %w: %w", n, subject.ErrInvalid, err))
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
// to Config.Confirm, which says whether it took effect. Without one,
// [DefaultConfirm] decides: a dry run answering NoChange (the cluster is
// already as the action would leave it) means it was applied; any other
// answer leaves it unknown. The outcome is recorded: EventConfirmed,
// EventNotApplied, or EventUnresolved when Confirm fails or cannot tell;
// the action then stays pending and disruptive actions stay refused until
// [Guard.Resolve] settles it.
func (g *Guard) Recheck(ctx context.Context) error {
	return g.recheck(ctx)
}

func (g *Guard) recheck(ctx context.Context) error {
	var errs []error
	for _, p := range g.Pending() {
		res, derr := g.invoke(subject.WithDryRun(ctx), p.Action, p.Args)
		confirm := g.confirm
		if confirm == nil {
			confirm = DefaultConfirm
		}
		r, err := confirm(ctx, Pending{Record: p, DryRun: res, DryRunErr: derr})
		if err != nil {
			errs = append(errs, fmt.Errorf("guard: confirming %s %s (%s): %w", p.Action, p.Target, p.ID, err))
			r = Resolution{Reason: "confirm failed: " + err.Error()}
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

// ByDryRun is the name [DefaultConfirm] records as the decider.
const ByDryRun = "guard: dry run"

// DefaultConfirm is the ConfirmFunc a guard uses without Config.Confirm.
// It decides OutcomeApplied, by [ByDryRun], when the fresh dry run
// succeeded, was a dry run, and reports NoChange: the cluster is already
// as the action would leave it. Any other answer is OutcomeUnknown, with
// the dry run's summary or error as the reason: "would still do it" does
// not prove the action was not applied (an eviction that left leaders
// behind, say). It never fails.
func DefaultConfirm(_ context.Context, p Pending) (Resolution, error) {
	switch {
	case p.DryRunErr != nil:
		return Resolution{By: ByDryRun, Reason: "the dry run was refused: " + p.DryRunErr.Error()}, nil
	case !p.DryRun.DryRun:
		return Resolution{By: ByDryRun, Reason: "the subject did not answer with a dry run"}, nil
	case p.DryRun.NoChange:
		return Resolution{Outcome: OutcomeApplied, By: ByDryRun, Reason: p.DryRun.Summary}, nil
	}
	return Resolution{By: ByDryRun, Reason: "the dry run would still act: " + p.DryRun.Summary}, nil
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
	err := g.write(ctx, rec)
	g.lockAfter(ctx, rec)
	return err
}
