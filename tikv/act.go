package tikv

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/kvops/operator/pdclient"
	"github.com/kvops/operator/subject"
)

// act is one action under way.
type act struct {
	s   *Subject
	ctx context.Context
	r   *subject.Result
	dry bool
	// sent: a request that changes the cluster was sent and may have been
	// applied. Until then, a wait that ends without its effect changed
	// nothing and is a refusal, never unconfirmed.
	sent bool
	// prog is the progress of the action's current (or last) wait.
	prog *subject.Progress
}

// action runs one action: it logs before and after, times it, fills the
// result's common fields and turns the error into a *subject.ActionError:
// an error do returns before anything was sent is a refusal
// (PhaseRefused); one after a request was sent (a second removal failing
// after a first went through) is unconfirmed; submit and the waits return
// their own ActionErrors.
func (s *Subject) action(ctx context.Context, name, target string, do func(a *act) error) (subject.Result, error) {
	dry := s.dryRun || subject.IsDryRun(ctx)
	r := subject.Result{Action: name, Target: target, DryRun: dry, Started: s.clock()}
	s.log.InfoContext(ctx, "action starting", "action", name, "target", target, "dry_run", dry)
	a := &act{s: s, ctx: ctx, r: &r, dry: dry}
	err := do(a)
	r.Finished = s.clock()
	if err != nil {
		var ae *subject.ActionError
		switch {
		case errors.As(err, &ae):
		case a.sent:
			ae = &subject.ActionError{Phase: subject.PhaseUnconfirmed, Err: err,
				Reason: "failed after part of the action was sent: read the cluster before retrying"}
		default:
			ae = &subject.ActionError{Phase: subject.PhaseRefused, Err: err}
		}
		ae.Action, ae.Target = name, target
		s.log.WarnContext(ctx, "action failed", "action", name, "target", target, "dry_run", dry,
			"phase", ae.Phase, "status", ae.Status, "error", err)
		return r, fmt.Errorf("tikv: %w", ae)
	}
	s.log.InfoContext(ctx, "action done", "action", name, "target", target, "dry_run", dry,
		"summary", r.Summary, "took", r.Finished.Sub(r.Started))
	return r, nil
}

// submit sends the request that changes the cluster. pdclient decides
// whether a failed request may have been applied (pdclient.NotApplied),
// and submit only reports it: a request that provably changed nothing
// (PD's refusals, PD's own "no leader", a request never written) is
// returned as it is, which action makes a refusal; any other failure is
// unconfirmed, and its error matches subject.ErrUnconfirmed as the
// pdclient error does. submit never retries.
func (a *act) submit(send func() error) error {
	err := send()
	if err == nil {
		a.sent = true
		return nil
	}
	if pdclient.NotApplied(err) {
		return err
	}
	a.sent = true
	return &subject.ActionError{Phase: subject.PhaseUnconfirmed,
		Reason: "the request failed but may have been applied: read the cluster before retrying", Err: err}
}

// wait re-reads PD every poll interval until check reports done, returns
// a *subject.ActionError (which ends the wait with it), the bound ends or
// ctx ends; the last two give PhaseUnconfirmed once the action sent
// something, and a refusal when it sent nothing (nothing changed: the
// bound ending matches subject.ErrPrecondition). Other errors from check
// are failed reads: the wait goes on, and the last one is reported if the
// bound ends.
//
// check fills p with what its read showed (Seen, the counts, Status);
// wait adds the times and reports p (subject.ReportProgress) after every
// read, so progress costs no request of its own. A wait that ends without
// its effect carries the last progress in its error, and says in the
// reason what was left. A context that ends stops the wait at once: no
// read or report follows, and the read it cut short is not reported.
func (a *act) wait(bound time.Duration, what string, check func(p *subject.Progress) (bool, error)) error {
	s := a.s
	began := s.clock()
	deadline := began.Add(bound)
	p := &subject.Progress{Action: a.r.Action, Target: a.r.Target, Waiting: what, Bound: bound}
	a.prog = p
	var last error
	ended := func(err error) error {
		return a.waitEnded(fmt.Sprintf("%s not seen before the context ended", what), err, nil)
	}
	for {
		done, err := check(p)
		var ae *subject.ActionError
		isAE := errors.As(err, &ae)
		if cerr := a.ctx.Err(); cerr != nil && !isAE && (!done || err != nil) {
			// The read was cut short by the caller, who no longer
			// listens: what it got is not progress.
			return ended(cerr)
		}
		now := s.clock()
		p.Waited, p.Elapsed, p.Reads, p.ReadError = now.Sub(began), now.Sub(a.r.Started), p.Reads+1, ""
		if err != nil && !isAE {
			last = err
			p.ReadError = err.Error()
		}
		a.report()
		switch {
		case isAE:
			ae.Progress = a.last()
			return ae
		case err == nil && done:
			return nil
		}
		left := deadline.Sub(now)
		if left <= 0 {
			return a.waitEnded(fmt.Sprintf("%s not seen within %v", what, bound), last, subject.ErrPrecondition)
		}
		// A caller that cancelled from its progress function is not
		// made to wait for a sleep that may not honour ctx at once.
		if err := a.ctx.Err(); err != nil {
			return ended(err)
		}
		if err := s.sleep(a.ctx, min(s.acts.PollInterval, left)); err != nil {
			return ended(err)
		}
	}
}

// report hands the current progress to the caller and to the debug log.
func (a *act) report() {
	p := *a.prog
	if a.s.log.Enabled(a.ctx, slog.LevelDebug) {
		a.s.log.DebugContext(a.ctx, "action waiting", "action", p.Action, "target", p.Target, "progress", p.String())
	}
	subject.ReportProgress(a.ctx, p)
}

// last returns a copy of the progress of the action's last wait, nil
// when it has not waited.
func (a *act) last() *subject.Progress {
	if a.prog == nil || a.prog.Reads == 0 {
		return nil
	}
	p := *a.prog
	return &p
}

// waitEnded is the error of a wait that ended without its effect:
// unconfirmed once something was sent; otherwise a refusal that says
// nothing was sent, wrapping refusal (when not nil) and err.
func (a *act) waitEnded(reason string, err, refusal error) error {
	prog := a.last()
	if prog != nil {
		reason += fmt.Sprintf("; after %v, the last read showed: %s", prog.Waited.Round(time.Millisecond), cmp.Or(prog.Seen, "nothing yet"))
		if prog.Unit != "" {
			reason += fmt.Sprintf(" (%d %s left)", prog.Left, prog.Unit)
		}
	}
	if a.sent {
		return &subject.ActionError{Phase: subject.PhaseUnconfirmed, Reason: reason, Err: err, Progress: prog}
	}
	switch {
	case refusal != nil && err != nil:
		err = fmt.Errorf("%w: %w", refusal, err)
	case refusal != nil:
		err = refusal
	}
	return &subject.ActionError{Phase: subject.PhaseRefused, Reason: reason + "; this call sent nothing, so nothing changed", Err: err, Progress: prog}
}

// tracker follows the operator an action made on a region through
// GET /operators/{region_id}, which shows the region's latest operator,
// whoever made it. Ours is the first admin operator with our description
// that was not the latest before we submitted; after that, it is the one
// with the creation time we saw.
type tracker struct {
	a      *act
	region uint64
	desc   string // "admin-split-region"
	before string // CreateAt of the latest operator before we submitted
	ours   string // CreateAt of ours, once seen
	last   pdclient.OperatorStatus
	other  pdclient.OperatorStatus // a later operator that took ours' place
}

// pendingCheck refuses when the region has an operator PD has not ended:
// PD would refuse ours with ErrAddOperator. It returns the tracker the
// action uses once it has submitted.
func (a *act) pendingCheck(region subject.RegionID, desc string) (*tracker, error) {
	t := &tracker{a: a, region: uint64(region), desc: desc}
	st, err := a.s.pd.OperatorStatus(a.ctx, uint64(region))
	switch {
	case errors.Is(err, pdclient.ErrNotFound):
		return t, nil
	case err != nil:
		return nil, err
	}
	if st.Pending() {
		return nil, fmt.Errorf("region %d has an operator PD has not ended (%s: %s), and PD refuses a second one: %w",
			region, st.Raw, st.Text, subject.ErrPrecondition)
	}
	t.before = st.CreateAt
	return t, nil
}

// check reads the region's latest operator. It returns a PhaseFailed
// ActionError when PD ended ours with TIMEOUT, CANCEL or REPLACE, or when
// another operator took ours' place before ours showed its effect.
func (t *tracker) check() error {
	st, err := t.a.s.pd.OperatorStatus(t.a.ctx, t.region)
	if errors.Is(err, pdclient.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	mine := st.Admin() && st.Desc == t.desc && st.CreateAt != t.before && (t.ours == "" || st.CreateAt == t.ours)
	if !mine {
		if t.ours != "" && t.last.Pending() {
			t.other = st
			return &subject.ActionError{Phase: subject.PhaseFailed, Status: pdclient.OpReplace,
				Reason: fmt.Sprintf("PD replaced the operator: region %d's latest operator is now %s (%s)", t.region, st.Text, st.Raw)}
		}
		return nil
	}
	t.ours, t.last = st.CreateAt, st
	switch st.Status {
	case pdclient.OpTimeout, pdclient.OpCancel, pdclient.OpReplace:
		return &subject.ActionError{Phase: subject.PhaseFailed, Status: st.Status, Reason: "PD ended the operator: " + st.Text}
	}
	return nil
}

// note puts into p what the action's last reads showed: seen, said of
// the region, and the status of our operator as PD last showed it.
func (t *tracker) note(p *subject.Progress, seen string) {
	switch {
	case t.other.Text != "":
		p.Status = pdclient.OpReplace
		p.Seen = fmt.Sprintf("%s; PD replaced the operator with %s (%s)", seen, t.other.Desc, t.other.Status)
	case t.ours != "":
		p.Status = t.last.Status
		p.Seen = fmt.Sprintf("%s; PD's operator is %s", seen, t.last.Status)
	default:
		p.Seen = seen + "; PD shows no operator of ours yet"
	}
}

// finish turns a wait's end into the action's error: when the bound ended
// with our operator still pending in PD, it says so and cancels the
// operator unless Config.Actions.KeepPendingOperators.
func (t *tracker) finish(err error) error {
	var ae *subject.ActionError
	if !errors.As(err, &ae) || ae.Phase != subject.PhaseUnconfirmed || t.ours == "" || !t.last.Pending() {
		return err
	}
	ae.Status = t.last.Status
	ae.Reason += fmt.Sprintf("; PD still shows the operator %s: %s", t.last.Raw, t.last.Text)
	if t.a.s.acts.KeepPendingOperators {
		ae.Reason += "; left it pending, as configured: PD refuses other operators on the region until it ends"
		return ae
	}
	// The caller's context may be what ended; the cancel gets a moment of
	// its own.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(t.a.ctx), 10*time.Second)
	defer cancel()
	if cerr := t.a.s.pd.CancelOperator(ctx, t.region); cerr != nil && !errors.Is(cerr, pdclient.ErrNotFound) {
		ae.Reason += fmt.Sprintf("; cancelling it (DELETE /operators/%d) failed: %v", t.region, cerr)
		return ae
	}
	ae.Reason += fmt.Sprintf("; cancelled it (DELETE /operators/%d)", t.region)
	return ae
}
