package guard_test

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/kvops/operator/subject"
)

func TestMain(m *testing.M) {
	// A test of journal_file_test.go started this binary as a second
	// process.
	if mode := os.Getenv(childEnv); mode != "" {
		os.Exit(runChild(mode))
	}
	goleak.VerifyTestMain(m)
}

// fake is the honest double of "any subject" for the guard's own logic:
// it honours subject.WithDryRun, records every call, and answers each
// action with the error the test sets. The guard's behaviour against a
// real subject is tested through the simulated TiKV cluster in
// sim_test.go.
type fake struct {
	mu     sync.Mutex
	stores []subject.Store
	errs   map[string]error // by action, for real calls
	dryErr map[string]error // by action, for dry runs
	calls  []string         // "drain_store store 4" or "dry drain_store store 4"
	// block, when set for a call ("drain_store store 4"), holds it until
	// it is closed or the call's context ends; started, when set,
	// receives the call when it starts waiting.
	block   map[string]chan struct{} // by call
	started chan string
	// ignoreDryRun makes the fake act even when asked for a dry run.
	ignoreDryRun bool
}

func newFake(n int) *fake {
	f := &fake{errs: map[string]error{}, dryErr: map[string]error{}, block: map[string]chan struct{}{}}
	for i := 1; i <= n; i++ {
		f.stores = append(f.stores, subject.Store{ID: subject.StoreID(i), State: subject.StateUp})
	}
	return f
}

func (f *fake) setState(id subject.StoreID, s subject.StoreState) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stores[id-1].State = s
}

func (f *fake) setErr(action string, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.errs[action] = err
}

func (f *fake) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

func (f *fake) act(ctx context.Context, action, target string) (subject.Result, error) {
	dry := subject.IsDryRun(ctx) && !f.ignoreDryRun
	f.mu.Lock()
	call := action + " " + target
	if dry {
		call = "dry " + call
	}
	f.calls = append(f.calls, call)
	err, block := f.errs[action], f.block[call]
	if dry {
		err, block = f.dryErr[action], nil
	}
	started := f.started
	f.mu.Unlock()
	if block != nil {
		if started != nil {
			started <- call
		}
		select {
		case <-block:
		case <-ctx.Done():
			return subject.Result{Action: action, Target: target}, fmt.Errorf("fake: waiting: %w", ctx.Err())
		}
	}
	verb := "did"
	if dry {
		verb = "would do"
	}
	// As a subject whose action waits would, in a dry run too: reporting
	// is subject.ReportProgress's to refuse there.
	subject.ReportProgress(ctx, subject.Progress{Action: action, Target: target, Seen: verb + " " + call, Reads: 1})
	return subject.Result{Action: action, Target: target, DryRun: dry, Summary: verb + " " + call}, err
}

func (f *fake) Stores(context.Context) ([]subject.Store, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]subject.Store(nil), f.stores...), nil
}

func (f *fake) HotWriteRegions(context.Context) ([]subject.HotRegion, error) { return nil, nil }
func (f *fake) HotReadRegions(context.Context) ([]subject.HotRegion, error)  { return nil, nil }
func (f *fake) StoreMetrics(_ context.Context, id subject.StoreID) (subject.StoreMetrics, error) {
	return subject.StoreMetrics{Store: id}, nil
}
func (f *fake) AllStoreMetrics(context.Context) ([]subject.StoreMetrics, error) { return nil, nil }
func (f *fake) ClusterMetrics(context.Context) (subject.ClusterMetrics, error) {
	return subject.ClusterMetrics{}, nil
}
func (f *fake) LeadershipChanges(context.Context, time.Time) ([]subject.LeadershipChange, error) {
	return nil, subject.ErrNotSupported
}
func (f *fake) Region(_ context.Context, id subject.RegionID) (subject.Region, error) {
	return subject.Region{ID: id}, nil
}
func (f *fake) StoreRegions(context.Context, subject.StoreID, int) ([]subject.Region, error) {
	return nil, subject.ErrNotSupported
}
func (f *fake) RangeRegions(context.Context, []byte, []byte, int) ([]subject.Region, error) {
	return nil, subject.ErrNotSupported
}
func (f *fake) Capabilities() subject.Capabilities {
	return subject.Capabilities{Subject: "fake", Actions: []subject.ActionSpec{{Name: "drain_store"}}}
}

func (f *fake) TransferLeader(ctx context.Context, r subject.RegionID, to subject.StoreID) (subject.Result, error) {
	return f.act(ctx, "transfer_leader", fmt.Sprintf("region %d to store %d", r, to))
}
func (f *fake) SplitRegion(ctx context.Context, r subject.RegionID) (subject.Result, error) {
	return f.act(ctx, "split_region", "region "+r.String())
}
func (f *fake) DrainStore(ctx context.Context, s subject.StoreID) (subject.Result, error) {
	return f.act(ctx, "drain_store", "store "+s.String())
}
func (f *fake) UndrainStore(ctx context.Context, s subject.StoreID) (subject.Result, error) {
	return f.act(ctx, "undrain_store", "store "+s.String())
}
func (f *fake) EvictLeaders(ctx context.Context, s subject.StoreID) (subject.Result, error) {
	return f.act(ctx, "evict_leaders", "store "+s.String())
}
func (f *fake) RestoreLeaders(ctx context.Context, s subject.StoreID) (subject.Result, error) {
	return f.act(ctx, "restore_leaders", "store "+s.String())
}
func (f *fake) SetScheduleLimit(ctx context.Context, k subject.LimitKind, n uint64) (subject.Result, error) {
	return f.act(ctx, "set_schedule_limit", fmt.Sprintf("%s-schedule-limit %d", k, n))
}
func (f *fake) SetLowSpaceThreshold(ctx context.Context, p float64) (subject.Result, error) {
	return f.act(ctx, "set_low_space_threshold", fmt.Sprintf("low-space-ratio %v", p))
}

// stableFake adds a subject's own stability check.
type stableFake struct {
	*fake
	err    error
	except []subject.StoreID
}

func (s *stableFake) CheckStable(_ context.Context, except subject.StoreID) error {
	s.except = append(s.except, except)
	return s.err
}

// evictFake adds a subject's own list of evicted stores.
type evictFake struct {
	*fake
	evicted []subject.StoreID
	err     error
}

func (e *evictFake) Evictions(context.Context) ([]subject.Eviction, error) {
	var out []subject.Eviction
	for _, id := range e.evicted {
		out = append(out, subject.Eviction{Store: id, Scheduler: "evict-leader-scheduler"})
	}
	return out, e.err
}

// clock is a settable clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

var epoch = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

func newClock() *clock { return &clock{t: epoch} }

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *clock) Advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// ids numbers the actions "a1", "a2", ...
func ids() func() string {
	var mu sync.Mutex
	n := 0
	return func() string {
		mu.Lock()
		defer mu.Unlock()
		n++
		return fmt.Sprintf("a%d", n)
	}
}
