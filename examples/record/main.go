// Command record records a TiKV cluster into a file that package
// tikv/replay (and tikvtest) can serve again: PD's answers, the regions,
// the Prometheus series the invariants and rules read, over a window.
//
// Without -pd it records a simulated cluster of 5 stores on its own
// clock, through the faults examples/watch shows (a store stops, PD's
// leader changes, PD cannot be reached for a while), in a second or two;
// its series come from the cluster's metrics history backfilled into a
// real Prometheus when one is installed.
//
//	go run ./examples/record -o incident.jsonl                 # the simulation
//	go run ./examples/record -pd http://127.0.0.1:2379 -prometheus http://127.0.0.1:9090 -duration 30m -o incident.jsonl
//	go run ./examples/record cut -from 10:05 -to 10:20 -o part.jsonl incident.jsonl
//	go run ./examples/record redact -o shareable.jsonl incident.jsonl
//
// A recording is written to a temporary file beside -o, synced, and
// renamed to -o once whole, so that -o never holds half a recording.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"time"

	"github.com/kvops/operator/pdclient"
	"github.com/kvops/operator/promclient"
	"github.com/kvops/operator/tikv/record"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "record:", err)
		os.Exit(1)
	}
}

// run runs the command line args: a recording, or the cut or redact
// subcommand.
func run(ctx context.Context, args []string, out io.Writer) error {
	if len(args) > 0 {
		switch args[0] {
		case "cut":
			return runCut(args[1:], out)
		case "redact":
			return runRedact(args[1:], out)
		}
	}
	fs := flag.NewFlagSet("record", flag.ContinueOnError)
	o := fs.String("o", "recording.jsonl", "the recording to write")
	pd := fs.String("pd", "", "PD's address; none records a simulated cluster")
	prom := fs.String("prometheus", "", "Prometheus' address (with -pd)")
	interval := fs.Duration("interval", record.DefaultInterval, "time between two evaluations")
	duration := fs.Duration("duration", 0, "the window's length (default 1h, 5m for the simulation)")
	rules := fs.String("rules", "", "comma-separated alerting rule files whose series to record too")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg := record.Config{Interval: *interval, Duration: *duration}
	if *rules != "" {
		qs, err := record.QueriesFromRules(strings.Split(*rules, ",")...)
		if err != nil {
			return err
		}
		cfg.Queries = qs
	}
	return writeFile(*o, func(w io.Writer) error {
		if *pd == "" {
			return recordSimulation(ctx, w, cfg, out)
		}
		return recordLive(ctx, w, cfg, *pd, *prom, out)
	})
}

// recordLive records a real cluster until the window ends or ctx does.
func recordLive(ctx context.Context, w io.Writer, cfg record.Config, pd, prom string, out io.Writer) error {
	pc := pdclient.DefaultConfig()
	pc.Endpoints = strings.Split(pd, ",")
	c, err := pdclient.New(pc)
	if err != nil {
		return err
	}
	defer c.CloseIdleConnections()
	cfg.PD = c
	if prom != "" {
		prc := promclient.DefaultConfig()
		prc.Address = prom
		if cfg.Prometheus, err = promclient.New(prc); err != nil {
			return err
		}
		if cfg.Queries != nil {
			qs, err := record.QueriesFromClient(cfg.Prometheus)
			if err != nil {
				return err
			}
			cfg.Queries = append(qs, cfg.Queries...)
		}
	}
	fmt.Fprintf(out, "recording PD at %s for %v (Ctrl-C ends it early, whole)\n", pd, cmpOr(cfg.Duration, record.DefaultDuration))
	sum, err := record.Record(ctx, w, cfg)
	printSummary(out, sum)
	if errors.Is(err, context.Canceled) {
		return nil // interrupted: the recording is whole up to there
	}
	return err
}

func cmpOr(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

func printSummary(out io.Writer, s record.Summary) {
	fmt.Fprintf(out, "%d evaluations from %s to %s: %d PD answers written (%d unchanged left out, %d failures), "+
		"%d region reads (%d failed, %d regions), %d series (%d samples, %d failed queries), %d log lines; %d lines\n",
		s.Evaluations, s.Start.Format(time.RFC3339), s.End.Format(time.RFC3339), s.PDAnswers, s.PDUnchanged, s.PDFailures,
		s.RegionReads, s.RegionFailures, s.Regions, s.Series, s.Samples, s.SeriesFailures, s.Logs, s.Entries)
}

// writeFile writes a file whole or not at all: to a temporary file in the
// same directory, synced, then renamed.
func writeFile(path string, write func(io.Writer) error) (err error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(f.Name())
		}
	}()
	if err := write(f); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

// openRecording opens the one recording a subcommand reads.
func openRecording(fs *flag.FlagSet) (*os.File, *record.Reader, error) {
	if fs.NArg() != 1 {
		return nil, nil, fmt.Errorf("%s: want one recording to read, got %d arguments", fs.Name(), fs.NArg())
	}
	f, err := os.Open(fs.Arg(0))
	if err != nil {
		return nil, nil, err
	}
	r, err := record.NewReader(f)
	if err != nil {
		_ = f.Close()
		return nil, nil, err
	}
	return f, r, nil
}

func runCut(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("cut", flag.ContinueOnError)
	o := fs.String("o", "cut.jsonl", "the cut to write")
	from := fs.String("from", "", "start: RFC 3339, a time of day (15:04 or 15:04:05, on the recording's first day), or an offset from its start (+90s)")
	to := fs.String("to", "", "end, as -from; default the recording's end")
	if err := fs.Parse(args); err != nil {
		return err
	}
	f, r, err := openRecording(fs)
	if err != nil {
		return err
	}
	defer f.Close()
	h := r.Header()
	start, err := parseTime(*from, h.Start, h.Start)
	if err != nil {
		return fmt.Errorf("cut -from: %w", err)
	}
	end, err := parseTime(*to, h.Start, h.End)
	if err != nil {
		return fmt.Errorf("cut -to: %w", err)
	}
	if err := writeFile(*o, func(w io.Writer) error { return record.Cut(w, r, start, end) }); err != nil {
		return err
	}
	fmt.Fprintf(out, "cut %s to %s into %s\n", start.Format(time.RFC3339), end.Format(time.RFC3339), *o)
	return nil
}

// parseTime reads a time as -from and -to take it; "" is def.
func parseTime(s string, start, def time.Time) (time.Time, error) {
	switch {
	case s == "":
		return def, nil
	case strings.HasPrefix(s, "+"):
		d, err := time.ParseDuration(s[1:])
		return start.Add(d), err
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	for _, layout := range []string{"15:04:05", "15:04"} {
		if t, err := time.Parse(layout, s); err == nil {
			y, m, d := start.Date()
			return time.Date(y, m, d, t.Hour(), t.Minute(), t.Second(), 0, start.Location()), nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not RFC 3339, 15:04[:05] nor +duration", s)
}

func runRedact(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("redact", flag.ContinueOnError)
	o := fs.String("o", "redacted.jsonl", "the redacted recording to write")
	hosts := fs.String("hosts", "", "comma-separated host names to replace besides those found")
	if err := fs.Parse(args); err != nil {
		return err
	}
	f, r, err := openRecording(fs)
	if err != nil {
		return err
	}
	defer f.Close()
	var cfg record.RedactConfig
	if *hosts != "" {
		cfg.Hosts = strings.Split(*hosts, ",")
	}
	if err := writeFile(*o, func(w io.Writer) error { return record.Redact(w, r, cfg) }); err != nil {
		return err
	}
	fmt.Fprintf(out, "redacted into %s\n", *o)
	return nil
}
