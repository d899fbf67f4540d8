package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/kvops/operator/pdclient"
	"github.com/kvops/operator/promclient"
	"github.com/kvops/operator/subject"
	"github.com/kvops/operator/tikv"
	"github.com/kvops/operator/tikv/record"
	"github.com/kvops/operator/tikv/tikvtest"
)

// simDuration is the simulation's default window.
const simDuration = 5 * time.Minute

// fixed starts the simulated cluster at a given time.
type fixed time.Time

func (f fixed) Now() time.Time { return time.Time(f) }

// simClock is the recording's clock: it advances the cluster a second at
// a time and injects each fault when its time comes.
type simClock struct {
	cl     *tikvtest.Cluster
	start  time.Time
	faults []simFault
	out    io.Writer
}

type simFault struct {
	at   time.Duration
	what string
	do   func() error
}

func (c *simClock) Now() time.Time { return c.cl.Now() }

func (c *simClock) Sleep(ctx context.Context, d time.Duration) error {
	for end := c.cl.Now().Add(d); c.cl.Now().Before(end); {
		if err := ctx.Err(); err != nil {
			return err
		}
		c.cl.Advance(min(time.Second, end.Sub(c.cl.Now())))
		for len(c.faults) > 0 && c.cl.Now().Sub(c.start) >= c.faults[0].at {
			f := c.faults[0]
			c.faults = c.faults[1:]
			if err := f.do(); err != nil {
				return fmt.Errorf("fault %q: %w", f.what, err)
			}
			fmt.Fprintf(c.out, "+%v %s\n", f.at, f.what)
		}
	}
	return ctx.Err()
}

// recordSimulation records a simulated cluster through a fault sequence,
// then its series from its metrics history when Prometheus is installed.
func recordSimulation(ctx context.Context, w io.Writer, cfg record.Config, out io.Writer) error {
	if cfg.Duration == 0 {
		cfg.Duration = simDuration
	}
	// The window ends a minute ago: Prometheus takes a backfilled past.
	start := time.Now().Add(-cfg.Duration - time.Minute).Truncate(time.Second).UTC()
	logDir, err := os.MkdirTemp("", "record-sim-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(logDir)
	cl, err := tikvtest.NewUnstartedCluster(tikvtest.Config{Stores: 5, Regions: 200, Clock: fixed(start),
		RecordMetrics: 15 * time.Second, LogDir: logDir})
	if err != nil {
		return err
	}
	if err := cl.Start(ctx); err != nil {
		return errors.Join(err, cl.Close())
	}
	defer cl.Close()

	// PD through a front that can stop answering: PD unreachable.
	var down atomic.Bool
	pdh := cl.PDHandler()
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if down.Load() {
			panic(http.ErrAbortHandler)
		}
		pdh.ServeHTTP(w, r)
	}))
	defer front.Close()
	pc := pdclient.DefaultConfig()
	pc.Endpoints = []string{front.URL}
	pc.MembersRefreshInterval = -1 // the front, not the members' own addresses
	pc.MaxAttempts = 1             // what PD answered when asked, no retries in real time
	pd, err := pdclient.New(pc)
	if err != nil {
		return err
	}
	defer pd.CloseIdleConnections()

	clock := &simClock{cl: cl, start: start, out: out, faults: []simFault{
		{30 * time.Second, "store 2 stops", func() error { return cl.StopStore(2) }},
		{45 * time.Second, "store 3 turns slow: writes take 300ms", func() error { return cl.SetWriteLatency(3, 300*time.Millisecond) }},
		{time.Minute, "store 4's disk fills to 85%", func() error { return cl.SetDiskUsage(4, 0.85) }},
		{2 * time.Minute, "PD's leader changes", func() error { cl.PDLeaderChange(); return nil }},
		{3 * time.Minute, "PD cannot be reached", func() error { down.Store(true); return nil }},
		{3*time.Minute + 30*time.Second, "PD answers again", func() error { down.Store(false); return nil }},
		{4 * time.Minute, "store 2 starts again", func() error { return cl.StartStore(2) }},
	}}
	cfg.PD, cfg.Clock = pd, clock
	if cfg.Queries == nil {
		anyProm, err := promclient.New(promclient.DefaultConfig())
		if err != nil {
			return err
		}
		if cfg.Queries, err = record.QueriesFromClient(anyProm); err != nil {
			return err
		}
	}
	cfg.Logs = []record.LogSource{tikv.NewFileLogSource(filepath.Join(logDir, "pd.log"))}
	for id := range subject.StoreID(5) {
		cfg.Logs = append(cfg.Logs, tikv.NewFileLogSource(filepath.Join(logDir, fmt.Sprintf("tikv-%d.log", id+1))))
	}
	cfg.Labels = map[string]string{"cluster": "simulated"}

	fmt.Fprintf(out, "recording a simulated cluster of 5 stores for %v of its time, from %s\n", cfg.Duration, start.Format(time.RFC3339))
	rec, err := record.New(w, cfg)
	if err != nil {
		return err
	}
	end := start.Add(cfg.Duration)
	for {
		if err := rec.Observe(ctx); err != nil {
			return err
		}
		if clock.Now().Add(cfg.Interval).After(end) {
			break
		}
		if err := clock.Sleep(ctx, cmpOr(cfg.Interval, record.DefaultInterval)); err != nil {
			return err
		}
	}
	prom, err := tikvtest.BackfillPrometheus(ctx, cl.History())
	switch {
	case errors.Is(err, tikvtest.ErrNoPrometheus):
		fmt.Fprintln(out, "no prometheus on PATH: the recording has no series (apt-get install prometheus for them)")
	case err != nil:
		return err
	default:
		defer prom.Stop()
		prc := promclient.DefaultConfig()
		prc.Address = prom.URL
		pc, err := promclient.New(prc)
		if err != nil {
			return err
		}
		if err := rec.WriteSeries(ctx, pc, clock.Now()); err != nil {
			return err
		}
	}
	sum, err := rec.Close(ctx)
	printSummary(out, sum)
	return err
}
