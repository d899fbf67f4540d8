package guard_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/kvops/operator/subject"
	"github.com/kvops/operator/subject/guard"
)

// slowFake takes 8 s of the guard's clock to evict leaders for real.
type slowFake struct {
	*fake
	clk *clock
}

func (s *slowFake) EvictLeaders(ctx context.Context, id subject.StoreID) (subject.Result, error) {
	if !subject.IsDryRun(ctx) {
		s.clk.Advance(8 * time.Second)
	}
	return s.fake.EvictLeaders(ctx, id)
}

// TestOnAction: every call is reported once with how it ended: the
// outcome, the rule or sentinel that refused it, whether it was approved,
// and, once submitted, when and for how long by the guard's clock.
func TestOnAction(t *testing.T) {
	f := newFake(5)
	clk := newClock()
	var mu sync.Mutex
	var got []guard.ActionInfo
	approve := true
	g, _, _ := newGuard(t, &slowFake{f, clk}, guard.Config{
		Mode:  guard.ModeApproveEach,
		Clock: clk.Now,
		Approver: func(context.Context, guard.Request) (guard.Approval, error) {
			mu.Lock()
			defer mu.Unlock()
			return guard.Approval{Approved: approve, By: "alice", Reason: "test"}, nil
		},
		Cooldowns: map[string]guard.Cooldown{guard.ActionSplitRegion: {Action: time.Minute}},
		OnAction: func(ai guard.ActionInfo) {
			mu.Lock()
			defer mu.Unlock()
			got = append(got, ai)
		},
	})
	ctx := context.Background()

	_, _ = g.DrainStore(subject.WithDryRun(ctx), 4)
	mu.Lock()
	approve = false
	mu.Unlock()
	_, _ = g.TransferLeader(ctx, 9, 2)
	mu.Lock()
	approve = true
	mu.Unlock()
	_, _ = g.SplitRegion(ctx, 9)
	_, _ = g.SplitRegion(ctx, 13)
	f.setState(3, subject.StateDown)
	_, _ = g.DrainStore(ctx, 4)
	f.setState(3, subject.StateUp)
	f.setErr(guard.ActionDrainStore, fmt.Errorf("operator timed out: %w", subject.ErrActionFailed))
	_, _ = g.DrainStore(ctx, 4)
	_, _ = g.EvictLeaders(ctx, 4)
	f.setErr(guard.ActionRestoreLeaders, errors.New("connection reset"))
	_, _ = g.RestoreLeaders(ctx, 4)
	_, _ = g.Do(ctx, "no_such_action", guard.Args{Store: 4})

	type row struct {
		Action     string
		Disruptive bool
		Outcome    guard.Event
		Refusal    string
		Approved   bool
		Submitted  bool
		Duration   time.Duration
		Err        bool
	}
	want := []row{
		{Action: "drain_store", Disruptive: true, Outcome: guard.EventDryRun},
		{Action: "transfer_leader", Disruptive: true, Outcome: guard.EventRefused, Refusal: "not_approved", Err: true},
		{Action: "split_region", Disruptive: true, Outcome: guard.EventConfirmed, Approved: true, Submitted: true},
		{Action: "split_region", Disruptive: true, Outcome: guard.EventRefused, Refusal: "cooldown", Err: true},
		{Action: "drain_store", Disruptive: true, Outcome: guard.EventRefused, Refusal: "precondition", Err: true},
		{Action: "drain_store", Disruptive: true, Outcome: guard.EventFailed, Approved: true, Submitted: true, Err: true},
		{Action: "evict_leaders", Disruptive: true, Outcome: guard.EventConfirmed, Approved: true, Submitted: true, Duration: 8 * time.Second},
		{Action: "restore_leaders", Outcome: guard.EventUnconfirmed, Approved: true, Submitted: true, Err: true},
		{Action: "no_such_action", Outcome: guard.EventRefused, Refusal: "not_supported", Err: true},
	}
	var rows []row
	for _, ai := range got {
		require.Equal(t, guard.ModeApproveEach, ai.Mode)
		rows = append(rows, row{ai.Action, ai.Disruptive, ai.Outcome, ai.Refusal, ai.Approved, !ai.Submitted.IsZero(), ai.Duration, ai.Err != nil})
	}
	if d := cmp.Diff(want, rows); d != "" {
		t.Errorf("actions (-want +got):\n%s", d)
	}
}

// TestOnActionGuardRules: each of the guard's own rules is named.
func TestOnActionGuardRules(t *testing.T) {
	var got []string
	onAction := func(ai guard.ActionInfo) { got = append(got, ai.Refusal) }
	g, _, _ := newGuard(t, newFake(3), guard.Config{OnAction: onAction})
	_, err := g.DrainStore(context.Background(), 1)
	require.ErrorIs(t, err, guard.ErrObserveOnly)

	g, _, _ = newGuard(t, newFake(3), guard.Config{Mode: guard.ModeAutomatic, OnAction: onAction})
	g.Kill()
	_, err = g.DrainStore(context.Background(), 1)
	require.ErrorIs(t, err, guard.ErrKilled)
	require.Equal(t, []string{"observe_only", "killed"}, got)
}
