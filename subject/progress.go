package subject

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Progress is what an action that waits for its effect saw at its last
// read of the cluster: what it waits for, what is left, the cluster's own
// status of the operation, and the time spent against the wait's bound.
//
// An action reports one after every read of its wait (see [WithProgress]).
// It carries only what that read returned: reporting it costs the cluster
// no request.
type Progress struct {
	// Action and Target are those of the action's [Result].
	Action string
	Target string
	// Waiting says what the action waits to see ("store 3 leading at most
	// 0 regions"). An action may wait for several things in turn
	// (FinishRestart: the store Up, then its leaders back).
	Waiting string
	// Seen says in a sentence what the last read showed ("store 3 still
	// leads 40 regions").
	Seen string
	// Left counts what is still to go, in Unit ("leaders", "regions"), of
	// Total when the wait began. Unit is empty when the wait counts
	// nothing (a split, a leader transfer), and then Left and Total are 0.
	// Left may grow: a scheduler can bring leaders back.
	Left  int
	Total int
	Unit  string
	// Status is the cluster's own status of the operation waited on (PD's
	// operator status: "CREATED", "RUNNING", "SUCCESS", "TIMEOUT",
	// "CANCEL", "REPLACE"), empty when there is none or none was read yet.
	Status string
	// Waited is how long this wait has gone on, and Bound how long it may:
	// the action's timeout for it.
	Waited time.Duration
	Bound  time.Duration
	// Elapsed is how long the action has run, from Result.Started,
	// across its waits. It never decreases within an action.
	Elapsed time.Duration
	// Reads counts the reads of this wait, from 1.
	Reads int
	// ReadError is the error of the last read, when it failed; Seen and
	// the counts are then those of the last read that succeeded. The wait
	// goes on: a failed read is not the action's failure.
	ReadError string
}

// String returns the progress on one line, e.g. "evict_leaders store 3,
// 12s of 10m0s: store 3 still leads 40 regions (40 of 120 leaders left)".
// The time comes first, where a line cut to a terminal's width keeps it.
func (p Progress) String() string {
	var b strings.Builder
	b.WriteString(p.Action)
	if p.Target != "" {
		b.WriteString(" " + p.Target)
	}
	fmt.Fprintf(&b, ", %v of %v: ", roundDuration(p.Waited), roundDuration(p.Bound))
	if p.Seen != "" {
		b.WriteString(p.Seen)
	} else {
		b.WriteString("waiting for " + p.Waiting)
	}
	if p.Unit != "" {
		if p.Total > 0 {
			fmt.Fprintf(&b, " (%d of %d %s left)", p.Left, p.Total, p.Unit)
		} else {
			fmt.Fprintf(&b, " (%d %s left)", p.Left, p.Unit)
		}
	}
	if p.ReadError != "" {
		b.WriteString("; the last read failed: " + p.ReadError)
	}
	return b.String()
}

// roundDuration keeps a duration readable: whole seconds from a second
// up, milliseconds below.
func roundDuration(d time.Duration) time.Duration {
	if d >= time.Second || d <= -time.Second {
		return d.Round(time.Second)
	}
	return d.Round(time.Millisecond)
}

// progressJSON is Progress as JSON: durations in seconds, as an agent or
// a script reads them.
type progressJSON struct {
	Action         string  `json:"action"`
	Target         string  `json:"target"`
	Waiting        string  `json:"waiting"`
	Seen           string  `json:"seen,omitempty"`
	Left           int     `json:"left"`
	Total          int     `json:"total"`
	Unit           string  `json:"unit,omitempty"`
	Status         string  `json:"status,omitempty"`
	WaitedSeconds  float64 `json:"waited_seconds"`
	BoundSeconds   float64 `json:"bound_seconds"`
	ElapsedSeconds float64 `json:"elapsed_seconds"`
	Reads          int     `json:"reads"`
	ReadError      string  `json:"read_error,omitempty"`
}

// MarshalJSON writes the progress with its durations in seconds
// (waited_seconds, bound_seconds, elapsed_seconds).
func (p Progress) MarshalJSON() ([]byte, error) {
	return json.Marshal(progressJSON{
		Action: p.Action, Target: p.Target, Waiting: p.Waiting, Seen: p.Seen,
		Left: p.Left, Total: p.Total, Unit: p.Unit, Status: p.Status,
		WaitedSeconds: p.Waited.Seconds(), BoundSeconds: p.Bound.Seconds(), ElapsedSeconds: p.Elapsed.Seconds(),
		Reads: p.Reads, ReadError: p.ReadError,
	})
}

// UnmarshalJSON reads what MarshalJSON writes.
func (p *Progress) UnmarshalJSON(b []byte) error {
	var j progressJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	seconds := func(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }
	*p = Progress{
		Action: j.Action, Target: j.Target, Waiting: j.Waiting, Seen: j.Seen,
		Left: j.Left, Total: j.Total, Unit: j.Unit, Status: j.Status,
		Waited: seconds(j.WaitedSeconds), Bound: seconds(j.BoundSeconds), Elapsed: seconds(j.ElapsedSeconds),
		Reads: j.Reads, ReadError: j.ReadError,
	}
	return nil
}

type progressKey struct{}

// WithProgress returns a context that asks every action called with it to
// call report with its [Progress] after each read of the cluster while it
// waits for its effect. A nil report removes one that ctx carried.
//
// report is called on the goroutine that called the action, in order,
// never after the action returned; the action waits for it, so it should
// return quickly (hand the progress to a channel or a screen, not to the
// network with no deadline). An action that does not wait reports
// nothing, and a dry run never reports (see [ReportProgress]).
//
// # Why a context value
//
// Progress is chosen the way [WithDryRun] is, per call rather than per
// subject, for three reasons. One Subject serves many callers at once (an
// MCP server's tool calls, each with its own progress token; a terminal;
// a log), and only the call knows where its progress goes. A value in
// the context passes through every wrapper of a Subject — the guard,
// package subject/tools, a caller's own — without any of them knowing
// of it or the [Actor] interface changing. And a call without it costs
// nothing. A field of the subject's configuration would send every
// call's progress to one place and need each wrapper to forward it.
func WithProgress(ctx context.Context, report func(Progress)) context.Context {
	return context.WithValue(ctx, progressKey{}, report)
}

// ReportProgress hands p to the function [WithProgress] put in ctx, if
// any. Subjects call it; it does nothing when ctx carries no function, and
// nothing in a dry run ([WithDryRun]): a dry run does not wait, and a
// guard that asks for one before the real call must not have it read as
// the real call's progress.
func ReportProgress(ctx context.Context, p Progress) {
	if IsDryRun(ctx) {
		return
	}
	if report, _ := ctx.Value(progressKey{}).(func(Progress)); report != nil {
		report(p)
	}
}
