package guard_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"
	"golang.org/x/time/rate"

	"github.com/kvops/operator/internal/syncbuf"
	"github.com/kvops/operator/subject"
	"github.com/kvops/operator/subject/guard"
)

// journal is a Config.Journal the test can read while the guard writes.
type journal struct{ syncbuf.Buffer }

// Records parses every line; each must be one JSON record.
func (j *journal) Records(t *testing.T) []guard.Record {
	t.Helper()
	var out []guard.Record
	for line := range bytes.Lines(j.Bytes()) {
		var r guard.Record
		require.NoError(t, json.Unmarshal(line, &r), "journal line %q", line)
		out = append(out, r)
	}
	return out
}

// Events lists "id event" for every record, in order.
func (j *journal) Events(t *testing.T) []string {
	t.Helper()
	var out []string
	for _, r := range j.Records(t) {
		out = append(out, r.ID+" "+string(r.Event))
	}
	return out
}

// newGuard builds a guard over sub with a settable clock, numbered ids and
// a journal, unless cfg sets them.
func newGuard(t *testing.T, sub subject.Subject, cfg guard.Config) (*guard.Guard, *journal, *clock) {
	t.Helper()
	clk := newClock()
	j := &journal{}
	if cfg.Clock == nil {
		cfg.Clock = clk.Now
	}
	if cfg.NewID == nil {
		cfg.NewID = ids()
	}
	if cfg.Journal == nil {
		cfg.Journal = j
	}
	g, err := guard.New(sub, cfg)
	require.NoError(t, err)
	return g, j, clk
}

func approveAll(_ context.Context, _ guard.Request) (guard.Approval, error) {
	return guard.Approval{Approved: true, By: "alice"}, nil
}

func TestNewRefusesConfigurationsThatCannotWork(t *testing.T) {
	f := newFake(3)
	tests := []struct {
		name string
		sub  subject.Subject
		cfg  guard.Config
	}{
		{"no subject", nil, guard.Config{}},
		{"approve-each without approver", f, guard.Config{Mode: guard.ModeApproveEach}},
		{"automatic with an approver it would never ask", f, guard.Config{Mode: guard.ModeAutomatic, Approver: approveAll}},
		{"unknown mode", f, guard.Config{Mode: 9}},
		{"negative rate", f, guard.Config{Rate: -1}},
		{"negative burst", f, guard.Config{Burst: -1}},
		{"negative cooldown", f, guard.Config{Cooldowns: map[string]guard.Cooldown{"drain_store": {Target: -time.Second}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := guard.New(tt.sub, tt.cfg)
			require.ErrorIs(t, err, subject.ErrInvalid)
		})
	}
}

func TestModes(t *testing.T) {
	tests := []struct {
		name      string
		cfg       guard.Config
		ctx       func(context.Context) context.Context
		wantErr   []error
		wantDry   bool
		wantCalls []string
		wantLast  guard.Event
	}{
		{
			name: "observe-only refuses and calls nothing", cfg: guard.Config{},
			wantErr: []error{guard.ErrObserveOnly, subject.ErrNotApproved}, wantLast: guard.EventRefused,
		},
		{
			name: "observe-only refuses dry runs too", cfg: guard.Config{}, ctx: subject.WithDryRun,
			wantErr: []error{guard.ErrObserveOnly, subject.ErrNotApproved}, wantLast: guard.EventRefused,
		},
		{
			name: "dry-run mode answers as a dry run", cfg: guard.Config{Mode: guard.ModeDryRun},
			wantDry: true, wantCalls: []string{"dry drain_store store 2"}, wantLast: guard.EventDryRun,
		},
		{
			name: "a dry-run context is a dry run in automatic mode", cfg: guard.Config{Mode: guard.ModeAutomatic}, ctx: subject.WithDryRun,
			wantDry: true, wantCalls: []string{"dry drain_store store 2"}, wantLast: guard.EventDryRun,
		},
		{
			name: "approve-each asks, then acts", cfg: guard.Config{Mode: guard.ModeApproveEach, Approver: approveAll},
			wantCalls: []string{"dry drain_store store 2", "drain_store store 2"}, wantLast: guard.EventConfirmed,
		},
		{
			name: "automatic acts after its dry run", cfg: guard.Config{Mode: guard.ModeAutomatic},
			wantCalls: []string{"dry drain_store store 2", "drain_store store 2"}, wantLast: guard.EventConfirmed,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(3)
			g, j, _ := newGuard(t, f, tt.cfg)
			ctx := t.Context()
			if tt.ctx != nil {
				ctx = tt.ctx(ctx)
			}
			res, err := g.DrainStore(ctx, 2)
			for _, want := range tt.wantErr {
				require.ErrorIs(t, err, want)
			}
			if tt.wantErr == nil {
				require.NoError(t, err)
			}
			var ae *subject.ActionError
			if err != nil {
				require.ErrorAs(t, err, &ae)
				require.Equal(t, subject.PhaseRefused, ae.Phase)
			}
			require.Equal(t, tt.wantDry, res.DryRun)
			if diff := cmp.Diff(tt.wantCalls, f.Calls()); diff != "" {
				t.Errorf("calls (-want +got):\n%s", diff)
			}
			recs := j.Records(t)
			require.Equal(t, tt.wantLast, recs[len(recs)-1].Event)
			require.Equal(t, tt.cfg.Mode, recs[0].Mode)
		})
	}
}

func TestApproval(t *testing.T) {
	tests := []struct {
		name    string
		answer  guard.Approval
		err     error
		wantErr bool
		wantBy  string
	}{
		{"approved", guard.Approval{Approved: true, By: "alice"}, nil, false, "alice"},
		{"refused, and who refused is recorded", guard.Approval{By: "bob", Reason: "not during the sale"}, nil, true, "bob"},
		{"an approval that does not say by whom is a refusal", guard.Approval{Approved: true}, nil, true, ""},
		{"the approver fails", guard.Approval{}, errors.New("pager down"), true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(3)
			var asked []guard.Request
			g, j, _ := newGuard(t, f, guard.Config{Mode: guard.ModeApproveEach, Approver: func(_ context.Context, r guard.Request) (guard.Approval, error) {
				asked = append(asked, r)
				return tt.answer, tt.err
			}})
			_, err := g.EvictLeaders(t.Context(), 3)
			want := []guard.Request{{ID: "a1", Action: "evict_leaders", Target: "store 3", Args: guard.Args{Store: 3}, Disruptive: true,
				DryRun: subject.Result{Action: "evict_leaders", Target: "store 3", DryRun: true, Summary: "would do dry evict_leaders store 3"}}}
			if diff := cmp.Diff(want, asked); diff != "" {
				t.Errorf("approver asked (-want +got):\n%s", diff)
			}
			recs := j.Records(t)
			last := recs[len(recs)-1]
			if !tt.wantErr {
				require.NoError(t, err)
				require.Equal(t, []string{"a1 requested", "a1 approved", "a1 submitted", "a1 confirmed"}, j.Events(t))
				require.Equal(t, tt.wantBy, recs[1].By)
				return
			}
			require.ErrorIs(t, err, subject.ErrNotApproved)
			if tt.err != nil {
				require.ErrorIs(t, err, tt.err)
			}
			require.Equal(t, guard.EventRefused, last.Event)
			require.Equal(t, tt.wantBy, last.By)
			require.Equal(t, []string{"dry evict_leaders store 3"}, f.Calls(), "nothing but the dry run was called")
		})
	}
}

func TestOneDisruptiveActionInFlight(t *testing.T) {
	f := newFake(5)
	f.block["drain_store store 4"] = make(chan struct{})
	f.started = make(chan string, 1)
	g, j, _ := newGuard(t, f, guard.Config{Mode: guard.ModeAutomatic})
	done := make(chan error, 1)
	go func() {
		_, err := g.DrainStore(t.Context(), 4)
		done <- err
	}()
	require.Equal(t, "drain_store store 4", <-f.started)

	tests := []struct {
		name    string
		call    func() error
		wantErr error
	}{
		{"a second drain", func() error { _, err := g.DrainStore(t.Context(), 5); return err }, guard.ErrBusy},
		{"a split", func() error { _, err := g.SplitRegion(t.Context(), 9); return err }, guard.ErrBusy},
		{"an undrain is not disruptive", func() error { _, err := g.UndrainStore(t.Context(), 4); return err }, nil},
		{"nor is a schedule limit", func() error { _, err := g.SetScheduleLimit(t.Context(), subject.LeaderLimit, 4); return err }, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			if tt.wantErr == nil {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, tt.wantErr)
			require.ErrorIs(t, err, subject.ErrNotApproved)
		})
	}
	close(f.block["drain_store store 4"])
	require.NoError(t, <-done)
	_, err := g.DrainStore(t.Context(), 5)
	require.NoError(t, err, "the slot is free once the first drain ended")
	require.Contains(t, j.Events(t), "a2 refused")
}

func TestDisruptiveClassesAreConfigurable(t *testing.T) {
	f := newFake(5)
	f.block["split_region region 9"] = make(chan struct{})
	f.started = make(chan string, 1)
	g, _, _ := newGuard(t, f, guard.Config{Mode: guard.ModeAutomatic, Disruptive: map[string]bool{"drain_store": true}})
	done := make(chan error, 1)
	go func() {
		_, err := g.SplitRegion(t.Context(), 9)
		done <- err
	}()
	<-f.started
	_, err := g.DrainStore(t.Context(), 4)
	require.NoError(t, err, "a split is not disruptive under this configuration")
	close(f.block["split_region region 9"])
	require.NoError(t, <-done)
}

func TestEvictedStoresCountAsDisruption(t *testing.T) {
	t.Run("tracked by the guard", func(t *testing.T) {
		f := newFake(5)
		g, _, _ := newGuard(t, f, guard.Config{Mode: guard.ModeAutomatic})
		ctx := t.Context()
		_, err := g.EvictLeaders(ctx, 1)
		require.NoError(t, err)
		ev, err := g.EvictedStores(ctx)
		require.NoError(t, err)
		require.Equal(t, []subject.StoreID{1}, ev)

		_, err = g.DrainStore(ctx, 2)
		require.ErrorIs(t, err, guard.ErrBusy)
		_, err = g.EvictLeaders(ctx, 2)
		require.ErrorIs(t, err, guard.ErrBusy, "two stores evicted at once")
		_, err = g.EvictLeaders(ctx, 1)
		require.NoError(t, err, "evicting the same store again adds no disruption")

		_, err = g.RestoreLeaders(ctx, 1)
		require.NoError(t, err)
		_, err = g.DrainStore(ctx, 2)
		require.NoError(t, err)
	})
	t.Run("a failed eviction is not counted", func(t *testing.T) {
		f := newFake(5)
		f.setErr("evict_leaders", &subject.ActionError{Action: "evict_leaders", Phase: subject.PhaseFailed, Status: "CANCEL"})
		g, _, _ := newGuard(t, f, guard.Config{Mode: guard.ModeAutomatic})
		_, err := g.EvictLeaders(t.Context(), 1)
		require.ErrorIs(t, err, subject.ErrActionFailed)
		_, err = g.DrainStore(t.Context(), 2)
		require.NoError(t, err)
	})
	t.Run("read from the subject", func(t *testing.T) {
		tests := []struct {
			name    string
			evicted []subject.StoreID
			err     error
			store   subject.StoreID
			wantErr []error
		}{
			{"another store evicted", []subject.StoreID{3}, nil, 2, []error{guard.ErrBusy}},
			{"only the target evicted", []subject.StoreID{2}, nil, 2, nil},
			{"none", nil, nil, 2, nil},
			{"cannot tell", nil, fmt.Errorf("pd: %w", subject.ErrUnavailable), 2, []error{subject.ErrUnavailable}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				f := newFake(5)
				g, _, _ := newGuard(t, &evictFake{fake: f, evicted: tt.evicted, err: tt.err}, guard.Config{Mode: guard.ModeAutomatic})
				_, err := g.DrainStore(t.Context(), tt.store)
				for _, w := range tt.wantErr {
					require.ErrorIs(t, err, w)
				}
				if tt.wantErr == nil {
					require.NoError(t, err)
					return
				}
				require.Empty(t, f.Calls(), "refused before the dry run")
			})
		}
	})
}

func TestCooldowns(t *testing.T) {
	type step struct {
		after time.Duration // clock advance before the call
		store subject.StoreID
		want  error
	}
	tests := []struct {
		name  string
		cd    guard.Cooldown
		steps []step
	}{
		{"per target", guard.Cooldown{Target: time.Minute}, []step{
			{0, 1, nil}, {30 * time.Second, 1, guard.ErrCooldown}, {0, 2, nil}, {30 * time.Second, 1, nil},
		}},
		{"per action", guard.Cooldown{Action: time.Minute}, []step{
			{0, 1, nil}, {59 * time.Second, 2, guard.ErrCooldown}, {time.Second, 2, nil},
		}},
		{"none", guard.Cooldown{}, []step{{0, 1, nil}, {0, 1, nil}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(5)
			g, _, clk := newGuard(t, f, guard.Config{Mode: guard.ModeAutomatic, Cooldowns: map[string]guard.Cooldown{"evict_leaders": tt.cd}})
			for i, s := range tt.steps {
				clk.Advance(s.after)
				_, err := g.EvictLeaders(t.Context(), s.store)
				if s.want == nil {
					require.NoError(t, err, "step %d", i)
				} else {
					require.ErrorIs(t, err, s.want, "step %d", i)
					require.ErrorIs(t, err, subject.ErrNotApproved)
				}
				// Restore at once, so that evictions do not count
				// against the blast radius here.
				_, err = g.RestoreLeaders(t.Context(), s.store)
				require.NoError(t, err)
			}
		})
	}
}

func TestRateLimit(t *testing.T) {
	f := newFake(5)
	g, _, clk := newGuard(t, f, guard.Config{Mode: guard.ModeAutomatic, Rate: rate.Every(time.Minute), Burst: 2})
	ctx := t.Context()
	limit := func() error { _, err := g.SetScheduleLimit(ctx, subject.RegionLimit, 8); return err }
	require.NoError(t, limit())
	require.NoError(t, limit())
	require.ErrorIs(t, limit(), guard.ErrRateLimited)
	clk.Advance(time.Minute)
	require.NoError(t, limit())
	require.ErrorIs(t, limit(), guard.ErrRateLimited)

	// A refusal by the subject gives its token back.
	clk.Advance(time.Minute)
	f.setErr("set_schedule_limit", fmt.Errorf("limit: %w", subject.ErrInvalid))
	require.ErrorIs(t, limit(), subject.ErrInvalid)
	f.setErr("set_schedule_limit", nil)
	require.NoError(t, limit())
	_, err := g.SetScheduleLimit(subject.WithDryRun(ctx), subject.RegionLimit, 8)
	require.NoError(t, err, "dry runs are not rate limited")
}

func TestRateTokenOfARefusalIsGivenBack(t *testing.T) {
	f := newFake(5)
	refuse := true
	g, _, _ := newGuard(t, f, guard.Config{Mode: guard.ModeApproveEach, Rate: rate.Every(time.Hour), Burst: 1,
		Approver: func(context.Context, guard.Request) (guard.Approval, error) {
			return guard.Approval{Approved: !refuse, By: "alice"}, nil
		}})
	_, err := g.SetScheduleLimit(t.Context(), subject.RegionLimit, 8)
	require.ErrorIs(t, err, subject.ErrNotApproved)
	require.NotErrorIs(t, err, guard.ErrRateLimited)
	refuse = false
	_, err = g.SetScheduleLimit(t.Context(), subject.RegionLimit, 8)
	require.NoError(t, err, "the refused action did not use up the token")
	_, err = g.SetScheduleLimit(t.Context(), subject.RegionLimit, 8)
	require.ErrorIs(t, err, guard.ErrRateLimited)
}

func TestKillSwitch(t *testing.T) {
	f := newFake(5)
	asked := make(chan struct{})
	g, j, _ := newGuard(t, f, guard.Config{Mode: guard.ModeApproveEach, Approver: func(ctx context.Context, _ guard.Request) (guard.Approval, error) {
		close(asked)
		<-ctx.Done() // a person who never answers
		return guard.Approval{}, ctx.Err()
	}})
	done := make(chan error, 1)
	go func() {
		_, err := g.DrainStore(t.Context(), 4)
		done <- err
	}()
	<-asked
	g.Kill()
	err := <-done
	require.ErrorIs(t, err, guard.ErrKilled)
	require.ErrorIs(t, err, subject.ErrNotApproved)
	require.True(t, g.Killed())

	_, err = g.SetScheduleLimit(t.Context(), subject.LeaderLimit, 1)
	require.ErrorIs(t, err, guard.ErrKilled, "new actions are refused")
	require.Equal(t, []string{"dry drain_store store 4"}, f.Calls(), "nothing was submitted")
	require.Equal(t, []string{"a1 requested", "a1 refused", "a2 requested", "a2 refused"}, j.Events(t))

	g.Resume()
	require.False(t, g.Killed())
	_, err = g.DrainStore(subject.WithDryRun(t.Context()), 4)
	require.NoError(t, err)
}

func TestKillBeforeSubmission(t *testing.T) {
	// An approver that approves although the switch was engaged while it
	// was asked: the guard still does not submit.
	f := newFake(5)
	var g *guard.Guard
	g, _, _ = newGuard(t, f, guard.Config{Mode: guard.ModeApproveEach, Approver: func(context.Context, guard.Request) (guard.Approval, error) {
		g.Kill()
		return guard.Approval{Approved: true, By: "alice"}, nil
	}})
	_, err := g.DrainStore(t.Context(), 4)
	require.ErrorIs(t, err, guard.ErrKilled)
	require.Equal(t, []string{"dry drain_store store 4"}, f.Calls())
}

func TestStabilityGate(t *testing.T) {
	tests := []struct {
		name     string
		down     subject.StoreID
		state    subject.StoreState
		call     func(g *guard.Guard) error
		wantErr  error
		wantDone bool
	}{
		{"another store Disconnected", 3, subject.StateDisconnected, drain(4), subject.ErrPrecondition, false},
		{"another store Offline", 3, subject.StateOffline, evict(4), subject.ErrPrecondition, false},
		{"the target itself is Down", 4, subject.StateDown, drain(4), nil, true},
		{"a tombstone does not count", 3, subject.StateTombstone, drain(4), nil, true},
		{"a split sees every store", 4, subject.StateDown, func(g *guard.Guard) error { _, err := g.SplitRegion(context.Background(), 9); return err }, subject.ErrPrecondition, false},
		{"non-disruptive actions are not gated", 3, subject.StateDown, func(g *guard.Guard) error { _, err := g.RestoreLeaders(context.Background(), 4); return err }, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(5)
			f.setState(tt.down, tt.state)
			g, _, _ := newGuard(t, f, guard.Config{Mode: guard.ModeAutomatic})
			err := tt.call(g)
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
				var ae *subject.ActionError
				require.ErrorAs(t, err, &ae)
				require.Equal(t, subject.PhaseRefused, ae.Phase)
				require.Contains(t, err.Error(), fmt.Sprintf("store %d is %s", tt.down, tt.state), "the refusal says why")
			} else {
				require.NoError(t, err)
			}
			require.Equal(t, tt.wantDone, len(f.Calls()) == 2)
		})
	}
	t.Run("the subject's own checker", func(t *testing.T) {
		f := newFake(5)
		f.setState(3, subject.StateDown) // the subject's checker decides, not the stores
		sf := &stableFake{fake: f}
		g, _, _ := newGuard(t, sf, guard.Config{Mode: guard.ModeAutomatic})
		require.NoError(t, drain(4)(g))
		sf.err = fmt.Errorf("pd has no leader: %w", subject.ErrPrecondition)
		require.ErrorIs(t, drain(5)(g), subject.ErrPrecondition)
		// Asked before the dry run and again right before submitting;
		// the refused drain stops at the first.
		require.Equal(t, []subject.StoreID{4, 4, 5}, sf.except)
	})
}

func drain(s subject.StoreID) func(*guard.Guard) error {
	return func(g *guard.Guard) error { _, err := g.DrainStore(context.Background(), s); return err }
}

func evict(s subject.StoreID) func(*guard.Guard) error {
	return func(g *guard.Guard) error { _, err := g.EvictLeaders(context.Background(), s); return err }
}

func TestOutcomesAreJournaled(t *testing.T) {
	tests := []struct {
		name       string
		err        error
		wantEvent  guard.Event
		wantStatus string
		wantReason string
		pending    bool
	}{
		{"confirmed", nil, guard.EventConfirmed, "", "", false},
		{"failed with the subject's status", &subject.ActionError{Action: "split_region", Phase: subject.PhaseFailed, Status: "TIMEOUT", Reason: "operator timed out"},
			guard.EventFailed, "TIMEOUT", "operator timed out", false},
		{"unconfirmed", &subject.ActionError{Action: "split_region", Phase: subject.PhaseUnconfirmed, Status: "RUNNING", Reason: "bound ended"},
			guard.EventUnconfirmed, "RUNNING", "bound ended", true},
		{"submitted is unconfirmed", &subject.ActionError{Action: "split_region", Phase: subject.PhaseSubmitted},
			guard.EventUnconfirmed, "", "", true},
		{"refused by the subject", fmt.Errorf("region 9: %w", subject.ErrNotFound), guard.EventRefused, "", "", false},
		{"a bare ErrActionFailed", fmt.Errorf("x: %w", subject.ErrActionFailed), guard.EventFailed, "", "", false},
		{"a lost answer may have been applied", context.DeadlineExceeded, guard.EventUnconfirmed, "", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(5)
			f.setErr("split_region", tt.err)
			g, j, clk := newGuard(t, f, guard.Config{Mode: guard.ModeAutomatic})
			_, err := g.SplitRegion(t.Context(), 9)
			require.ErrorIs(t, err, tt.err)
			recs := j.Records(t)
			got := recs[len(recs)-1]
			want := guard.Record{Schema: guard.SchemaVersion, Time: clk.Now(), ID: "a1", Event: tt.wantEvent, Action: "split_region",
				Target: "region 9", Args: guard.Args{Region: 9}, Mode: guard.ModeAutomatic, Disruptive: true,
				Status: tt.wantStatus, Reason: tt.wantReason,
				Result: &subject.Result{Action: "split_region", Target: "region 9", Summary: "did split_region region 9"}}
			if tt.err != nil {
				want.Error = err.Error()
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("last record (-want +got):\n%s", diff)
			}
			require.Equal(t, tt.pending, len(g.Pending()) == 1)
			if tt.pending {
				_, err := g.DrainStore(t.Context(), 1)
				require.ErrorIs(t, err, guard.ErrUnresolved, "no disruption while an earlier one may be in effect")
				_, err = g.SetScheduleLimit(t.Context(), subject.RegionLimit, 1)
				require.NoError(t, err, "non-disruptive actions go on")
			}
		})
	}
}

func TestJournalOfOneAction(t *testing.T) {
	f := newFake(3)
	g, j, clk := newGuard(t, f, guard.Config{Mode: guard.ModeApproveEach, Approver: approveAll})
	_, err := g.TransferLeader(t.Context(), 7, 2)
	require.NoError(t, err)
	base := guard.Record{Schema: 1, Time: clk.Now(), ID: "a1", Action: "transfer_leader", Target: "region 7",
		Args: guard.Args{Region: 7, ToStore: 2}, Mode: guard.ModeApproveEach, Disruptive: true}
	with := func(ev guard.Event, by string, res *subject.Result) guard.Record {
		r := base
		r.Event, r.By, r.Result = ev, by, res
		return r
	}
	dry := &subject.Result{Action: "transfer_leader", Target: "region 7 to store 2", DryRun: true, Summary: "would do dry transfer_leader region 7 to store 2"}
	done := &subject.Result{Action: "transfer_leader", Target: "region 7 to store 2", Summary: "did transfer_leader region 7 to store 2"}
	want := []guard.Record{
		with(guard.EventRequested, "", nil), with(guard.EventApproved, "alice", dry),
		with(guard.EventSubmitted, "", nil), with(guard.EventConfirmed, "", done),
	}
	if diff := cmp.Diff(want, j.Records(t)); diff != "" {
		t.Errorf("journal (-want +got):\n%s", diff)
	}
	// One JSON object per line, with the schema version and the mode by name.
	first, _, _ := bytes.Cut(j.Bytes(), []byte("\n"))
	var raw map[string]any
	require.NoError(t, json.Unmarshal(first, &raw))
	require.Equal(t, map[string]any{"schema": 1.0, "time": "2026-12-01T12:00:00Z", "id": "a1", "event": "requested",
		"action": "transfer_leader", "target": "region 7", "args": map[string]any{"region_id": 7.0, "to_store_id": 2.0},
		"mode": "approve-each", "disruptive": true}, raw)
}

// failingWriter fails every write.
type failingWriter struct{}

var errDiskFull = errors.New("disk full")

func (failingWriter) Write([]byte) (int, error) { return 0, errDiskFull }

func TestNoActionWithoutAJournal(t *testing.T) {
	f := newFake(3)
	g, _, _ := newGuard(t, f, guard.Config{Mode: guard.ModeAutomatic, Journal: failingWriter{}})
	_, err := g.DrainStore(t.Context(), 2)
	require.ErrorIs(t, err, guard.ErrJournal)
	require.ErrorIs(t, err, subject.ErrNotApproved)
	require.Empty(t, f.Calls())
}

func TestSubjectIgnoringDryRun(t *testing.T) {
	f := newFake(3)
	f.ignoreDryRun = true
	g, j, _ := newGuard(t, f, guard.Config{Mode: guard.ModeAutomatic})
	_, err := g.DrainStore(t.Context(), 2)
	require.ErrorIs(t, err, subject.ErrUnconfirmed, "the guard cannot know what the subject did")
	require.Equal(t, []string{"a1 requested", "a1 submitted", "a1 unconfirmed"}, j.Events(t))
	require.Len(t, g.Pending(), 1)
	require.Equal(t, []string{"drain_store store 2"}, f.Calls(), "the guard did not call it a second time")
}

func TestRecordsGoToTheLogger(t *testing.T) {
	f := newFake(3)
	var buf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo}))
	g, _, _ := newGuard(t, f, guard.Config{Logger: log})
	_, err := g.DrainStore(t.Context(), 2)
	require.ErrorIs(t, err, guard.ErrObserveOnly)
	type line struct {
		Level, Msg, ID, Event, Action, Target, Mode, Error string
	}
	var got []line
	for l := range bytes.Lines(buf.Bytes()) {
		var v line
		require.NoError(t, json.Unmarshal(l, &v))
		got = append(got, v)
	}
	want := []line{
		{Level: "INFO", Msg: "guard: requested", ID: "a1", Event: "requested", Action: "drain_store", Target: "store 2", Mode: "observe-only"},
		{Level: "WARN", Msg: "guard: refused", ID: "a1", Event: "refused", Action: "drain_store", Target: "store 2", Mode: "observe-only", Error: err.Error()},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("log (-want +got):\n%s", diff)
	}
}

func TestCapabilitiesAndObservationsPassThrough(t *testing.T) {
	f := newFake(3)
	g, _, _ := newGuard(t, f, guard.Config{})
	require.Equal(t, f.Capabilities(), g.Capabilities())
	st, err := g.Stores(t.Context())
	require.NoError(t, err)
	require.Len(t, st, 3)
	m, err := g.StoreMetrics(t.Context(), 2)
	require.NoError(t, err)
	require.Equal(t, subject.StoreID(2), m.Store)
	_, err = g.LeadershipChanges(t.Context(), epoch)
	require.ErrorIs(t, err, subject.ErrNotSupported, "the subject's errors pass through")
	r, err := g.Region(t.Context(), 9)
	require.NoError(t, err)
	require.Equal(t, subject.RegionID(9), r.ID)
	_, err = g.StoreRegions(t.Context(), 1, 10)
	require.ErrorIs(t, err, subject.ErrNotSupported)
	_, err = g.RangeRegions(t.Context(), nil, nil, 10)
	require.ErrorIs(t, err, subject.ErrNotSupported)
	require.Equal(t, guard.ModeObserveOnly, g.Mode())
	require.Empty(t, f.Calls(), "observing is not acting, even in observe-only mode")
}

func TestModeText(t *testing.T) {
	for _, m := range []guard.Mode{guard.ModeObserveOnly, guard.ModeDryRun, guard.ModeApproveEach, guard.ModeAutomatic} {
		b, err := m.MarshalText()
		require.NoError(t, err)
		var back guard.Mode
		require.NoError(t, back.UnmarshalText(b))
		require.Equal(t, m, back)
	}
	_, err := guard.ParseMode("yolo")
	require.ErrorIs(t, err, subject.ErrInvalid)
	require.Equal(t, "Mode(9)", guard.Mode(9).String())
}

// BenchmarkAction measures what the guard adds to one non-disruptive
// action: its dry run, the rules and four journal records.
func BenchmarkAction(b *testing.B) {
	b.Run("direct", func(b *testing.B) {
		f := newFake(3)
		ctx := context.Background()
		b.ReportAllocs()
		for b.Loop() {
			_, _ = f.SetScheduleLimit(ctx, subject.LeaderLimit, 4)
			f.calls = f.calls[:0]
		}
	})
	guarded := func(b *testing.B, journal io.Writer) {
		f := newFake(3)
		g, err := guard.New(f, guard.Config{Mode: guard.ModeAutomatic, Journal: journal})
		require.NoError(b, err)
		ctx := context.Background()
		b.ReportAllocs()
		for b.Loop() {
			if _, err := g.SetScheduleLimit(ctx, subject.LeaderLimit, 4); err != nil {
				b.Fatal(err)
			}
			f.calls = f.calls[:0]
		}
	}
	b.Run("guarded", func(b *testing.B) { guarded(b, io.Discard) })
	// Each of the four records synced to the file before the next step:
	// what a journal that survives a crash costs.
	b.Run("guarded, file journal", func(b *testing.B) {
		j, err := guard.OpenFileJournal(filepath.Join(b.TempDir(), "journal.jsonl"), guard.JournalConfig{})
		require.NoError(b, err)
		defer j.Close()
		guarded(b, j)
	})
	// A disruptive action also passes the blast radius and the stability
	// gate, before its dry run and again right before it is sent.
	b.Run("guarded disruptive", func(b *testing.B) {
		f := newFake(3)
		g, err := guard.New(f, guard.Config{Mode: guard.ModeAutomatic, Journal: io.Discard})
		require.NoError(b, err)
		ctx := context.Background()
		b.ReportAllocs()
		for b.Loop() {
			if _, err := g.DrainStore(ctx, 2); err != nil {
				b.Fatal(err)
			}
			f.calls = f.calls[:0]
		}
	})
}
