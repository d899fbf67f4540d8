package guard

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"golang.org/x/time/rate"

	"github.com/kvops/operator/subject"
)

// ticket is an admitted action's hold on the guard until it ends.
type ticket struct {
	ctx    context.Context // cancelled by Kill until submitted
	cancel context.CancelCauseFunc
	slot   bool // holds the disruptive slot
	res    *rate.Reservation
	sent   bool // submitted: its rate token is spent
}

// run runs an action through the guard's rules and tells Config.OnAction
// how it ended.
func (g *Guard) run(ctx context.Context, action string, a Args) (subject.Result, error) {
	if g.onAction == nil {
		return g.act(ctx, action, a, nil)
	}
	var tr trace
	res, err := g.act(ctx, action, a, &tr)
	g.report(action, &tr, res, err)
	return res, err
}

// act runs an action through the guard's rules, noting in tr (when not
// nil) whether it was approved and when it was submitted.
func (g *Guard) act(ctx context.Context, action string, a Args, tr *trace) (subject.Result, error) {
	req := Request{ID: g.newID(), Action: action, Target: target(action, a), Args: a, Disruptive: g.disruptive[action]}
	dry := g.mode == ModeDryRun || subject.IsDryRun(ctx)
	if err := g.write(ctx, g.record(req, EventRequested)); err != nil {
		return g.journalRefused(ctx, req, err)
	}
	t, err := g.admit(ctx, req, dry)
	if err != nil {
		return g.refused(ctx, req, "", err)
	}
	defer g.release(req, t)

	if req.Disruptive && !dry {
		if err := g.blastRadius(t.ctx, req); err != nil {
			return g.refused(ctx, req, "", g.killedOr(t, err))
		}
		if err := g.CheckStable(t.ctx, gateStore(action, a)); err != nil {
			return g.refused(ctx, req, "", g.killedOr(t, err))
		}
	}

	res, err := g.invoke(subject.WithDryRun(t.ctx), action, a)
	switch {
	case err != nil:
		// The subject refused (or could not read what it needed):
		// nothing was submitted.
		return g.refused(ctx, req, "", g.killedOr(t, err))
	case !res.DryRun:
		// The subject ignored the dry run and may have acted.
		var err error = &subject.ActionError{Action: action, Target: req.Target, Phase: subject.PhaseUnconfirmed,
			Reason: "the subject did not honour subject.WithDryRun; the action may have been applied"}
		jerr := g.write(ctx, g.outcome(req, EventSubmitted, res, nil))
		res, err = g.finish(ctx, req, t, res, err)
		return res, withJournalError(req, err, jerr)
	case dry:
		rec := g.record(req, EventDryRun)
		rec.Result = &res
		if err := g.write(ctx, rec); err != nil {
			return res, &subject.ActionError{Action: req.Action, Target: req.Target, Phase: subject.PhaseRefused,
				Reason: "the dry run's record was not written", Err: fmt.Errorf("%w: %w", ErrJournal, err)}
		}
		return res, nil
	}
	req.DryRun = res

	by, err := g.approval(t.ctx, req)
	if err != nil {
		return g.refused(ctx, req, by, g.killedOr(t, err))
	}
	if tr != nil {
		tr.approved = true
	}
	rec := g.record(req, EventApproved)
	rec.By, rec.Result = by, &req.DryRun
	if err := g.write(ctx, rec); err != nil {
		return g.journalRefused(ctx, req, err)
	}
	if req.Disruptive {
		// The cluster may have changed while the approver decided (a
		// person may take minutes): the blast radius and the stability
		// gate are read again, still holding the disruptive slot, right
		// before the action is sent.
		if err := g.recheckBeforeSubmit(t.ctx, req); err != nil {
			return g.refused(ctx, req, by, g.killedOr(t, err))
		}
	}
	// Leadership last, holding the slot: the nearest to the write the
	// guard can fence it (see Leadership). Then the cluster's maintenance
	// lock, which only the leader may take.
	if err := g.checkLeader(t.ctx, req); err != nil {
		return g.refused(ctx, req, "", g.killedOr(t, err))
	}
	if err := g.takeLock(t.ctx, req); err != nil {
		return g.refused(ctx, req, "", g.killedOr(t, err))
	}
	if err := g.submit(req, t); err != nil {
		return g.refused(ctx, req, "", err)
	}
	// The journal syncs the submitted record (a FileJournal does) before
	// the request goes out.
	if err := g.write(ctx, g.record(req, EventSubmitted)); err != nil {
		return g.journalRefused(ctx, req, err)
	}
	if tr != nil {
		tr.submitted = g.clock()
	}
	res, err = g.invoke(ctx, action, a)
	return g.finish(ctx, req, t, res, err)
}

// admit checks the rules that need no I/O and, for an action that will be
// submitted, takes its place: the disruptive slot and a rate token.
func (g *Guard) admit(ctx context.Context, req Request, dry bool) (*ticket, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	now := g.clock()
	switch {
	case g.mode == ModeObserveOnly:
		return nil, refusedBy(req, ErrObserveOnly, "the guard is in observe-only mode")
	case g.killed:
		return nil, refusedBy(req, ErrKilled, "the kill switch is engaged")
	}
	t := &ticket{}
	t.ctx, t.cancel = context.WithCancelCause(ctx)
	if dry {
		g.waiting[req.ID] = t.cancel
		return t, nil
	}
	if g.replaying {
		t.cancel(nil)
		return nil, refusedBy(req, ErrUnresolved, "the journal is being replayed")
	}
	if req.Disruptive {
		if g.busy != nil {
			t.cancel(nil)
			return nil, refusedBy(req, ErrBusy, fmt.Sprintf("%s %s (%s) is in flight", g.busy.Action, g.busy.Target, g.busy.ID))
		}
		if len(g.pending) > 0 {
			p := slices.MinFunc(slices.Collect(maps.Values(g.pending)), func(a, b Record) int { return a.Time.Compare(b.Time) })
			t.cancel(nil)
			return nil, refusedBy(req, ErrUnresolved, fmt.Sprintf("%s %s (%s) was submitted and its outcome is unknown; see Guard.Pending", p.Action, p.Target, p.ID))
		}
	}
	c := g.cooldowns[req.Action]
	if until := g.lastAction[req.Action].Add(c.Action); c.Action > 0 && now.Before(until) {
		t.cancel(nil)
		return nil, refusedBy(req, ErrCooldown, fmt.Sprintf("%s cools down until %s", req.Action, until.Format(time.RFC3339Nano)))
	}
	if until := g.lastTarget[[2]string{req.Action, req.Target}].Add(c.Target); c.Target > 0 && now.Before(until) {
		t.cancel(nil)
		return nil, refusedBy(req, ErrCooldown, fmt.Sprintf("%s on %s cools down until %s", req.Action, req.Target, until.Format(time.RFC3339Nano)))
	}
	r := g.lim.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		t.cancel(nil)
		return nil, refusedBy(req, ErrRateLimited, fmt.Sprintf("the next action is allowed at %s", now.Add(d).Format(time.RFC3339Nano)))
	}
	t.res = r
	if req.Disruptive {
		g.busy, t.slot = &req, true
	}
	g.waiting[req.ID] = t.cancel
	return t, nil
}

// blastRadius refuses a disruptive action while a store other than its
// own has its leaders evicted, by anyone, and an action that takes the
// maintenance lock while another task holds it.
func (g *Guard) blastRadius(ctx context.Context, req Request) error {
	ev, err := g.Evictions(ctx)
	if err != nil {
		return fmt.Errorf("guard: reading the evicted stores: %w", err)
	}
	own := gateStore(req.Action, req.Args)
	for _, e := range ev {
		if e.Store == own {
			continue
		}
		switch {
		case e.By == subject.ByCluster:
			return refusedBy(req, ErrBusy, fmt.Sprintf("store %d has its leaders evicted by the cluster itself (%s), which lifts that by itself; wait until it does", e.Store, e.Scheduler))
		case e.Scheduler != "":
			return refusedBy(req, ErrBusy, fmt.Sprintf("store %d has its leaders evicted (%s); restore them first", e.Store, e.Scheduler))
		}
		return refusedBy(req, ErrBusy, fmt.Sprintf("store %d has its leaders evicted; restore them first", e.Store))
	}
	return g.checkLock(ctx, req)
}

// recheckBeforeSubmit reads the blast radius and the stability gate
// again after approval; a refusal says that the cluster changed since the
// approver saw it.
func (g *Guard) recheckBeforeSubmit(ctx context.Context, req Request) error {
	err := g.blastRadius(ctx, req)
	if err == nil {
		err = g.CheckStable(ctx, gateStore(req.Action, req.Args))
	}
	if err == nil {
		return nil
	}
	var ae *subject.ActionError
	if !errors.As(err, &ae) {
		ae = &subject.ActionError{Action: req.Action, Target: req.Target, Phase: subject.PhaseRefused, Err: err}
	}
	ae.Reason = joinReason("the cluster changed while the action awaited approval", ae.Reason)
	return ae
}

func joinReason(a, b string) string {
	if b == "" {
		return a
	}
	return a + ": " + b
}

// approval returns who approved req, or why not. In ModeApproveEach the
// approver has Config.ApprovalTimeout to decide; past it the action is
// refused with ErrApprovalExpired, even if an answer comes later.
func (g *Guard) approval(ctx context.Context, req Request) (string, error) {
	if g.mode == ModeAutomatic {
		return "automatic", nil
	}
	actx, cancel := context.WithTimeoutCause(ctx, g.approvalTimeout, ErrApprovalExpired)
	defer cancel()
	a, err := g.approve(actx, req)
	if ctx.Err() == nil && errors.Is(context.Cause(actx), ErrApprovalExpired) {
		return a.By, refusedBy(req, ErrApprovalExpired, fmt.Sprintf("no decision within %v (Config.ApprovalTimeout)", g.approvalTimeout))
	}
	switch {
	case err != nil:
		return a.By, &subject.ActionError{Action: req.Action, Target: req.Target, Phase: subject.PhaseRefused,
			Reason: "the approver failed", Err: fmt.Errorf("%w: %w", subject.ErrNotApproved, err)}
	case !a.Approved:
		return a.By, &subject.ActionError{Action: req.Action, Target: req.Target, Phase: subject.PhaseRefused,
			Reason: fmt.Sprintf("refused by %q: %s", a.By, a.Reason), Err: subject.ErrNotApproved}
	case a.By == "":
		return "", &subject.ActionError{Action: req.Action, Target: req.Target, Phase: subject.PhaseRefused,
			Reason: "the approval does not say who approved", Err: subject.ErrNotApproved}
	}
	return a.By, nil
}

// submit ends the action's wait: from here Kill no longer stops it. A
// disruptive action is refused if an action became pending while it
// waited (a non-disruptive one that ended unconfirmed).
func (g *Guard) submit(req Request, t *ticket) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.killed {
		return refusedBy(req, ErrKilled, "the kill switch was engaged before submission")
	}
	if req.Disruptive && t.slot && len(g.pending) > 0 {
		p := slices.MinFunc(slices.Collect(maps.Values(g.pending)), func(a, b Record) int { return a.Time.Compare(b.Time) })
		return refusedBy(req, ErrUnresolved, fmt.Sprintf("%s %s (%s) was submitted while this action awaited approval and its outcome is unknown; see Guard.Pending", p.Action, p.Target, p.ID))
	}
	delete(g.waiting, req.ID)
	t.sent = true
	return nil
}

// killedOr returns ErrKilled's refusal when the kill switch cancelled the
// wait that produced err, err otherwise.
func (g *Guard) killedOr(t *ticket, err error) error {
	if errors.Is(context.Cause(t.ctx), ErrKilled) {
		return refusedBy(Request{}, ErrKilled, "the kill switch was engaged while the action waited")
	}
	return err
}

// release gives back what admit took, and the rate token of an action
// refused before it was sent.
func (g *Guard) release(req Request, t *ticket) {
	t.cancel(nil)
	g.mu.Lock()
	defer g.mu.Unlock()
	delete(g.waiting, req.ID)
	if t.slot {
		g.busy = nil
	}
	if t.res != nil && !t.sent {
		t.res.CancelAt(g.clock())
	}
}

// finish records how a submitted action ended and what it leaves behind,
// and returns its result and error: the subject's *subject.ActionError as
// it is, any other error wrapped in one with the phase classify read from
// it. A confirmed action whose record the journal could not write stays
// confirmed (a nil error: retrying it would repeat it); the journal's
// failure is in the result's Warnings.
func (g *Guard) finish(ctx context.Context, req Request, t *ticket, res subject.Result, err error) (subject.Result, error) {
	ev, status, reason := classify(err)
	var ae *subject.ActionError
	if err != nil && !errors.As(err, &ae) {
		err = &subject.ActionError{Action: req.Action, Target: req.Target, Phase: phases[ev], Err: err}
	}
	rec := g.outcome(req, ev, res, err)
	rec.Status, rec.Reason = status, reason
	g.mu.Lock()
	if ev == EventRefused {
		if t.res != nil {
			t.res.CancelAt(g.clock())
		}
	} else {
		g.ended(rec)
	}
	g.mu.Unlock()
	jerr := g.write(ctx, rec)
	if w := g.lockAfter(ctx, rec); w != "" {
		res.Warnings = append(res.Warnings, w)
	}
	if err == nil && jerr != nil {
		res.Warnings = append(res.Warnings, jerr.Error())
		return res, nil
	}
	return res, withJournalError(req, err, jerr)
}

// phases maps the events that end a submission to the phase of its error.
var phases = map[Event]subject.Phase{
	EventRefused: subject.PhaseRefused, EventFailed: subject.PhaseFailed,
	EventUnconfirmed: subject.PhaseUnconfirmed, EventConfirmed: subject.PhaseConfirmed,
}

// ended updates the guard's state for a record that ends or leaves
// pending a submitted action. g.mu is held.
func (g *Guard) ended(rec Record) {
	g.lastAction[rec.Action] = rec.Time
	g.lastTarget[[2]string{rec.Action, rec.Target}] = rec.Time
	if rec.Event.pending() {
		g.pending[rec.ID] = rec
	} else {
		delete(g.pending, rec.ID)
	}
	switch {
	case evicts(rec.Action) && rec.Event != EventFailed && rec.Event != EventNotApplied:
		g.evicted[rec.Args.Store] = true
	case evicts(rec.Action):
		delete(g.evicted, rec.Args.Store)
	case (rec.Action == ActionRestoreLeaders || rec.Action == ActionFinishRestart) && rec.Event == EventConfirmed:
		delete(g.evicted, rec.Args.Store)
	}
}

// evicts tells the actions that evict their store's leaders.
func evicts(action string) bool {
	return action == ActionEvictLeaders || action == ActionPrepareRestart
}

// classify reads an action's error: how it ended, with the subject's
// status and reason. An error that is not a *subject.ActionError and
// matches none of the refusal sentinels may have come after the request
// was sent, so it counts as unconfirmed.
func classify(err error) (ev Event, status, reason string) {
	if err == nil {
		return EventConfirmed, "", ""
	}
	var ae *subject.ActionError
	if errors.As(err, &ae) {
		switch ae.Phase {
		case subject.PhaseRefused:
			return EventRefused, ae.Status, ae.Reason
		case subject.PhaseFailed:
			return EventFailed, ae.Status, ae.Reason
		case subject.PhaseConfirmed:
			return EventConfirmed, ae.Status, ae.Reason
		}
		return EventUnconfirmed, ae.Status, ae.Reason
	}
	// An error that says it may have been applied is unconfirmed whatever
	// else it matches: the safe reading.
	if errors.Is(err, subject.ErrUnconfirmed) {
		return EventUnconfirmed, "", ""
	}
	for _, s := range []error{subject.ErrNotFound, subject.ErrInvalid, subject.ErrPrecondition, subject.ErrNotSupported, subject.ErrNotApproved} {
		if errors.Is(err, s) {
			return EventRefused, "", ""
		}
	}
	if errors.Is(err, subject.ErrActionFailed) {
		return EventFailed, "", ""
	}
	return EventUnconfirmed, "", ""
}

// refusedBy is the guard's refusal of req under rule.
func refusedBy(req Request, rule error, reason string) error {
	return &subject.ActionError{Action: req.Action, Target: req.Target, Phase: subject.PhaseRefused, Reason: reason, Err: rule}
}

// refuse records and returns the guard's refusal of req under rule.
func (g *Guard) refuse(ctx context.Context, req Request, by string, rule error, reason string) (subject.Result, error) {
	return g.refused(ctx, req, by, refusedBy(req, rule, reason))
}

// refused records a refusal and returns it as a *subject.ActionError in
// subject.PhaseRefused: err itself when it is one (given req's action and
// target when the guard made it without them), otherwise wrapping err.
func (g *Guard) refused(ctx context.Context, req Request, by string, err error) (subject.Result, error) {
	var ae *subject.ActionError
	switch {
	case !errors.As(err, &ae):
		ae = &subject.ActionError{Action: req.Action, Target: req.Target, Phase: subject.PhaseRefused, Err: err}
		err = ae
	case ae.Action == "":
		ae.Action, ae.Target = req.Action, req.Target
	}
	rec := g.record(req, EventRefused)
	rec.By, rec.Error, rec.Status, rec.Reason = by, err.Error(), ae.Status, ae.Reason
	jerr := g.write(ctx, rec)
	// A refusal after the lock was taken (the kill switch, the journal)
	// releases it.
	g.lockAfter(ctx, rec)
	return subject.Result{Action: req.Action, Target: req.Target}, withJournalError(req, err, jerr)
}

// journalRefused refuses req because its record (jerr, a *JournalError)
// was not written before submission: [ErrJournal].
func (g *Guard) journalRefused(ctx context.Context, req Request, jerr error) (subject.Result, error) {
	return g.refused(ctx, req, "", &subject.ActionError{Action: req.Action, Target: req.Target, Phase: subject.PhaseRefused,
		Reason: "the journal could not record it, so it was not sent", Err: fmt.Errorf("%w: %w", ErrJournal, jerr)})
}

func (g *Guard) record(req Request, ev Event) Record {
	return Record{
		Schema: SchemaVersion, Time: g.clock(), ID: req.ID, Event: ev,
		Action: req.Action, Target: req.Target, Args: req.Args, Mode: g.mode, Disruptive: req.Disruptive,
	}
}

func (g *Guard) outcome(req Request, ev Event, res subject.Result, err error) Record {
	rec := g.record(req, ev)
	if ev != EventSubmitted {
		rec.Result = &res
	}
	if err != nil {
		rec.Error = err.Error()
	}
	return rec
}
