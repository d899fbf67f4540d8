package guard_test

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/kvops/operator/subject"
	"github.com/kvops/operator/subject/guard"
)

// crashMidDrain runs a drain of store 4 through a guard and returns the
// journal as it stood while the subject was working on it: the journal a
// crash at that moment leaves behind.
func crashMidDrain(t *testing.T) []byte {
	t.Helper()
	f := newFake(5)
	f.block["drain_store store 4"] = make(chan struct{})
	f.started = make(chan string, 1)
	g, j, _ := newGuard(t, f, guard.Config{Mode: guard.ModeAutomatic})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		_, err := g.DrainStore(ctx, 4)
		done <- err
	}()
	<-f.started
	crashed := j.Bytes()
	cancel()
	require.ErrorIs(t, <-done, subject.ErrUnconfirmed, "a wait cut short leaves the drain unconfirmed")
	require.Len(t, g.Pending(), 1)
	return crashed
}

func TestReplayChecksSubmittedActionsFirst(t *testing.T) {
	crashed := crashMidDrain(t)
	require.Equal(t, "submitted", string(lastEvent(t, crashed)))

	errChecker := errors.New("checker down")
	tests := []struct {
		name       string
		confirm    func(guard.Pending) (guard.Resolution, error)
		wantEvent  guard.Event
		wantBy     string
		wantErr    error
		wantDrain5 error // a later disruptive action
	}{
		{"applied", func(p guard.Pending) (guard.Resolution, error) {
			return guard.Resolution{Outcome: guard.OutcomeApplied, By: "checker", Reason: "store 4 is Offline"}, nil
		}, guard.EventConfirmed, "checker", nil, nil},
		{"not applied", func(guard.Pending) (guard.Resolution, error) {
			return guard.Resolution{Outcome: guard.OutcomeNotApplied, By: "checker"}, nil
		}, guard.EventNotApplied, "checker", nil, nil},
		{"cannot tell", func(guard.Pending) (guard.Resolution, error) {
			return guard.Resolution{By: "checker", Reason: "PD unreachable"}, nil
		}, guard.EventUnresolved, "checker", nil, guard.ErrUnresolved},
		{"checker fails", func(guard.Pending) (guard.Resolution, error) {
			return guard.Resolution{}, errChecker
		}, guard.EventUnresolved, "", errChecker, guard.ErrUnresolved},
		{"no checker: the default, whose dry run would still act", nil, guard.EventUnresolved, guard.ByDryRun, nil, guard.ErrUnresolved},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(5)
			var seen []guard.Pending
			cfg := guard.Config{Mode: guard.ModeAutomatic}
			var g *guard.Guard
			if tt.confirm != nil {
				cfg.Confirm = func(ctx context.Context, p guard.Pending) (guard.Resolution, error) {
					seen = append(seen, p)
					_, err := g.EvictLeaders(ctx, 1)
					require.ErrorIs(t, err, guard.ErrUnresolved, "no action goes through while the journal is replayed")
					return tt.confirm(p)
				}
			}
			g, j, _ := newGuard(t, f, cfg)
			err := g.Replay(t.Context(), bytes.NewReader(crashed))
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
			} else {
				require.NoError(t, err)
			}
			require.Equal(t, "dry drain_store store 4", f.Calls()[0], "the drain is checked before anything else")
			if tt.confirm != nil {
				require.Len(t, seen, 1)
				require.Equal(t, guard.EventSubmitted, seen[0].Record.Event)
				require.Equal(t, guard.Args{Store: 4}, seen[0].Record.Args)
				require.True(t, seen[0].DryRun.DryRun)
				require.NoError(t, seen[0].DryRunErr)
			}
			recs := j.Records(t)
			last := recs[len(recs)-1]
			require.Equal(t, tt.wantEvent, last.Event)
			require.Equal(t, tt.wantBy, last.By)
			require.Equal(t, "a1", last.ID, "the same record id as before the crash")

			_, err = g.DrainStore(t.Context(), 5)
			if tt.wantDrain5 != nil {
				require.ErrorIs(t, err, tt.wantDrain5)
				_, err = g.UndrainStore(t.Context(), 4)
				require.NoError(t, err, "the undoing action is not blocked")
				require.Len(t, g.Pending(), 1)
			} else {
				require.NoError(t, err)
				require.Empty(t, g.Pending())
			}
		})
	}
}

func TestResolveByHand(t *testing.T) {
	crashed := crashMidDrain(t)
	f := newFake(5)
	g, j, _ := newGuard(t, f, guard.Config{Mode: guard.ModeAutomatic})
	require.NoError(t, g.Replay(t.Context(), bytes.NewReader(crashed)))
	p := g.Pending()
	require.Len(t, p, 1)

	require.ErrorIs(t, g.Resolve(t.Context(), p[0].ID, guard.Resolution{Outcome: guard.OutcomeApplied}), subject.ErrInvalid, "who decided is required")
	require.ErrorIs(t, g.Resolve(t.Context(), p[0].ID, guard.Resolution{By: "carol"}), subject.ErrInvalid, "an outcome is required")
	require.ErrorIs(t, g.Resolve(t.Context(), "nope", guard.Resolution{Outcome: guard.OutcomeApplied, By: "carol"}), subject.ErrNotFound)
	require.NoError(t, g.Resolve(t.Context(), p[0].ID, guard.Resolution{Outcome: guard.OutcomeApplied, By: "carol", Reason: "saw it Offline"}))
	require.Empty(t, g.Pending())
	recs := j.Records(t)
	last := recs[len(recs)-1]
	require.Equal(t, guard.EventConfirmed, last.Event)
	require.Equal(t, "carol", last.By)
	_, err := g.DrainStore(t.Context(), 5)
	require.NoError(t, err)
}

func TestReplayRestoresState(t *testing.T) {
	f := newFake(5)
	cd := map[string]guard.Cooldown{"drain_store": {Target: time.Hour}}
	g1, j1, clk := newGuard(t, f, guard.Config{Mode: guard.ModeAutomatic, Cooldowns: cd})
	ctx := t.Context()
	_, err := g1.DrainStore(ctx, 2)
	require.NoError(t, err)
	_, err = g1.UndrainStore(ctx, 2)
	require.NoError(t, err)
	_, err = g1.EvictLeaders(ctx, 3)
	require.NoError(t, err)

	clk.Advance(time.Minute)
	g2, j2, _ := newGuard(t, f, guard.Config{Mode: guard.ModeAutomatic, Cooldowns: cd, Clock: clk.Now})
	require.NoError(t, g2.Replay(ctx, bytes.NewReader(j1.Bytes())))
	require.Empty(t, j2.Bytes(), "nothing to settle, nothing written")
	ev, err := g2.EvictedStores(ctx)
	require.NoError(t, err)
	require.Equal(t, []subject.StoreID{3}, ev, "the eviction is remembered")
	_, err = g2.RestoreLeaders(ctx, 3)
	require.NoError(t, err)
	_, err = g2.DrainStore(ctx, 2)
	require.ErrorIs(t, err, guard.ErrCooldown, "the cooldown is remembered")
}

func TestReplayOfAnActionThatNeverWasSubmitted(t *testing.T) {
	f := newFake(5)
	asked := make(chan struct{})
	g1, j1, _ := newGuard(t, f, guard.Config{Mode: guard.ModeApproveEach, Approver: func(ctx context.Context, _ guard.Request) (guard.Approval, error) {
		close(asked)
		<-ctx.Done()
		return guard.Approval{}, ctx.Err()
	}})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { _, err := g1.DrainStore(ctx, 4); done <- err }()
	<-asked
	crashed := j1.Bytes()
	cancel()
	require.ErrorIs(t, <-done, subject.ErrNotApproved)

	g2, j2, _ := newGuard(t, newFake(5), guard.Config{Mode: guard.ModeAutomatic})
	require.NoError(t, g2.Replay(t.Context(), bytes.NewReader(crashed)))
	recs := j2.Records(t)
	require.Len(t, recs, 1)
	require.Equal(t, guard.EventRefused, recs[0].Event)
	require.Equal(t, "a1", recs[0].ID)
	require.Empty(t, g2.Pending(), "nothing was sent, nothing is pending")
}

func TestReplayOfABadJournal(t *testing.T) {
	crashed := crashMidDrain(t)
	// A whole record of another action, which the crash cut just before
	// its newline: it was never acted on.
	whole := `{"schema":1,"time":"2026-12-01T12:00:00Z","id":"a9","event":"submitted","action":"evict_leaders","target":"store 2","args":{"store_id":2},"mode":"automatic"}`
	tests := []struct {
		name        string
		journal     []byte
		wantErr     bool
		wantTorn    *guard.TornTailError // Line, Offset and Len
		wantPending int
	}{
		{"a last line cut short is a crash while writing it", append(bytes.Clone(crashed), `{"schema":1,"id":"a9","ev`...), true,
			&guard.TornTailError{Line: 4, Offset: int64(len(crashed)), Len: 25}, 1},
		{"a whole record without its newline was never acted on", append(bytes.Clone(crashed), whole...), true,
			&guard.TornTailError{Line: 4, Offset: int64(len(crashed)), Len: int64(len(whole))}, 1},
		{"a bad line in the middle", append([]byte("not json\n"), crashed...), true, nil, 1},
		{"another schema", append([]byte(`{"schema":2,"id":"a9","event":"submitted","action":"drain_store"}`+"\n"), crashed...), true, nil, 1},
		{"a record without an id", append([]byte(`{"schema":1,"event":"submitted","action":"drain_store"}`+"\n"), crashed...), true, nil, 1},
		{"empty", nil, false, nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g, _, _ := newGuard(t, newFake(5), guard.Config{Mode: guard.ModeAutomatic})
			err := g.Replay(t.Context(), bytes.NewReader(tt.journal))
			if tt.wantErr {
				require.ErrorIs(t, err, subject.ErrInvalid)
			} else {
				require.NoError(t, err)
			}
			var torn *guard.TornTailError
			require.Equal(t, tt.wantTorn != nil, errors.As(err, &torn), "a torn last line is reported as one: %v", err)
			if tt.wantTorn != nil {
				require.Equal(t, [3]int64{int64(tt.wantTorn.Line), tt.wantTorn.Offset, tt.wantTorn.Len}, [3]int64{int64(torn.Line), torn.Offset, torn.Len})
				require.Equal(t, tt.journal[torn.Offset:], torn.Tail)
			}
			require.Len(t, g.Pending(), tt.wantPending, "the good records are not lost, the torn one is not applied")
		})
	}
}

func TestUnknownActionInTheJournal(t *testing.T) {
	line := `{"schema":1,"time":"2026-12-01T12:00:00Z","id":"x1","event":"submitted","action":"reboot_cluster","target":"all","args":{},"mode":"automatic"}` + "\n"
	var seen []guard.Pending
	g, _, _ := newGuard(t, newFake(5), guard.Config{Mode: guard.ModeAutomatic, Confirm: func(_ context.Context, p guard.Pending) (guard.Resolution, error) {
		seen = append(seen, p)
		return guard.Resolution{}, nil
	}})
	require.NoError(t, g.Replay(t.Context(), bytes.NewReader([]byte(line))))
	require.Len(t, seen, 1)
	require.ErrorIs(t, seen[0].DryRunErr, subject.ErrInvalid, "the checker is told the action cannot be run again")
	if diff := cmp.Diff([]string{"x1"}, pendingIDs(g)); diff != "" {
		t.Errorf("pending (-want +got):\n%s", diff)
	}
}

func pendingIDs(g *guard.Guard) []string {
	var out []string
	for _, p := range g.Pending() {
		out = append(out, p.ID)
	}
	return out
}

func lastEvent(t *testing.T, b []byte) guard.Event {
	t.Helper()
	j := &journal{}
	_, _ = j.Write(b)
	recs := j.Records(t)
	require.NotEmpty(t, recs)
	return recs[len(recs)-1].Event
}

func TestDefaultConfirm(t *testing.T) {
	refused := errors.New("store 4 is a tombstone")
	tests := []struct {
		name string
		p    guard.Pending
		want guard.Outcome
	}{
		{"nothing to do: applied", guard.Pending{DryRun: subject.Result{DryRun: true, NoChange: true, Summary: "store 4 is already draining"}}, guard.OutcomeApplied},
		{"would still act: unknown", guard.Pending{DryRun: subject.Result{DryRun: true, Summary: "would set store 4 Offline"}}, guard.OutcomeUnknown},
		{"dry run refused: unknown", guard.Pending{DryRunErr: refused}, guard.OutcomeUnknown},
		{"not a dry run: unknown", guard.Pending{DryRun: subject.Result{NoChange: true}}, guard.OutcomeUnknown},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := guard.DefaultConfirm(t.Context(), tt.p)
			require.NoError(t, err)
			require.Equal(t, tt.want, r.Outcome)
			require.Equal(t, guard.ByDryRun, r.By)
			require.NotEmpty(t, r.Reason)
		})
	}
}
