package guard_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/kvops/operator/subject"
	"github.com/kvops/operator/subject/guard"
)

// failOn is a journal that fails to write the records of one event, and
// keeps the others.
type failOn struct {
	event guard.Event
	mu    sync.Mutex
	buf   bytes.Buffer
}

func (f *failOn) Write(p []byte) (int, error) {
	var rec guard.Record
	if err := json.Unmarshal(p, &rec); err == nil && rec.Event == f.event {
		return 0, errDiskFull
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.buf.Write(p)
}

// TestJournalFailuresAreSeen: whichever record the journal fails to
// write, the caller's error says so (a *guard.JournalError, matching the
// journal's own error), and the action's own outcome is not lost: before
// submission nothing is sent (ErrJournal); after it, the error keeps the
// action's phase, and a confirmed action is reported confirmed with its
// result. Fixed by this work: after submission, and for refusals and dry
// runs, the failure was only logged.
func TestJournalFailuresAreSeen(t *testing.T) {
	unconfirmed := &subject.ActionError{Phase: subject.PhaseUnconfirmed, Reason: "bound ended"}
	tests := []struct {
		name      string
		event     guard.Event
		cfg       guard.Config
		subject   error // the subject's answer to the real call
		dryRun    bool
		wantPhase subject.Phase
		wantIs    []error
		wantSent  bool
		wantRes   bool // the action's result is returned
	}{
		{name: "requested", event: guard.EventRequested, cfg: guard.Config{Mode: guard.ModeAutomatic},
			wantPhase: subject.PhaseRefused, wantIs: []error{guard.ErrJournal, subject.ErrNotApproved}},
		{name: "approved", event: guard.EventApproved, cfg: guard.Config{Mode: guard.ModeApproveEach, Approver: approveAll},
			wantPhase: subject.PhaseRefused, wantIs: []error{guard.ErrJournal, subject.ErrNotApproved}},
		{name: "submitted: nothing is sent", event: guard.EventSubmitted, cfg: guard.Config{Mode: guard.ModeAutomatic},
			wantPhase: subject.PhaseRefused, wantIs: []error{guard.ErrJournal, subject.ErrNotApproved}},
		{name: "confirmed", event: guard.EventConfirmed, cfg: guard.Config{Mode: guard.ModeAutomatic},
			wantPhase: subject.PhaseConfirmed, wantSent: true, wantRes: true},
		{name: "unconfirmed", event: guard.EventUnconfirmed, cfg: guard.Config{Mode: guard.ModeAutomatic}, subject: unconfirmed,
			wantPhase: subject.PhaseUnconfirmed, wantIs: []error{subject.ErrUnconfirmed}, wantSent: true, wantRes: true},
		{name: "dry run", event: guard.EventDryRun, cfg: guard.Config{Mode: guard.ModeDryRun},
			wantPhase: subject.PhaseRefused, wantIs: []error{guard.ErrJournal}, dryRun: true, wantRes: true},
		{name: "refused", event: guard.EventRefused, cfg: guard.Config{},
			wantPhase: subject.PhaseRefused, wantIs: []error{guard.ErrObserveOnly, subject.ErrNotApproved}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(5)
			if tt.subject != nil {
				f.setErr("drain_store", tt.subject)
			}
			j := &failOn{event: tt.event}
			tt.cfg.Journal, tt.cfg.NewID = j, ids()
			g, err := guard.New(f, tt.cfg)
			require.NoError(t, err)
			res, err := g.DrainStore(t.Context(), 4)
			sent := false
			for _, c := range f.Calls() {
				sent = sent || c == "drain_store store 4"
			}
			require.Equal(t, tt.wantSent, sent)
			require.Equal(t, tt.wantRes, res.Summary != "", "result %+v", res)
			require.Equal(t, tt.dryRun, res.DryRun)
			if tt.wantPhase == subject.PhaseConfirmed {
				require.NoError(t, err, "a confirmed action is reported confirmed")
				require.Len(t, res.Warnings, 1)
				require.Contains(t, res.Warnings[0], "confirmed record", "the warning names the record not written")
				return
			}

			var je *guard.JournalError
			require.ErrorAs(t, err, &je, "the journal's failure is in the error")
			require.Equal(t, tt.event, je.Event)
			require.Equal(t, "a1", je.ID)
			require.ErrorIs(t, err, errDiskFull)
			var ae *subject.ActionError
			require.ErrorAs(t, err, &ae)
			require.Equal(t, tt.wantPhase, ae.Phase)
			for _, want := range tt.wantIs {
				require.ErrorIs(t, err, want)
			}
			if tt.wantPhase != subject.PhaseRefused {
				require.NotErrorIs(t, err, subject.ErrNotApproved, "a submitted action's error matches no refusal")
			}
		})
	}
}

// TestReplayReportsJournalFailures: Replay's records (here the refusal
// of an action a crash left unsubmitted) that cannot be written are in
// its error.
func TestReplayReportsJournalFailures(t *testing.T) {
	line := `{"schema":1,"time":"2026-12-01T12:00:00Z","id":"x1","event":"requested","action":"drain_store","target":"store 4","args":{"store_id":4},"mode":"automatic"}` + "\n"
	g, err := guard.New(newFake(5), guard.Config{Mode: guard.ModeAutomatic, Journal: &failOn{event: guard.EventRefused}})
	require.NoError(t, err)
	err = g.Replay(t.Context(), bytes.NewReader([]byte(line)))
	var je *guard.JournalError
	require.True(t, errors.As(err, &je), "%v", err)
	require.Equal(t, "x1", je.ID)
}
