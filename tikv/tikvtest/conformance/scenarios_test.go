package conformance

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/kvops/operator/pdclient"
	"github.com/kvops/operator/subject"
	"github.com/kvops/operator/tikv"
)

// step is one thing that happens in a scenario: something done to the
// cluster (do), an action whose outcome must be want (act), or a look at
// the invariants, which must find exactly inv.
type step struct {
	name string
	do   func(e *env)
	act  func(e *env) (subject.Result, error)
	// probe, instead of act, watches something happen and says how it
	// went.
	probe func(e *env) outcome
	want  outcome
	// wantf, if set, gives want: an outcome the library's own reading of a
	// recorded answer decides.
	wantf func(t *testing.T) outcome
	inv   map[string]finding
}

// scenario is a sequence of steps run on a cluster in its initial state.
type scenario struct {
	name string
	// mod changes the configuration of the scenario's Subject.
	mod func(*tikv.Config)
	// setup runs first; it chooses e.r.
	setup func(e *env)
	// fresh runs the scenario on a cluster just born (backend.fresh).
	fresh bool
	steps []step
}

func act(name string, want outcome, f func(e *env) (subject.Result, error)) step {
	return step{name: name, act: f, want: want}
}

func do(name string, f func(e *env)) step { return step{name: name, do: f} }

func look(name string, inv map[string]finding) step { return step{name: name, inv: inv} }

// withTimeouts returns a Subject configuration change that sets the
// actions' bounds.
func withTimeouts(f func(*tikv.ActionTimeouts)) func(*tikv.Config) {
	return func(c *tikv.Config) { f(&c.Actions.Timeouts) }
}

// chooseRegion picks, as e.r, a region led from store 1 with a voter on
// store 2.
func chooseRegion(e *env) { e.r = e.region(1, 2) }

const (
	noRegion = subject.RegionID(1 << 40)
	noStore  = subject.StoreID(99)
)

var scenarios = []scenario{
	{
		name:  "refusals and nothing to do",
		setup: chooseRegion,
		steps: []step{
			look("a healthy cluster", healthy),
			act("transfer region 0", refused(subject.ErrInvalid), func(e *env) (subject.Result, error) { return e.sub.TransferLeader(e.ctx, 0, 1) }),
			act("transfer a missing region", refused(subject.ErrNotFound), func(e *env) (subject.Result, error) { return e.sub.TransferLeader(e.ctx, noRegion, 1) }),
			act("transfer to a missing store", refused(subject.ErrNotFound), func(e *env) (subject.Result, error) { return e.sub.TransferLeader(e.ctx, e.r.ID, noStore) }),
			act("transfer to a store without a voter", refused(subject.ErrPrecondition), func(e *env) (subject.Result, error) {
				return e.sub.TransferLeader(e.ctx, e.r.ID, stranger(e.r))
			}),
			act("transfer to the leader's store", nochange, func(e *env) (subject.Result, error) { return e.sub.TransferLeader(e.ctx, e.r.ID, e.r.Leader.Store) }),
			act("split region 0", refused(subject.ErrInvalid), func(e *env) (subject.Result, error) { return e.sub.SplitRegion(e.ctx, 0) }),
			act("split a missing region", refused(subject.ErrNotFound), func(e *env) (subject.Result, error) { return e.sub.SplitRegion(e.ctx, noRegion) }),
			act("split at a key outside the region", refused(subject.ErrInvalid), func(e *env) (subject.Result, error) {
				return e.sub.SplitRegionWith(e.ctx, e.r.ID, pdclient.SplitUseKey, e.r.StartKey)
			}),
			act("drain store 0", refused(subject.ErrInvalid), func(e *env) (subject.Result, error) { return e.sub.DrainStore(e.ctx, 0) }),
			act("drain a missing store", refused(subject.ErrNotFound), func(e *env) (subject.Result, error) { return e.sub.DrainStore(e.ctx, noStore) }),
			act("undrain store 0", refused(subject.ErrInvalid), func(e *env) (subject.Result, error) { return e.sub.UndrainStore(e.ctx, 0) }),
			act("undrain a missing store", refused(subject.ErrNotFound), func(e *env) (subject.Result, error) { return e.sub.UndrainStore(e.ctx, noStore) }),
			act("undrain an Up store", nochange, func(e *env) (subject.Result, error) { return e.sub.UndrainStore(e.ctx, 1) }),
			act("evict store 0", refused(subject.ErrInvalid), func(e *env) (subject.Result, error) { return e.sub.EvictLeaders(e.ctx, 0) }),
			act("evict a missing store", refused(subject.ErrNotFound), func(e *env) (subject.Result, error) { return e.sub.EvictLeaders(e.ctx, noStore) }),
			act("restore store 0", refused(subject.ErrInvalid), func(e *env) (subject.Result, error) { return e.sub.RestoreLeaders(e.ctx, 0) }),
			act("restore a missing store", refused(subject.ErrNotFound), func(e *env) (subject.Result, error) { return e.sub.RestoreLeaders(e.ctx, noStore) }),
			act("restore a store not evicted", nochange, func(e *env) (subject.Result, error) { return e.sub.RestoreLeaders(e.ctx, 1) }),
			act("an unknown limit", refused(subject.ErrInvalid), func(e *env) (subject.Result, error) { return e.sub.SetScheduleLimit(e.ctx, subject.LimitKind(99), 4) }),
			act("a limit too high", refused(subject.ErrInvalid), func(e *env) (subject.Result, error) {
				return e.sub.SetScheduleLimit(e.ctx, subject.LeaderLimit, tikv.MaxScheduleLimit+1)
			}),
			act("the leader limit PD has", nochange, func(e *env) (subject.Result, error) { return e.sub.SetScheduleLimit(e.ctx, subject.LeaderLimit, 4) }),
			act("low space at 0%", refused(subject.ErrInvalid), func(e *env) (subject.Result, error) { return e.sub.SetLowSpaceThreshold(e.ctx, 0) }),
			act("low space at 100%", refused(subject.ErrInvalid), func(e *env) (subject.Result, error) { return e.sub.SetLowSpaceThreshold(e.ctx, 100) }),
			act("low space below high space", refused(subject.ErrInvalid), func(e *env) (subject.Result, error) { return e.sub.SetLowSpaceThreshold(e.ctx, 60) }),
			act("the low space PD has", nochange, func(e *env) (subject.Result, error) { return e.sub.SetLowSpaceThreshold(e.ctx, 80) }),
			act("prepare store 0", refused(subject.ErrInvalid), func(e *env) (subject.Result, error) { return e.sub.PrepareRestart(e.ctx, 0, tikv.RestartOptions{}) }),
			act("prepare a missing store", refused(subject.ErrNotFound), func(e *env) (subject.Result, error) {
				return e.sub.PrepareRestart(e.ctx, noStore, tikv.RestartOptions{})
			}),
			act("finish store 0", refused(subject.ErrInvalid), func(e *env) (subject.Result, error) { return e.sub.FinishRestart(e.ctx, 0, tikv.RestartOptions{}) }),
			act("finish a missing store", refused(subject.ErrNotFound), func(e *env) (subject.Result, error) {
				return e.sub.FinishRestart(e.ctx, noStore, tikv.RestartOptions{})
			}),
			act("finish a store that was not restarted", nochange, func(e *env) (subject.Result, error) {
				return e.sub.FinishRestart(e.ctx, 1, tikv.RestartOptions{})
			}),
		},
	},
	{
		name:  "transfer leader",
		setup: chooseRegion,
		steps: []step{
			act("to a follower", confirmed, func(e *env) (subject.Result, error) { return e.sub.TransferLeader(e.ctx, e.r.ID, 2) }),
			act("again", nochange, func(e *env) (subject.Result, error) { return e.sub.TransferLeader(e.ctx, e.r.ID, 2) }),
		},
	},
	{
		name: "limits",
		steps: []step{
			act("leader limit 8", confirmed, func(e *env) (subject.Result, error) { return e.sub.SetScheduleLimit(e.ctx, subject.LeaderLimit, 8) }),
			act("leader limit 8 again", nochange, func(e *env) (subject.Result, error) { return e.sub.SetScheduleLimit(e.ctx, subject.LeaderLimit, 8) }),
			act("replica limit 16", confirmed, func(e *env) (subject.Result, error) { return e.sub.SetScheduleLimit(e.ctx, subject.ReplicaLimit, 16) }),
			act("low space 85%", confirmed, func(e *env) (subject.Result, error) { return e.sub.SetLowSpaceThreshold(e.ctx, 85) }),
			act("low space 85% again", nochange, func(e *env) (subject.Result, error) { return e.sub.SetLowSpaceThreshold(e.ctx, 85) }),
		},
	},
	{
		name: "evict and restore leaders",
		setup: func(e *env) {
			e.r = e.region(2, 1)
		},
		steps: []step{
			act("evict store 1", confirmed, func(e *env) (subject.Result, error) { return e.sub.EvictLeaders(e.ctx, 1) }),
			act("evict store 1 again", nochange, func(e *env) (subject.Result, error) { return e.sub.EvictLeaders(e.ctx, 1) }),
			act("transfer a leader to store 1", refused(subject.ErrPrecondition), func(e *env) (subject.Result, error) {
				return e.sub.TransferLeader(e.ctx, e.r.ID, 1)
			}),
			act("evict store 2, leaving 3 of 4 wanted", refused(subject.ErrPrecondition), func(e *env) (subject.Result, error) {
				return e.subject(func(c *tikv.Config) { c.Actions.MinLeaderStores = 4 }).EvictLeaders(e.ctx, 2)
			}),
			act("restore store 1", confirmed, func(e *env) (subject.Result, error) { return e.sub.RestoreLeaders(e.ctx, 1) }),
			act("restore store 1 again", nochange, func(e *env) (subject.Result, error) { return e.sub.RestoreLeaders(e.ctx, 1) }),
		},
	},
	{
		name: "restart a store",
		steps: []step{
			act("prepare store 3", confirmed, func(e *env) (subject.Result, error) { return e.sub.PrepareRestart(e.ctx, 3, tikv.RestartOptions{}) }),
			act("prepare store 3 again", nochange, func(e *env) (subject.Result, error) { return e.sub.PrepareRestart(e.ctx, 3, tikv.RestartOptions{}) }),
			act("finish store 3", confirmed, func(e *env) (subject.Result, error) { return e.sub.FinishRestart(e.ctx, 3, tikv.RestartOptions{}) }),
			act("finish store 3 again", nochange, func(e *env) (subject.Result, error) { return e.sub.FinishRestart(e.ctx, 3, tikv.RestartOptions{}) }),
		},
	},
	{
		name: "bounds end first",
		mod: withTimeouts(func(t *tikv.ActionTimeouts) {
			t.EvictLeaders = 500 * time.Millisecond
		}),
		steps: []step{
			act("evict store 1 within 500ms", unconfirmed(""), func(e *env) (subject.Result, error) { return e.sub.EvictLeaders(e.ctx, 1) }),
			act("restore store 1", confirmed, func(e *env) (subject.Result, error) { return e.sub.RestoreLeaders(e.ctx, 1) }),
			act("prepare store 2 within 500ms", unconfirmed(""), func(e *env) (subject.Result, error) {
				return e.sub.PrepareRestart(e.ctx, 2, tikv.RestartOptions{EvictTimeout: 500 * time.Millisecond})
			}),
			act("finish store 2", confirmed, func(e *env) (subject.Result, error) { return e.sub.FinishRestart(e.ctx, 2, tikv.RestartOptions{}) }),
		},
	},
	{
		name:  "an operator pending on the region",
		setup: func(e *env) { chooseRegion(e); e.splitPending(e.r.ID) },
		steps: []step{
			act("transfer its leader", refused(subject.ErrPrecondition), func(e *env) (subject.Result, error) { return e.sub.TransferLeader(e.ctx, e.r.ID, 2) }),
			act("split it", refused(subject.ErrPrecondition), func(e *env) (subject.Result, error) { return e.sub.SplitRegion(e.ctx, e.r.ID) }),
		},
	},
	{
		name:  "a split that never executes",
		setup: chooseRegion,
		mod:   withTimeouts(func(t *tikv.ActionTimeouts) { t.SplitRegion = 3 * time.Second }),
		steps: []step{
			act("split within 3s", unconfirmed("RUNNING"), func(e *env) (subject.Result, error) { return e.sub.SplitRegion(e.ctx, e.r.ID) }),
			// The action cancelled its operator: PD takes another.
			act("then transfer its leader", confirmed, func(e *env) (subject.Result, error) { return e.sub.TransferLeader(e.ctx, e.r.ID, 2) }),
			act("split, cancelled by someone else", failed("CANCEL"), func(e *env) (subject.Result, error) {
				var o once
				e.hook = func() { o.do(func() { e.cancelOperator(e.r.ID) }) }
				defer func() { e.hook = nil }()
				return e.sub.SplitRegion(e.ctx, e.r.ID)
			}),
		},
	},
	{
		name:  "a split that PD times out",
		setup: chooseRegion,
		steps: []step{
			act("split", failed("TIMEOUT"), func(e *env) (subject.Result, error) { return e.sub.SplitRegion(e.ctx, e.r.ID) }),
		},
	},
	{
		name: "low space",
		steps: []step{
			do("PD's space ratios at 0.1% and 0.2%", func(e *env) {
				// One at a time, high first: PD checks each against the
				// other, in no set order within one request.
				e.mustRaw(http.MethodPost, "/pd/api/v1/config", map[string]any{"high-space-ratio": 0.001})
				e.mustRaw(http.MethodPost, "/pd/api/v1/config", map[string]any{"low-space-ratio": 0.002})
			}),
			look("every store above the low-space ratio", map[string]finding{
				tikv.InvStoreHealth: {}, tikv.InvLowSpace: {Violated: allStoreKeys()}, tikv.InvRegionPeers: {}, tikv.InvLeaderImbalance: {},
			}),
		},
	},
	{
		name:  "stores stop heartbeating",
		setup: chooseRegion,
		steps: []step{
			do("stop every store", func(e *env) { e.c.stopStores(e.t) }),
			act("transfer a leader within 3s", unconfirmed("RUNNING"), func(e *env) (subject.Result, error) {
				return e.subject(withTimeouts(func(t *tikv.ActionTimeouts) { t.TransferLeader = 3 * time.Second })).TransferLeader(e.ctx, e.r.ID, 2)
			}),
			act("transfer a leader, cancelled by someone else", failed("CANCEL"), func(e *env) (subject.Result, error) {
				var o once
				e.hook = func() { o.do(func() { e.cancelOperator(e.r.ID) }) }
				defer func() { e.hook = nil }()
				return e.sub.TransferLeader(e.ctx, e.r.ID, 2)
			}),
			do("wait until no store is Up", func(e *env) { e.waitFor("no store Up", time.Minute, e.noneUp) }),
			look("stores not Up", map[string]finding{
				tikv.InvStoreHealth: {Violated: allStoreKeys()}, tikv.InvLowSpace: {}, tikv.InvRegionPeers: {}, tikv.InvLeaderImbalance: {},
			}),
			act("transfer a leader", refused(subject.ErrPrecondition), func(e *env) (subject.Result, error) { return e.sub.TransferLeader(e.ctx, e.r.ID, 2) }),
			act("drain a store", refused(subject.ErrPrecondition), func(e *env) (subject.Result, error) { return e.sub.DrainStore(e.ctx, 1) }),
			act("evict a store", refused(subject.ErrPrecondition), func(e *env) (subject.Result, error) { return e.sub.EvictLeaders(e.ctx, 1) }),
			act("prepare a restart", refused(subject.ErrPrecondition), func(e *env) (subject.Result, error) {
				return e.sub.PrepareRestart(e.ctx, 1, tikv.RestartOptions{})
			}),
			// It waits for the store to come back before it sends
			// anything: its bound ending is a refusal (issue 19).
			act("finish a restart within 2s", refused(subject.ErrPrecondition), func(e *env) (subject.Result, error) {
				return e.sub.FinishRestart(e.ctx, 1, tikv.RestartOptions{UpTimeout: 2 * time.Second})
			}),
			do("wait until every store is Down", func(e *env) {
				e.waitFor("every store Down", time.Minute, func() bool { return e.allIn(subject.StateDown) })
			}),
			look("stores Down", map[string]finding{
				tikv.InvStoreHealth: {Violated: allStoreKeys()}, tikv.InvLowSpace: {}, tikv.InvRegionPeers: {}, tikv.InvLeaderImbalance: {},
			}),
			do("start every store", func(e *env) { e.c.startStores(e.t) }),
			look("stores back", healthy),
		},
	},
	pdLeaderChange,
	freshCluster,
	{
		name: "evictions the library made",
		setup: func(e *env) {
			l, err := tikv.OpenFileLedger(filepath.Join(e.t.TempDir(), "ledger.json"), tikv.FileLedgerConfig{})
			require.NoError(e.t, err)
			e.t.Cleanup(func() { _ = l.Close() })
			e.sub = e.subject(func(c *tikv.Config) { c.Actions.Ledger = l })
		},
		steps: []step{
			act("reconcile without a ledger", refused(subject.ErrInvalid), func(e *env) (subject.Result, error) {
				return e.subject(nil).ReconcileEvictions(e.ctx)
			}),
			act("reconcile with nothing evicted", nochange, func(e *env) (subject.Result, error) { return e.sub.ReconcileEvictions(e.ctx) }),
			act("prepare store 4", confirmed, func(e *env) (subject.Result, error) { return e.sub.PrepareRestart(e.ctx, 4, tikv.RestartOptions{}) }),
			act("reconcile", confirmed, func(e *env) (subject.Result, error) { return e.sub.ReconcileEvictions(e.ctx) }),
			act("reconcile again", nochange, func(e *env) (subject.Result, error) { return e.sub.ReconcileEvictions(e.ctx) }),
			do("someone else evicts store 2", func(e *env) {
				e.mustRaw(http.MethodPost, "/pd/api/v1/schedulers", map[string]any{"name": "evict-leader-scheduler", "store_id": 2})
			}),
			act("finish store 2, evicted by someone else", nochange, func(e *env) (subject.Result, error) {
				return e.sub.FinishRestart(e.ctx, 2, tikv.RestartOptions{})
			}),
			act("reconcile leaves it", nochange, func(e *env) (subject.Result, error) { return e.sub.ReconcileEvictions(e.ctx) }),
		},
	},
	{
		name: "drain and undrain",
		steps: []step{
			act("drain store 5", confirmed, func(e *env) (subject.Result, error) { return e.sub.DrainStore(e.ctx, 5) }),
			act("drain store 5 again", nochange, func(e *env) (subject.Result, error) { return e.sub.DrainStore(e.ctx, 5) }),
			act("undrain store 5", confirmed, func(e *env) (subject.Result, error) { return e.sub.UndrainStore(e.ctx, 5) }),
			act("undrain store 5 again", nochange, func(e *env) (subject.Result, error) { return e.sub.UndrainStore(e.ctx, 5) }),
		},
	},
}

// results collects every step's outcome per backend, for the table
// TestConformance logs at its end.
type results struct {
	mu   sync.Mutex
	rows []string
	got  map[string]map[string]string // row -> backend -> outcome
}

func (r *results) add(row, backend, got string, ok bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.got == nil {
		r.got = map[string]map[string]string{}
	}
	if r.got[row] == nil {
		r.got[row] = map[string]string{}
		r.rows = append(r.rows, row)
	}
	if !ok {
		got += " FAIL"
	}
	r.got[row][backend] = got
}

func (r *results) table() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var b strings.Builder
	for _, row := range r.rows {
		fmt.Fprintf(&b, "%-70s", row)
		for _, be := range backends {
			fmt.Fprintf(&b, " | %-28s", r.got[row][be.name])
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// TestConformance runs every scenario on every backend: each action's
// outcome and each look at the invariants must be the scenario's, on
// tikvtest and on the real PD alike.
func TestConformance(t *testing.T) {
	var res results
	t.Cleanup(func() { t.Logf("scenario / step | %s | %s\n%s", backends[0].name, backends[1].name, res.table()) })
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			for _, be := range backends {
				t.Run(be.name, func(t *testing.T) { runScenario(t, be, sc, &res) })
			}
		})
	}
}

func runScenario(t *testing.T, be backend, sc scenario, res *results) {
	start := time.Now()
	open := be.open
	if sc.fresh {
		open = be.fresh
	}
	c := open(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	e := &env{t: t, ctx: ctx, c: c, mod: sc.mod}
	e.sub = e.subject(nil)
	if sc.setup != nil {
		sc.setup(e)
	}
	for _, st := range sc.steps {
		row := sc.name + " / " + st.name
		switch {
		case st.do != nil:
			st.do(e)
		case st.act != nil || st.probe != nil:
			want := st.want
			if st.wantf != nil {
				want = st.wantf(t)
			}
			var got outcome
			var lastErr error
			if st.act != nil {
				var r subject.Result
				r, lastErr = st.act(e)
				got = outcomeOf(r, lastErr)
			} else {
				got = st.probe(e)
			}
			ok := got == want
			res.add(row, be.name, got.String(), ok)
			if !ok {
				t.Errorf("%s: %v, want %v (%v)", st.name, got, want, lastErr)
			}
		case st.inv != nil:
			got := e.invariants(e.sub)
			diff := cmp.Diff(st.inv, got)
			res.add(row, be.name, summarize(got), diff == "")
			if diff != "" {
				t.Errorf("%s: invariants (-want +got):\n%s", st.name, diff)
			}
		}
	}
	t.Logf("%s on %s: %v", sc.name, be.name, time.Since(start).Round(100*time.Millisecond))
}

// summarize writes the findings of the invariants that found something.
func summarize(m map[string]finding) string {
	var parts []string
	for _, name := range []string{tikv.InvStoreHealth, tikv.InvLowSpace, tikv.InvRegionPeers, tikv.InvLeaderImbalance} {
		f := m[name]
		switch {
		case f.Err != "":
			parts = append(parts, name+" error "+f.Err)
		case len(f.Violated) > 0 || len(f.Unknown) > 0:
			parts = append(parts, fmt.Sprintf("%s %dv %du", name, len(f.Violated), len(f.Unknown)))
		}
	}
	if len(parts) == 0 {
		return "all clear"
	}
	return strings.Join(parts, "; ")
}
