package tikv_test

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/kvops/operator/pdclient"
	"github.com/kvops/operator/subject"
	"github.com/kvops/operator/tikv"
	"github.com/kvops/operator/tikv/tikvtest"
)

// reports collects the progress an action reports.
type reports struct {
	mu  sync.Mutex
	got []subject.Progress
	// then, when set, is called after each report is collected.
	then func(subject.Progress)
}

func (r *reports) ctx(ctx context.Context) context.Context {
	return subject.WithProgress(ctx, func(p subject.Progress) {
		r.mu.Lock()
		r.got = append(r.got, p)
		then := r.then
		r.mu.Unlock()
		if then != nil {
			then(p)
		}
	})
}

func (r *reports) take() []subject.Progress {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.got
	r.got = nil
	return out
}

// progressCase is one action whose waits report progress.
type progressCase struct {
	name string
	// setup brings the cluster where the action waits; nil: as it starts.
	setup func(t *testing.T, c *cluster) tikv.RestartOptions
	act   func(ctx context.Context, c *cluster, opts tikv.RestartOptions) (subject.Result, error)
	// waits are the bounds of the action's waits, in order, and unit what
	// the last one counts ("" for nothing).
	waits []time.Duration
	unit  string
	// polls are the paths each of the waits reads per poll, in order: what
	// its check needs to see the effect, and nothing for the progress.
	polls [][]string
}

// The paths of PD's API the waits read.
const (
	store2        = "/pd/api/v1/store/2"
	region9Path   = "/pd/api/v1/region/id/9"
	operator9Path = "/pd/api/v1/operators/9"
	evictedPath   = "/pd/api/v1/scheduler-config/evict-leader-scheduler/list"
)

func progressCases() []progressCase {
	d := tikv.DefaultActionConfig().Timeouts
	restart := func(t *testing.T, c *cluster) tikv.RestartOptions {
		_, err := c.sub.PrepareRestart(t.Context(), 3, tikv.RestartOptions{})
		require.NoError(t, err)
		stopped := c.sim.Now()
		require.NoError(t, c.sim.StopStore(3))
		c.sim.Advance(25 * time.Second) // no heartbeat: Disconnected
		require.NoError(t, c.sim.StartStore(3))
		return tikv.RestartOptions{StartedAfter: stopped, LeaderShare: 0.3}
	}
	return []progressCase{
		{name: "evict_leaders", act: func(ctx context.Context, c *cluster, _ tikv.RestartOptions) (subject.Result, error) {
			return c.sub.EvictLeaders(ctx, 2)
		}, waits: []time.Duration{d.EvictLeaders}, unit: "leaders", polls: [][]string{{store2}}},
		{name: "prepare_restart", act: func(ctx context.Context, c *cluster, _ tikv.RestartOptions) (subject.Result, error) {
			return c.sub.PrepareRestart(ctx, 2, tikv.RestartOptions{EvictTimeout: 3 * time.Minute})
		}, waits: []time.Duration{3 * time.Minute}, unit: "leaders", polls: [][]string{{store2}}},
		{name: "finish_restart", setup: restart, act: func(ctx context.Context, c *cluster, opts tikv.RestartOptions) (subject.Result, error) {
			return c.sub.FinishRestart(ctx, 3, opts)
		}, waits: []time.Duration{5 * time.Minute, 10 * time.Minute}, unit: "leaders",
			polls: [][]string{{"/pd/api/v1/store/3"}, {"/pd/api/v1/stores"}}},
		{name: "drain_store", act: func(ctx context.Context, c *cluster, _ tikv.RestartOptions) (subject.Result, error) {
			return c.sub.DrainStore(ctx, 5)
		}, waits: []time.Duration{d.DrainStore}, unit: "regions", polls: [][]string{{"/pd/api/v1/store/5"}}},
		{name: "split_region", act: func(ctx context.Context, c *cluster, _ tikv.RestartOptions) (subject.Result, error) {
			return c.sub.SplitRegion(ctx, region9)
		}, waits: []time.Duration{d.SplitRegion}, polls: [][]string{{region9Path, operator9Path}}},
		{name: "transfer_leader", act: func(ctx context.Context, c *cluster, _ tikv.RestartOptions) (subject.Result, error) {
			return c.sub.TransferLeader(ctx, region9, 5)
		}, waits: []time.Duration{d.TransferLeader}, polls: [][]string{{region9Path, operator9Path}}},
		{name: "restore_leaders", setup: func(t *testing.T, c *cluster) tikv.RestartOptions {
			_, err := c.sub.EvictLeaders(t.Context(), 2)
			require.NoError(t, err)
			return tikv.RestartOptions{}
		}, act: func(ctx context.Context, c *cluster, _ tikv.RestartOptions) (subject.Result, error) {
			return c.sub.RestoreLeaders(ctx, 2)
		}, waits: []time.Duration{d.RestoreLeaders}, polls: [][]string{{evictedPath, store2}}},
		{name: "set_schedule_limit", act: func(ctx context.Context, c *cluster, _ tikv.RestartOptions) (subject.Result, error) {
			return c.sub.SetScheduleLimit(ctx, subject.LeaderLimit, 8)
		}, waits: []time.Duration{d.Config}, polls: [][]string{{"/pd/api/v1/config/schedule"}}},
	}
}

// TestProgressOfEveryWait: every action that waits reports after each read
// of its wait what it waits for, what the read showed, what is left and
// the time against the bound; the last report shows the effect.
func TestProgressOfEveryWait(t *testing.T) {
	for _, tt := range progressCases() {
		t.Run(tt.name, func(t *testing.T) {
			c := newCluster(t, nil)
			var opts tikv.RestartOptions
			if tt.setup != nil {
				opts = tt.setup(t, c)
			}
			var r reports
			res, err := tt.act(r.ctx(t.Context()), c, opts)
			require.NoError(t, err)
			got := r.take()
			require.NotEmpty(t, got, "no progress reported")

			var waits []time.Duration
			var prev subject.Progress
			for i, p := range got {
				require.Equal(t, res.Action, p.Action)
				require.Equal(t, res.Target, p.Target)
				require.NotEmpty(t, p.Waiting)
				require.NotEmpty(t, p.Seen, "report %d: %s", i, p)
				require.Empty(t, p.ReadError)
				if i == 0 || p.Waiting != prev.Waiting {
					waits = append(waits, p.Bound)
					require.Equal(t, 1, p.Reads, "a wait's first read: %s", p)
				} else {
					require.Equal(t, prev.Reads+1, p.Reads, "reads counted one by one: %s", p)
					require.Greater(t, p.Waited, prev.Waited, "one poll later: %s", p)
				}
				require.LessOrEqual(t, p.Waited, p.Bound)
				require.GreaterOrEqual(t, p.Elapsed, p.Waited)
				require.GreaterOrEqual(t, p.Elapsed, prev.Elapsed, "elapsed never goes back, across waits")
				if p.Unit != "" {
					require.GreaterOrEqual(t, p.Left, 0)
					require.Positive(t, p.Total)
				}
				prev = p
			}
			require.Equal(t, tt.waits, waits, "the waits and their bounds")
			require.LessOrEqual(t, prev.Elapsed, res.Finished.Sub(res.Started))
			require.Equal(t, tt.unit, prev.Unit, "the last wait counts %q", tt.unit)
			if tt.unit == "leaders" {
				require.Zero(t, prev.Left, "the last report shows nothing left: %s", prev)
			}
		})
	}
}

// TestProgressCounts: the counts follow the cluster, and the operator's
// status is PD's.
func TestProgressCounts(t *testing.T) {
	t.Run("eviction counts the leaders down from the store's count", func(t *testing.T) {
		c := newCluster(t, nil)
		st, err := c.sub.PD().Store(t.Context(), 2)
		require.NoError(t, err)
		var r reports
		_, err = c.sub.EvictLeaders(r.ctx(t.Context()), 2)
		require.NoError(t, err)
		got := r.take()
		require.Equal(t, st.Status.LeaderCount, got[0].Total)
		require.Equal(t, st.Status.LeaderCount, got[0].Left, "before PD moved any")
		for _, p := range got {
			require.Equal(t, st.Status.LeaderCount, p.Total, "Total is the count when the wait began")
		}
	})
	t.Run("drain counts the regions on the store", func(t *testing.T) {
		c := newCluster(t, nil)
		st, err := c.sub.PD().Store(t.Context(), 5)
		require.NoError(t, err)
		var r reports
		_, err = c.sub.DrainStore(r.ctx(t.Context()), 5)
		require.NoError(t, err)
		got := r.take()
		require.Equal(t, st.Status.RegionCount, got[0].Total)
	})
	t.Run("a transfer shows PD's operator status", func(t *testing.T) {
		c := newCluster(t, nil)
		var r reports
		_, err := c.sub.TransferLeader(r.ctx(t.Context()), region9, 5)
		require.NoError(t, err)
		got := r.take()
		require.Equal(t, pdclient.OpRunning, got[0].Status, "%s", got[0])
	})
	t.Run("a split PD ends reports PD's status", func(t *testing.T) {
		c := newSteppedCluster(t, 400*time.Millisecond)
		require.NoError(t, c.sim.FailOperators(tikvtest.OperatorCancelled, 1))
		var r reports
		_, err := c.sub.SplitRegion(r.ctx(t.Context()), region9)
		ae := requireOutcome(t, err, subject.PhaseFailed)
		got := r.take()
		last := got[len(got)-1]
		require.Equal(t, pdclient.OpCancel, last.Status)
		require.NotNil(t, ae.Progress)
		if diff := cmp.Diff(last, *ae.Progress); diff != "" {
			t.Errorf("the error's progress is not the last reported (-reported +error):\n%s", diff)
		}
	})
}

// TestDryRunReportsNoProgress: a dry run waits for nothing and reports
// nothing, and neither does an action refused before it waited.
func TestDryRunReportsNoProgress(t *testing.T) {
	c := newCluster(t, nil)
	var r reports
	ctx := r.ctx(t.Context())
	_, err := c.sub.EvictLeaders(subject.WithDryRun(ctx), 2)
	require.NoError(t, err)
	_, err = c.sub.TransferLeader(ctx, region9, 99)
	requireOutcome(t, err, subject.PhaseRefused)
	require.Empty(t, r.take())
}

// sequence records, in order, the paths of the requests it carries and
// the progress reports (as "report"), so that a test sees what each poll
// of a wait read.
type sequence struct {
	mu   sync.Mutex
	log  []string
	next http.RoundTripper
}

func (s *sequence) RoundTrip(r *http.Request) (*http.Response, error) {
	s.add(r.URL.Path)
	return s.next.RoundTrip(r)
}

func (s *sequence) add(e string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.log = append(s.log, e)
}

func (s *sequence) take() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.log
	s.log = nil
	return out
}

// TestProgressCostsNoRequests: progress reports what the wait reads
// anyway. Between two reports of a wait, PD gets exactly the reads its
// check needs to see the effect (the last poll may stop after the first,
// once the effect shows), and the whole action sends PD the same requests,
// path by path, whether or not the caller asked for progress.
func TestProgressCostsNoRequests(t *testing.T) {
	for _, tt := range progressCases() {
		t.Run(tt.name, func(t *testing.T) {
			run := func(withProgress bool) ([]string, []subject.Progress) {
				seq := &sequence{next: http.DefaultTransport.(*http.Transport).Clone()}
				c := newCluster(t, func(cfg *tikv.Config) {
					cfg.PD.HTTPClient = &http.Client{Transport: seq}
					// Short polls: more of them before the effect shows.
					cfg.Actions.PollInterval = 100 * time.Millisecond
				})
				var opts tikv.RestartOptions
				if tt.setup != nil {
					opts = tt.setup(t, c)
				}
				seq.take()
				ctx := t.Context()
				r := reports{then: func(subject.Progress) { seq.add("report") }}
				if withProgress {
					ctx = r.ctx(ctx)
				}
				_, err := tt.act(ctx, c, opts)
				require.NoError(t, err)
				return seq.take(), r.take()
			}
			plain, none := run(false)
			log, got := run(true)
			require.Empty(t, none)
			requests := slices.DeleteFunc(slices.Clone(log), func(e string) bool { return e == "report" })
			if diff := cmp.Diff(plain, requests); diff != "" {
				t.Errorf("PD requests (-without progress +with):\n%s", diff)
			}

			// Split the log at the reports: segment i holds the requests
			// made before report i, since the report before it.
			var segments [][]string
			var cur []string
			for _, e := range log {
				if e == "report" {
					segments = append(segments, cur)
					cur = nil
					continue
				}
				cur = append(cur, e)
			}
			require.Len(t, segments, len(got))
			wait, polls := -1, 0
			for i, p := range got {
				seg := segments[i]
				if p.Reads == 1 {
					// The wait's first poll follows what the action did
					// before it: its reads end the segment.
					wait++
					want := tt.polls[wait]
					n := min(len(want), len(seg))
					require.True(t, isPrefix(seg[len(seg)-n:], want) && n > 0, "before the first report of wait %d: %v, want it to end with the reads %v", wait, seg, want)
					continue
				}
				polls++
				require.True(t, len(seg) > 0 && isPrefix(seg, tt.polls[wait]), "poll %d of wait %d read %v, want the reads %v (or the first of them)", p.Reads, wait, seg, tt.polls[wait])
			}
			require.Equal(t, len(tt.polls)-1, wait, "every wait reported")
			t.Logf("%d reports, %d polls after a wait's first; PD requests either way: %d", len(got), polls, len(plain))
		})
	}
}

// isPrefix reports whether seg is a non-empty prefix of want.
func isPrefix(seg, want []string) bool {
	return len(seg) > 0 && len(seg) <= len(want) && slices.Equal(seg, want[:len(seg)])
}

// TestCancelStopsTheWaitAndSaysWhatIsLeft: a caller that cancels while
// an eviction waits (from its progress function, or while the wait
// sleeps) gets its answer at once: no further request to PD, no further
// report, no time spent; the error is unconfirmed (the eviction was
// sent), matches context.Canceled, and carries the last progress: how
// many leaders the store still leads.
func TestCancelStopsTheWaitAndSaysWhatIsLeft(t *testing.T) {
	for _, during := range []string{"report", "sleep"} {
		t.Run("during "+during, func(t *testing.T) {
			cnt := newCounter()
			var cancelled sync.Once
			var ctx context.Context
			var cancel context.CancelFunc
			var cancelledAt time.Time
			var afterCancel func() map[string]int
			c := newCluster(t, func(cfg *tikv.Config) {
				cfg.PD.HTTPClient = &http.Client{Transport: cnt}
				if during == "sleep" {
					sleep := cfg.Sleep
					n := 0
					cfg.Sleep = func(sctx context.Context, d time.Duration) error {
						if n++; n == 3 {
							cancelledAt = cfg.Clock()
							cancelled.Do(func() { cnt.take(); cancel() })
							return sctx.Err()
						}
						return sleep(sctx, d)
					}
				}
			})
			afterCancel = cnt.take
			require.NoError(t, c.sim.SetStuckLeaders(2, 4))
			ctx, cancel = context.WithCancel(t.Context())
			defer cancel()
			var r reports
			if during == "report" {
				r.then = func(p subject.Progress) {
					if p.Left <= 4 {
						cancelledAt = c.sim.Now()
						cancelled.Do(func() { cnt.take(); cancel() })
					}
				}
			}
			res, err := c.sub.EvictLeaders(r.ctx(ctx), 2)
			ae := requireOutcome(t, err, subject.PhaseUnconfirmed)
			require.ErrorIs(t, err, context.Canceled)
			require.Equal(t, cancelledAt, res.Finished, "the action returned when the caller cancelled")
			require.Empty(t, afterCancel(), "PD requests after the cancel")

			got := r.take()
			require.NotEmpty(t, got)
			last := got[len(got)-1]
			require.NotNil(t, ae.Progress, "the error carries the last progress")
			if diff := cmp.Diff(last, *ae.Progress); diff != "" {
				t.Errorf("the error's progress is not the last reported (-reported +error):\n%s", diff)
			}
			require.Equal(t, "leaders", ae.Progress.Unit)
			require.Positive(t, ae.Progress.Left, "leaders were left")
			require.Contains(t, ae.Reason, ae.Progress.Seen, "the reason says what was left")
			st, err := c.sub.PD().Store(t.Context(), 2)
			require.NoError(t, err)
			require.Equal(t, st.Status.LeaderCount, ae.Progress.Left, "what is left is what PD shows")
		})
	}
}

// TestBoundEndsWithWhatIsLeft: an eviction whose bound ends says how many
// leaders were left, and which regions, in its error.
func TestBoundEndsWithWhatIsLeft(t *testing.T) {
	c := newCluster(t, func(cfg *tikv.Config) { cfg.Actions.Timeouts.EvictLeaders = 20 * time.Second })
	require.NoError(t, c.sim.SetStuckLeaders(2, 3))
	var r reports
	res, err := c.sub.EvictLeaders(r.ctx(t.Context()), 2)
	ae := requireOutcome(t, err, subject.PhaseUnconfirmed)
	require.NotNil(t, ae.Progress)
	require.Equal(t, 3, ae.Progress.Left)
	require.Equal(t, 20*time.Second, ae.Progress.Waited)
	require.Len(t, res.Regions, 3, "the result lists the regions still led")
	for _, id := range res.Regions {
		require.Contains(t, ae.Reason, id.String())
	}
	got := r.take()
	require.True(t, slices.ContainsFunc(got, func(p subject.Progress) bool { return p.Left > 3 }), "leaders were moving before")
	require.False(t, errors.Is(err, context.Canceled))
}

// onRead carries PD's requests, and calls do instead of sending the n-th
// request to path.
type onRead struct {
	mu   sync.Mutex
	path string
	n    int
	seen int
	do   func(r *http.Request) (*http.Response, error)
	next http.RoundTripper
}

func (o *onRead) RoundTrip(r *http.Request) (*http.Response, error) {
	o.mu.Lock()
	if r.URL.Path == o.path {
		o.seen++
	}
	hit := r.URL.Path == o.path && o.seen == o.n
	o.mu.Unlock()
	if hit {
		return o.do(r)
	}
	return o.next.RoundTrip(r)
}

// errNoRoute stands for a network that lost PD for one request.
var errNoRoute = errors.New("no route to PD")

// TestFailedReadIsProgressTooAndTheWaitGoesOn: a read of PD that fails
// while an action waits is reported (ReadError) with what the last good
// read showed, and the wait goes on to the effect.
func TestFailedReadIsProgressTooAndTheWaitGoesOn(t *testing.T) {
	rt := &onRead{path: store2, n: 3, next: http.DefaultTransport.(*http.Transport).Clone(),
		do: func(*http.Request) (*http.Response, error) { return nil, errNoRoute }}
	c := newCluster(t, func(cfg *tikv.Config) {
		cfg.PD.HTTPClient = &http.Client{Transport: rt}
		cfg.PD.MaxAttempts = 1 // the read fails at once
		cfg.Actions.PollInterval = 100 * time.Millisecond
	})
	var r reports
	_, err := c.sub.EvictLeaders(r.ctx(t.Context()), 2)
	require.NoError(t, err)
	got := r.take()
	// The 1st request to the store is the action's own; the 3rd is the
	// wait's 2nd read.
	require.Greater(t, len(got), 2)
	failed := got[1]
	require.Equal(t, 2, failed.Reads)
	require.NotEmpty(t, failed.ReadError)
	require.Equal(t, got[0].Seen, failed.Seen, "what the last good read showed")
	require.Equal(t, got[0].Left, failed.Left)
	require.Empty(t, got[2].ReadError, "the next read succeeded")
	require.Zero(t, got[len(got)-1].Left)
}

// TestReadCutShortByTheCallerIsNotReported: when the caller cancels while
// a read of the wait is in flight, the read's failure is not reported as
// progress: the caller has gone, and the last progress stays the last good
// read's.
func TestReadCutShortByTheCallerIsNotReported(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	next := http.DefaultTransport.(*http.Transport).Clone()
	rt := &onRead{path: store2, n: 3, next: next, do: func(r *http.Request) (*http.Response, error) {
		cancel()
		return next.RoundTrip(r) // on a context that has ended
	}}
	c := newCluster(t, func(cfg *tikv.Config) {
		cfg.PD.HTTPClient = &http.Client{Transport: rt}
		cfg.Actions.PollInterval = 100 * time.Millisecond
	})
	require.NoError(t, c.sim.SetStuckLeaders(2, 4))
	var r reports
	_, err := c.sub.EvictLeaders(r.ctx(ctx), 2)
	ae := requireOutcome(t, err, subject.PhaseUnconfirmed)
	require.ErrorIs(t, err, context.Canceled)
	got := r.take()
	require.Len(t, got, 1, "the wait's first read only: the second was cut short")
	require.Empty(t, got[0].ReadError)
	if diff := cmp.Diff(got[0], *ae.Progress); diff != "" {
		t.Errorf("the error's progress (-last reported +error):\n%s", diff)
	}
}
