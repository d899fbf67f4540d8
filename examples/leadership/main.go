// Command leadership prints the leadership changes in a TiKV or PD log:
// PD's "leader changed" lines (a region's leader moved from one store to
// another) and TiKV's raft role changes ("became leader at term 6"), one
// line per change: time, region, what changed, and the log it came from.
//
// With no -container or -file it starts a simulated five-store cluster
// that writes its logs to a temporary directory, moves the leaders of a
// few regions, and prints the changes from the simulated PD's log:
//
//	go run ./examples/leadership
//
// From a Docker container's log, through package tikv/dockerlog (the
// engine is found as the docker command finds it: DOCKER_HOST, else the
// local socket), the changes of
// the last 10 minutes, then the new ones as they come:
//
//	go run ./examples/leadership -container pd0 -since 10m -follow
//
// From a log file (and the files it was rotated into), as JSON lines:
//
//	go run ./examples/leadership -file /path/to/tikv.log -json
//
// With -follow and no log named, the simulation moves a leader every
// second until interrupted.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"time"

	"github.com/kvops/operator/logparse"
	"github.com/kvops/operator/pdclient"
	"github.com/kvops/operator/subject"
	"github.com/kvops/operator/tikv"
	"github.com/kvops/operator/tikv/dockerlog"
	"github.com/kvops/operator/tikv/tikvtest"
)

// options are the command's flags.
type options struct {
	container string
	file      string
	since     time.Duration
	follow    bool
	json      bool
	// moves is how many leaders the simulation moves before printing.
	moves int
}

func main() {
	var o options
	flag.StringVar(&o.container, "container", "", "read the log of this Docker container (name or id)")
	flag.StringVar(&o.file, "file", "", "read this log file")
	flag.DurationVar(&o.since, "since", time.Hour, "print the changes of this long back from now")
	flag.BoolVar(&o.follow, "follow", false, "then print the new changes as they are written, until interrupted")
	flag.BoolVar(&o.json, "json", false, "print one JSON object per change")
	flag.Parse()
	o.moves = 3

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, o, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "leadership:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, o options, out, errOut io.Writer) error {
	if o.since < 0 {
		return fmt.Errorf("-since %v: want a duration back from now, such as 10m", o.since)
	}
	p := printer{out: out, json: o.json}
	var src tikv.LogSource
	switch {
	case o.container != "" && o.file != "":
		return errors.New("give -container or -file, not both")
	case o.container != "":
		d, err := dockerlog.New(dockerlog.Config{Container: o.container})
		if err != nil {
			return err
		}
		defer d.Close()
		src = d
	case o.file != "":
		src = tikv.NewFileLogSource(o.file)
	default:
		return simulate(ctx, o, p, errOut)
	}
	since := time.Now().Add(-o.since)
	if o.follow {
		return follow(ctx, src, since, p, errOut)
	}
	changes, err := tikv.LogLeadershipChanges(ctx, src, since)
	for _, c := range changes {
		if perr := p.print(c); perr != nil {
			return perr
		}
	}
	return err
}

// follow prints the changes in src from since on, then the new ones until
// ctx ends. Lines that do not parse are reported and skipped.
func follow(ctx context.Context, src tikv.LogSource, since time.Time, p printer, errOut io.Writer) error {
	for e, err := range src.Follow(ctx, since) {
		switch {
		case errors.Is(err, logparse.ErrSyntax) || errors.Is(err, logparse.ErrTooLong):
			fmt.Fprintln(errOut, "leadership: skipping:", err)
			continue
		case err != nil:
			return err
		}
		ev, ok := logparse.EventOf(&e)
		if !ok {
			continue
		}
		if c, ok := ev.Change(); ok {
			c.Source = src.Name()
			if err := p.print(c); err != nil {
				return err
			}
		}
	}
	if errors.Is(ctx.Err(), context.Canceled) {
		return nil // interrupted
	}
	return ctx.Err()
}

// simulate starts a simulated cluster writing its logs to a temporary
// directory, moves leaders through a tikv.Subject, and prints the changes
// PD logged.
func simulate(ctx context.Context, o options, p printer, errOut io.Writer) error {
	dir, err := os.MkdirTemp("", "leadership")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	cl, err := tikvtest.NewUnstartedCluster(tikvtest.Config{Stores: 5, Regions: 50, LogDir: dir})
	if err != nil {
		return err
	}
	defer cl.Close()
	if err := cl.Start(ctx); err != nil {
		return err
	}
	pdLog := filepath.Join(dir, "pd.log")
	fmt.Fprintf(errOut, "simulated cluster: PD at %s, logs in %s\n", cl.PDURL(), dir)
	sub, err := tikv.New(tikv.Config{
		PD:             pdclient.Config{Endpoints: []string{cl.PDURL()}},
		DisableMetrics: true,
		Logs:           tikv.NewFileLogSource(pdLog),
		// The simulation's time moves only when an action waits, so
		// moving a leader takes no real time.
		Clock:   cl.Now,
		Actions: tikv.ActionConfig{PollInterval: time.Second},
		Sleep: func(ctx context.Context, d time.Duration) error {
			cl.Advance(d)
			return ctx.Err()
		},
	})
	if err != nil {
		return err
	}
	since := cl.Now().Add(-o.since)
	if o.follow {
		done := make(chan error, 1)
		moveCtx, stopMoving := context.WithCancel(ctx)
		go func() { done <- moveEvery(moveCtx, sub, time.Second) }()
		err := follow(ctx, tikv.NewFileLogSource(pdLog), since, p, errOut)
		stopMoving()
		if merr := <-done; merr != nil && !errors.Is(merr, context.Canceled) {
			return merr
		}
		return err
	}
	for i := range o.moves {
		if err := moveOne(ctx, sub, i); err != nil {
			return err
		}
	}
	changes, err := sub.LeadershipChanges(ctx, since)
	if err != nil {
		return err
	}
	for _, c := range changes {
		if err := p.print(c); err != nil {
			return err
		}
	}
	return nil
}

// moveEvery moves a leader every interval until ctx ends.
func moveEvery(ctx context.Context, sub *tikv.Subject, interval time.Duration) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	for i := 0; ; i++ {
		if err := moveOne(ctx, sub, i); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

// moveOne moves the leader of the n-th region PD lists (counting round)
// to another voter of it.
func moveOne(ctx context.Context, sub *tikv.Subject, n int) error {
	regions, err := sub.PD().Regions(ctx)
	if err != nil {
		return err
	}
	if len(regions) == 0 {
		return errors.New("the cluster has no regions")
	}
	r := regions[n%len(regions)]
	for _, peer := range r.Peers {
		if peer.StoreID != r.Leader.StoreID && peer.RoleName == "Voter" {
			_, err := sub.TransferLeader(ctx, subject.RegionID(r.ID), subject.StoreID(peer.StoreID))
			return err
		}
	}
	return fmt.Errorf("region %d has no other voter to lead it", r.ID)
}

// printer writes changes as text or JSON lines.
type printer struct {
	out  io.Writer
	json bool
}

func (p printer) print(c subject.LeadershipChange) error {
	if p.json {
		b, err := json.Marshal(c)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(p.out, "%s\n", b)
		return err
	}
	what := fmt.Sprintf("store %d -> %d", c.From, c.To)
	if c.Role != "" {
		what = fmt.Sprintf("peer %d became %s at term %d", c.Peer, c.Role, c.Term)
	}
	_, err := fmt.Fprintf(p.out, "%s  region %-6d %-36s %s\n", c.At.Format("2006-01-02T15:04:05.000Z07:00"), c.Region, what, c.Source)
	return err
}
