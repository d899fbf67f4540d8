// Command restart-store restarts every store of a simulated five-store
// cluster, one at a time, the way an operator does a rolling restart:
// PrepareRestart (stability gate, evict the store's leaders, wait until it
// leads none), stop and start the store's process, then FinishRestart
// (wait until it is Up, remove the eviction, wait until it leads half the
// mean again).
//
//	go run ./examples/restart-store
//	go run ./examples/restart-store -pace 0.1   # a tenth of real time, to watch it
//
// The simulation runs on a virtual clock that the library's waits move, so
// the whole restart takes a moment of real time; the times it prints are
// the cluster's. It first restarts every store without evicting its
// leaders (the baseline), then safely, and prints for both: the total
// time, the leaders moved, the leaders a store still held when its process
// stopped, and, for the safe one, the moments two stores were evicted at
// once (which must be none).
// Then it makes PD end operators (TIMEOUT, CANCEL, REPLACE) and measures,
// for every action, the time from PD ending the operator (or showing the
// effect) to the action returning: at most one poll interval.
//
// While PrepareRestart and FinishRestart wait, their progress (the leaders
// left, the time against the bound) is shown on one line redrawn in place
// when the output is a terminal, and as a few plain lines otherwise.
//
// The safe restart goes through a guard (subject/guard) in automatic
// mode: PrepareRestart and FinishRestart are the guard's extra actions
// (guard.Config.Extra, run by Guard.Do), so the guard's stability gate,
// blast radius and journal apply to them. While a store is prepared, the
// example asks the guard to prepare the next one too, as a second operator
// might, and counts the refusals (ErrBusy: two stores would be evicted).
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/kvops/operator/internal/progressline"
	"github.com/kvops/operator/pdclient"
	"github.com/kvops/operator/subject"
	"github.com/kvops/operator/subject/guard"
	"github.com/kvops/operator/tikv"
	sim "github.com/kvops/operator/tikv/tikvtest"
)

func main() {
	pace := flag.Float64("pace", 0, "real seconds per simulated second (0: as fast as it goes; 0.1 lets you watch the progress line)")
	flag.Parse()
	out := progressline.New(os.Stdout, progressline.Config{Terminal: progressline.IsTerminal(os.Stdout)})
	rep, err := run(context.Background(), out, *pace)
	if err != nil {
		fmt.Fprintln(os.Stderr, "restart-store:", err)
		os.Exit(1)
	}
	if rep.TwoEvicted > 0 {
		fmt.Fprintln(os.Stderr, "restart-store: two stores were evicted at once")
		os.Exit(1)
	}
}

// poll is the library's poll interval; tick is the simulation's step.
const (
	poll = time.Second
	tick = 100 * time.Millisecond
)

// Report is what the run measured, in the simulation's time.
type Report struct {
	// Restarted lists the stores restarted, in order.
	Restarted []subject.StoreID
	// Total is the rolling restart's duration.
	Total time.Duration
	// LeadersMoved counts leadership changes during the rolling restart.
	LeadersMoved int
	// LeadersAtStop sums the leaders each store held when it stopped.
	LeadersAtStop int
	// TwoEvicted counts the ticks at which two stores were evicted.
	TwoEvicted int
	// SecondRefused counts the guard's refusals (guard.ErrBusy) of a
	// second prepare_restart while a store was prepared; Journal counts
	// the guard's journal records of the safe restart.
	SecondRefused int
	Journal       int
	// Baseline is the same rolling restart without PrepareRestart and
	// FinishRestart (stop, wait, start, next store), run first on the
	// same cluster: its total time and the leaders held when stopped.
	Baseline struct {
		Total         time.Duration
		LeadersMoved  int
		LeadersAtStop int
	}
	// Latency is, per action, the time from PD ending its operator (or
	// first showing its effect) to the action returning.
	Latency []Latency
}

// Latency is one action's measure.
type Latency struct {
	Action string
	// Ended is what PD did ("TIMEOUT", "effect shown", ...).
	Ended string
	// Took is the time from then to the action returning.
	Took time.Duration
}

// virtualClock is the simulation's clock.
type virtualClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *virtualClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

// harness moves the simulation in ticks while the library waits, and
// watches it at every tick.
type harness struct {
	cl  *sim.Cluster
	sub *tikv.Subject
	g   *guard.Guard
	// stopped is when the store being restarted stopped: FinishRestart
	// waits for a process started after it.
	stopped time.Time
	rep     *Report
	// pace is the real time each tick of the simulation takes (none by
	// default): -pace, for a person to watch.
	pace time.Duration

	mu    sync.Mutex
	probe func(context.Context) bool // the effect an action waits for
	seen  time.Time                  // when probe first held
}

func (h *harness) sleep(ctx context.Context, d time.Duration) error {
	for left := d; left > 0; left -= tick {
		if err := ctx.Err(); err != nil {
			return err
		}
		if h.pace > 0 {
			// A person watching gets a moment (main's context never
			// ends; tests never pace).
			time.Sleep(h.pace)
		}
		h.cl.Advance(min(tick, left))
		h.watch(ctx)
	}
	return ctx.Err()
}

func (h *harness) watch(ctx context.Context) {
	if cfg, err := h.sub.PD().EvictLeaderConfig(ctx); err == nil && len(cfg.Stores()) >= 2 {
		h.rep.TwoEvicted++
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.probe != nil && h.seen.IsZero() && h.probe(ctx) {
		h.seen = h.cl.Now()
	}
}

// expect sets the effect the next action waits for.
func (h *harness) expect(p func(context.Context) bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.probe, h.seen = p, time.Time{}
}

func (h *harness) effectSeen() time.Time {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.seen
}

// display is where run writes: its lines, and the progress of an action
// until Done (a *progressline.Writer).
type display interface {
	io.Writer
	Progress(subject.Progress)
	Done()
}

// run restarts the cluster's stores and writes what it does to w, with
// the progress of each prepare_restart and finish_restart while it waits.
func run(ctx context.Context, w display, pace float64) (*Report, error) {
	start := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	cl, err := sim.NewUnstartedCluster(sim.Config{Stores: 5, Regions: 500, Clock: &virtualClock{t: start}, Seed: 1})
	if err != nil {
		return nil, err
	}
	if err := cl.Start(ctx); err != nil {
		return nil, err
	}
	defer cl.Close()
	cl.Advance(time.Second)
	dir, err := os.MkdirTemp("", "restart-store")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)

	h := &harness{cl: cl, rep: &Report{}, pace: time.Duration(pace * float64(tick))}
	pd := pdclient.DefaultConfig()
	pd.Endpoints = []string{cl.PDURL()}
	ledger, err := tikv.OpenFileLedger(filepath.Join(dir, "evictions.json"), tikv.FileLedgerConfig{})
	if err != nil {
		return nil, err
	}
	defer ledger.Close()
	h.sub, err = tikv.New(tikv.Config{
		PD: pd, DisableMetrics: true, Clock: cl.Now, Sleep: h.sleep,
		Actions: tikv.ActionConfig{PollInterval: poll, Ledger: ledger},
	})
	if err != nil {
		return nil, err
	}
	defer h.sub.PD().CloseIdleConnections()
	var journal bytes.Buffer
	h.g, err = guard.New(h.sub, guard.Config{
		Mode: guard.ModeAutomatic, Clock: cl.Now, Journal: &journal,
		Extra: map[string]guard.ActionFunc{
			guard.ActionPrepareRestart: func(ctx context.Context, a guard.Args) (subject.Result, error) {
				return h.sub.PrepareRestart(ctx, a.Store, tikv.RestartOptions{})
			},
			guard.ActionFinishRestart: func(ctx context.Context, a guard.Args) (subject.Result, error) {
				return h.sub.FinishRestart(ctx, a.Store, tikv.RestartOptions{StartedAfter: h.stopped})
			},
		},
	})
	if err != nil {
		return nil, err
	}
	if err := h.naiveRestart(ctx); err != nil {
		return h.rep, err
	}
	if err := h.rollingRestart(ctx, w); err != nil {
		return h.rep, err
	}
	h.rep.Journal = bytes.Count(journal.Bytes(), []byte("\n"))
	if err := h.latencies(ctx); err != nil {
		return h.rep, err
	}
	h.print(w)
	return h.rep, nil
}

// figures are what one rolling restart measured.
type figures struct {
	total         time.Duration
	leadersMoved  int
	leadersAtStop int
}

// restartAll restarts every store, one at a time: before, stop the
// process, 15 s down (as a TiKV restart takes), start it, after.
func (h *harness) restartAll(ctx context.Context, before func(subject.StoreID) error, after func(id subject.StoreID, stopped time.Time) error) (figures, error) {
	var f figures
	stores, err := h.sub.Stores(ctx)
	if err != nil {
		return f, err
	}
	began := h.cl.Now()
	logBefore := len(h.cl.PDLog())
	for _, st := range stores {
		if err := before(st.ID); err != nil {
			return f, err
		}
		now, err := h.sub.PD().Store(ctx, uint64(st.ID))
		if err != nil {
			return f, err
		}
		f.leadersAtStop += now.Status.LeaderCount
		stopped := h.cl.Now()
		if err := h.cl.StopStore(st.ID); err != nil {
			return f, err
		}
		if err := h.sleep(ctx, 15*time.Second); err != nil {
			return f, err
		}
		if err := h.cl.StartStore(st.ID); err != nil {
			return f, err
		}
		if err := after(st.ID, stopped); err != nil {
			return f, err
		}
	}
	f.total = h.cl.Now().Sub(began)
	f.leadersMoved = bytes.Count(h.cl.PDLog()[logBefore:], []byte(`["leader changed"]`))
	return f, nil
}

// rollingRestart restarts every store safely, showing each action's
// progress on w while it waits.
func (h *harness) rollingRestart(ctx context.Context, w display) error {
	began := h.cl.Now()
	say := func(res subject.Result) {
		w.Done()
		fmt.Fprintf(w, "%8v  %s\n", h.cl.Now().Sub(began).Round(time.Second), res.Summary)
	}
	// The guard calls the action with this context: its progress
	// reaches w, and its dry run's does not.
	ctx = subject.WithProgress(ctx, w.Progress)
	stores, err := h.sub.Stores(ctx)
	if err != nil {
		return err
	}
	f, err := h.restartAll(ctx, func(id subject.StoreID) error {
		res, err := h.g.Do(ctx, guard.ActionPrepareRestart, guard.Args{Store: id})
		say(res)
		if err != nil {
			return err
		}
		// A second operator asks for the next store meanwhile.
		next := stores[(slices.IndexFunc(stores, func(s subject.Store) bool { return s.ID == id })+1)%len(stores)].ID
		_, err = h.g.Do(ctx, guard.ActionPrepareRestart, guard.Args{Store: next})
		switch {
		case errors.Is(err, guard.ErrBusy):
			h.rep.SecondRefused++
		case err == nil:
			return fmt.Errorf("the guard let store %d be prepared while store %d was", next, id)
		}
		return nil
	}, func(id subject.StoreID, stopped time.Time) error {
		h.stopped = stopped
		res, err := h.g.Do(ctx, guard.ActionFinishRestart, guard.Args{Store: id})
		say(res)
		if err == nil {
			h.rep.Restarted = append(h.rep.Restarted, id)
		}
		return err
	})
	h.rep.Total, h.rep.LeadersMoved, h.rep.LeadersAtStop = f.total, f.leadersMoved, f.leadersAtStop
	return err
}

// naiveRestart restarts every store without evicting its leaders first,
// as a restart script that only waits for the store to come back does:
// the baseline. It waits, as FinishRestart does, until the store is Up and
// leads half the mean again.
func (h *harness) naiveRestart(ctx context.Context) error {
	f, err := h.restartAll(ctx, func(subject.StoreID) error { return nil }, func(id subject.StoreID, _ time.Time) error {
		for {
			all, err := h.sub.Stores(ctx)
			if err != nil {
				return err
			}
			sum, mine, up := 0, 0, false
			for _, o := range all {
				sum += o.LeaderCount
				if o.ID == id {
					mine, up = o.LeaderCount, o.State == subject.StateUp
				}
			}
			if up && float64(mine) >= float64(sum)/float64(len(all))/2 {
				return nil
			}
			if err := h.sleep(ctx, poll); err != nil {
				return err
			}
		}
	})
	h.rep.Baseline.Total, h.rep.Baseline.LeadersMoved, h.rep.Baseline.LeadersAtStop = f.total, f.leadersMoved, f.leadersAtStop
	return err
}

// latencies makes PD end operators and measures how long each action
// takes to return after PD ended its operator or showed its effect.
func (h *harness) latencies(ctx context.Context) error {
	const region = 9
	// Start off the tick grid, so that PD acts between two polls.
	h.cl.Advance(30 * time.Millisecond)
	for _, c := range []struct {
		action  string
		outcome sim.OperatorOutcome
		call    func() (subject.Result, error)
	}{
		{"split_region", sim.OperatorTimesOut, func() (subject.Result, error) { return h.sub.SplitRegion(ctx, region) }},
		{"split_region", sim.OperatorCancelled, func() (subject.Result, error) { return h.sub.SplitRegion(ctx, region) }},
		{"split_region", sim.OperatorReplaced, func() (subject.Result, error) { return h.sub.SplitRegion(ctx, region) }},
		{"transfer_leader", sim.OperatorTimesOut, func() (subject.Result, error) { return h.transfer(ctx, region) }},
		{"transfer_leader", sim.OperatorCancelled, func() (subject.Result, error) { return h.transfer(ctx, region) }},
		{"transfer_leader", sim.OperatorReplaced, func() (subject.Result, error) { return h.transfer(ctx, region) }},
	} {
		if err := h.cl.FailOperators(c.outcome, 1); err != nil {
			return err
		}
		res, err := c.call()
		if !errors.Is(err, subject.ErrActionFailed) {
			return fmt.Errorf("%s: want a failed action, got %v", c.action, err)
		}
		status, _, at, ok := h.cl.OperatorEnded(region)
		if !ok {
			return fmt.Errorf("%s: PD ended no operator", c.action)
		}
		h.rep.Latency = append(h.rep.Latency, Latency{Action: c.action, Ended: status, Took: res.Finished.Sub(at)})
	}
	storeIs := func(id subject.StoreID, ok func(pdclient.Store) bool) func(context.Context) bool {
		return func(ctx context.Context) bool {
			st, err := h.sub.PD().Store(ctx, uint64(id))
			return err == nil && ok(*st)
		}
	}
	for _, c := range []struct {
		action string
		effect func(context.Context) bool
		call   func() (subject.Result, error)
	}{
		{"transfer_leader", nil, func() (subject.Result, error) { return h.transfer(ctx, region) }},
		{"split_region", nil, func() (subject.Result, error) { return h.sub.SplitRegion(ctx, region) }},
		{"evict_leaders", storeIs(3, func(s pdclient.Store) bool { return s.Status.LeaderCount == 0 }),
			func() (subject.Result, error) { return h.sub.EvictLeaders(ctx, 3) }},
		{"restore_leaders", storeIs(3, func(s pdclient.Store) bool { return s.Status.LeaderCount > 0 }),
			func() (subject.Result, error) { return h.sub.RestoreLeaders(ctx, 3) }},
		{"drain_store", storeIs(4, func(s pdclient.Store) bool { return s.Meta.StateName == "Offline" }),
			func() (subject.Result, error) { return h.sub.DrainStore(ctx, 4) }},
		{"undrain_store", storeIs(4, func(s pdclient.Store) bool { return s.Meta.StateName == "Up" }),
			func() (subject.Result, error) { return h.sub.UndrainStore(ctx, 4) }},
		{"set_schedule_limit", func(ctx context.Context) bool {
			cfg, err := h.sub.PD().ScheduleConfig(ctx)
			return err == nil && cfg.LeaderScheduleLimit == 8
		}, func() (subject.Result, error) { return h.sub.SetScheduleLimit(ctx, subject.LeaderLimit, 8) }},
		{"set_low_space_threshold", func(ctx context.Context) bool {
			cfg, err := h.sub.PD().ScheduleConfig(ctx)
			return err == nil && cfg.LowSpaceRatio == 0.85
		}, func() (subject.Result, error) { return h.sub.SetLowSpaceThreshold(ctx, 85) }},
	} {
		h.expect(c.effect)
		res, err := c.call()
		if err != nil {
			return fmt.Errorf("%s: %w", c.action, err)
		}
		at := h.effectSeen()
		ended := "effect shown"
		if c.effect == nil {
			status, _, end, ok := h.cl.OperatorEnded(region)
			if !ok {
				return fmt.Errorf("%s: PD ended no operator", c.action)
			}
			at, ended = end, status
		}
		if at.IsZero() {
			// The effect showed at the action's first read, before any
			// wait.
			at = res.Finished
		}
		h.rep.Latency = append(h.rep.Latency, Latency{Action: c.action, Ended: ended, Took: res.Finished.Sub(at)})
	}
	h.expect(nil)
	return nil
}

// transfer moves region's leader to another voter that may lead.
func (h *harness) transfer(ctx context.Context, region uint64) (subject.Result, error) {
	r, err := h.sub.PD().RegionByID(ctx, region)
	if err != nil {
		return subject.Result{}, err
	}
	ev, err := h.sub.PD().EvictLeaderConfig(ctx)
	var evicted []uint64
	if err == nil {
		evicted = ev.Stores()
	}
	for _, p := range r.Peers {
		if p.StoreID != r.Leader.StoreID && !slices.Contains(evicted, p.StoreID) {
			return h.sub.TransferLeader(ctx, subject.RegionID(region), subject.StoreID(p.StoreID))
		}
	}
	return subject.Result{}, fmt.Errorf("region %d has no voter to move its leader to", region)
}

func (h *harness) print(w io.Writer) {
	r := h.rep
	fmt.Fprintf(w, "\nrolling restart of %d stores (%v)\n", len(r.Restarted), r.Restarted)
	fmt.Fprintf(w, "  total time:                %v (baseline without eviction: %v)\n", r.Total.Round(time.Second), r.Baseline.Total.Round(time.Second))
	fmt.Fprintf(w, "  leaders moved:             %d (baseline: %d)\n", r.LeadersMoved, r.Baseline.LeadersMoved)
	fmt.Fprintf(w, "  leaders held when stopped: %d (baseline: %d)\n", r.LeadersAtStop, r.Baseline.LeadersAtStop)
	fmt.Fprintf(w, "  moments with two evicted:  %d\n", r.TwoEvicted)
	fmt.Fprintf(w, "  second prepare refused:    %d of %d (guard.ErrBusy)\n", r.SecondRefused, len(r.Restarted))
	fmt.Fprintf(w, "  guard journal records:     %d\n", r.Journal)
	fmt.Fprintf(w, "\nfrom PD ending the operator (or showing the effect) to the action returning (poll %v):\n", poll)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, l := range r.Latency {
		fmt.Fprintf(tw, "  %s\t%s\t%v\n", l.Action, l.Ended, l.Took)
	}
	_ = tw.Flush()
}
