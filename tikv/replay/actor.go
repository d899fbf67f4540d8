package replay

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/kvops/operator/subject"
	"github.com/kvops/operator/subject/guard"
)

// actor is the guard as the operator sees it: every call goes through
// the guard and is kept, with the guard's decision, for the tick's
// record. Calls are serialised, so that the guard's report
// (Config.OnAction, on the caller's goroutine) is the call's own.
type actor struct {
	g *guard.Guard

	mu   sync.Mutex
	at   time.Time
	info guard.ActionInfo
	acts []Action
}

var _ subject.Actor = (*actor)(nil)

func (a *actor) start(at time.Time) {
	a.mu.Lock()
	a.at, a.acts = at, nil
	a.mu.Unlock()
}

func (a *actor) take() []Action {
	a.mu.Lock()
	defer a.mu.Unlock()
	acts := a.acts
	a.acts = nil
	return acts
}

func (a *actor) do(name, target string, call func() (subject.Result, error)) (subject.Result, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.info = guard.ActionInfo{}
	res, err := call()
	act := Action{At: a.at, Action: name, Target: target, Outcome: a.info.Outcome, Refusal: a.info.Refusal, NoChange: res.NoChange}
	switch {
	case err != nil:
		act.Reason = err.Error()
		if act.Outcome == "" {
			act.Outcome = guard.EventRefused
		}
	default:
		act.Reason = res.Summary
	}
	a.acts = append(a.acts, act)
	return res, err
}

func store(id subject.StoreID) string   { return fmt.Sprintf("store %d", id) }
func region(id subject.RegionID) string { return fmt.Sprintf("region %d", id) }
func limit(k subject.LimitKind) string  { return fmt.Sprintf("%s limit", k) }
func percent(p float64) string          { return fmt.Sprintf("%g%%", p) }
func transfer(r subject.RegionID, s subject.StoreID) string {
	return fmt.Sprintf("region %d to store %d", r, s)
}

func (a *actor) TransferLeader(ctx context.Context, r subject.RegionID, to subject.StoreID) (subject.Result, error) {
	return a.do(guard.ActionTransferLeader, transfer(r, to), func() (subject.Result, error) { return a.g.TransferLeader(ctx, r, to) })
}

func (a *actor) SplitRegion(ctx context.Context, r subject.RegionID) (subject.Result, error) {
	return a.do(guard.ActionSplitRegion, region(r), func() (subject.Result, error) { return a.g.SplitRegion(ctx, r) })
}

func (a *actor) DrainStore(ctx context.Context, s subject.StoreID) (subject.Result, error) {
	return a.do(guard.ActionDrainStore, store(s), func() (subject.Result, error) { return a.g.DrainStore(ctx, s) })
}

func (a *actor) UndrainStore(ctx context.Context, s subject.StoreID) (subject.Result, error) {
	return a.do(guard.ActionUndrainStore, store(s), func() (subject.Result, error) { return a.g.UndrainStore(ctx, s) })
}

func (a *actor) EvictLeaders(ctx context.Context, s subject.StoreID) (subject.Result, error) {
	return a.do(guard.ActionEvictLeaders, store(s), func() (subject.Result, error) { return a.g.EvictLeaders(ctx, s) })
}

func (a *actor) RestoreLeaders(ctx context.Context, s subject.StoreID) (subject.Result, error) {
	return a.do(guard.ActionRestoreLeaders, store(s), func() (subject.Result, error) { return a.g.RestoreLeaders(ctx, s) })
}

func (a *actor) SetScheduleLimit(ctx context.Context, k subject.LimitKind, n uint64) (subject.Result, error) {
	return a.do(guard.ActionSetScheduleLimit, limit(k), func() (subject.Result, error) { return a.g.SetScheduleLimit(ctx, k, n) })
}

func (a *actor) SetLowSpaceThreshold(ctx context.Context, p float64) (subject.Result, error) {
	return a.do(guard.ActionSetLowSpaceThreshold, percent(p), func() (subject.Result, error) { return a.g.SetLowSpaceThreshold(ctx, p) })
}
