package record

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql/parser"

	"github.com/kvops/operator/logparse"
	"github.com/kvops/operator/pdclient"
	"github.com/kvops/operator/promclient"
	"github.com/kvops/operator/promclient/rules"
	"github.com/kvops/operator/subject"
)

// Defaults of [Config].
const (
	DefaultInterval     = 15 * time.Second
	DefaultDuration     = time.Hour
	DefaultRegionsEvery = time.Minute
	DefaultSeriesEvery  = 10 * time.Minute
)

// DefaultPaths are the PD answers recorded at each evaluation: what
// package tikv's observations and invariants read (see tikv's package
// comment for which reads what), so that a replay answers them.
//
// GET /stores without a state is left out: it is the answer to all
// states without the tombstones (state 2), and a 1,000-store answer is a
// megabyte. GET /store/{id} is that store's object in the same answer.
var DefaultPaths = []string{
	"/pd/api/v1/stores?state=0&state=1&state=2",
	"/pd/api/v1/leader",
	"/pd/api/v1/members",
	"/pd/api/v1/cluster",
	"/pd/api/v1/config/schedule",
	"/pd/api/v1/config/replicate",
	"/pd/api/v1/operators",
	"/pd/api/v1/schedulers",
	"/pd/api/v1/scheduler-config/evict-leader-scheduler/list",
	"/pd/api/v1/regions/count",
	"/pd/api/v1/regions/check/down-peer",
	"/pd/api/v1/regions/check/pending-peer",
	"/pd/api/v1/regions/check/miss-peer",
	"/pd/api/v1/hotspot/regions/write",
	"/pd/api/v1/hotspot/regions/read",
	"/pd/api/v2/maintenance",
}

// Clock tells the time and waits. A simulated cluster's clock advances
// the cluster in Sleep (see [Advancing]).
type Clock interface {
	Now() time.Time
	// Sleep returns once d has passed on the clock, or with ctx's error
	// when it ends first.
	Sleep(ctx context.Context, d time.Duration) error
}

// Advancer is a clock that moves when told to, as tikvtest.Cluster's.
type Advancer interface {
	Now() time.Time
	Advance(d time.Duration)
}

// Advancing returns a Clock whose Sleep advances a by d at once:
// record.Advancing(cluster) records a tikvtest cluster on its own clock.
func Advancing(a Advancer) Clock { return advancing{a} }

type advancing struct{ a Advancer }

func (c advancing) Now() time.Time { return c.a.Now() }

func (c advancing) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if d > 0 {
		c.a.Advance(d)
	}
	return nil
}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

func (realClock) Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// LogSource is where log lines are read from: tikv.LogSource (a file, a
// Docker container, several merged) has this method set.
type LogSource interface {
	// Entries streams the entries written at since <= time < until,
	// oldest first.
	Entries(ctx context.Context, since, until time.Time) iter.Seq2[logparse.Entry, error]
	// Name names the source; it is the Source of the Log lines.
	Name() string
}

// Config configures a recording. Zero fields take the defaults said;
// PD is required.
type Config struct {
	// PD is the cluster's PD. Its answers are read through Raw, with
	// the client's failover and retries.
	PD *pdclient.Client
	// Prometheus, when set, is where the series are read; nil records
	// none (a caller may write them later with [Recorder.WriteSeries]).
	Prometheus *promclient.Client
	// Interval is the time between two evaluations: PD's answers are
	// read at this pace. Default [DefaultInterval].
	Interval time.Duration
	// Duration is the window's length: [Record] returns after the
	// evaluation at or before Start+Duration. Default [DefaultDuration].
	Duration time.Duration
	// Clock tells the time and waits between evaluations; real time by
	// default. [Advancing] drives a simulated cluster.
	Clock Clock
	// Paths are the PD answers read at each evaluation, full paths with
	// their query. Default [DefaultPaths]. An answer is written when it
	// differs from the last one written for its path: a replay answers
	// with the latest answer at or before its clock.
	Paths []string
	// Queries are the Prometheus series selectors recorded. Default:
	// [QueriesFromClient] of Prometheus, the series the store metrics
	// read; add [QueriesFromRules] for alerting rules.
	Queries []string
	// Step is the resolution of the series: one sample per Step. Default
	// Interval.
	Step time.Duration
	// RegionsEvery is how often every region is read: the first read
	// is written whole, later ones as what changed. Default
	// [DefaultRegionsEvery]; negative reads none.
	RegionsEvery time.Duration
	// RegionsPage is how many regions are asked of PD at once, and the
	// most one Regions line holds: default and at most [MaxRegionsPage].
	RegionsPage int
	// SeriesEvery is how much of the window one series chunk covers:
	// the series are read and written every SeriesEvery and at the end,
	// so that memory holds one chunk. Default [DefaultSeriesEvery].
	SeriesEvery time.Duration
	// Logs are read at each evaluation, from where the last read ended.
	Logs []LogSource
	// LogFilter, when set, keeps only the log entries it accepts (say,
	// leadership changes); default all.
	LogFilter func(logparse.Entry) bool
	// Labels go to the header.
	Labels map[string]string
	// Logger receives a Debug record per failed read; discarded by
	// default.
	Logger *slog.Logger
}

func (cfg Config) withDefaults() (Config, error) {
	if cfg.PD == nil {
		return cfg, fmt.Errorf("record: Config.PD is required: %w", subject.ErrInvalid)
	}
	for _, d := range []struct {
		name string
		v    *time.Duration
		def  time.Duration
	}{{"Interval", &cfg.Interval, DefaultInterval}, {"Duration", &cfg.Duration, DefaultDuration},
		{"SeriesEvery", &cfg.SeriesEvery, DefaultSeriesEvery}, {"Step", &cfg.Step, cfg.Interval}} {
		if *d.v < 0 {
			return cfg, fmt.Errorf("record: Config.%s %v: %w: must not be negative", d.name, *d.v, subject.ErrInvalid)
		}
		if *d.v == 0 {
			*d.v = d.def
			if d.name == "Step" {
				*d.v = cfg.Interval
			}
		}
	}
	if cfg.RegionsEvery == 0 {
		cfg.RegionsEvery = DefaultRegionsEvery
	}
	if cfg.RegionsPage <= 0 || cfg.RegionsPage > MaxRegionsPage {
		cfg.RegionsPage = MaxRegionsPage
	}
	if cfg.Clock == nil {
		cfg.Clock = realClock{}
	}
	if cfg.Paths == nil {
		cfg.Paths = DefaultPaths
	}
	for _, p := range cfg.Paths {
		if !strings.HasPrefix(p, "/pd/") {
			return cfg, fmt.Errorf("record: path %q: %w: want a full path under /pd/", p, subject.ErrInvalid)
		}
	}
	if cfg.Queries == nil && cfg.Prometheus != nil {
		qs, err := QueriesFromClient(cfg.Prometheus)
		if err != nil {
			return cfg, err
		}
		cfg.Queries = qs
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return cfg, nil
}

// QueriesFromClient returns the series selectors of the queries c's store
// metrics send (promclient's families, with c's own queries and
// matchers), and up: what tikv's metric invariants read.
func QueriesFromClient(c *promclient.Client) ([]string, error) {
	var out []string
	for _, q := range c.Queries() {
		sels, err := rules.Selectors(q.PromQL)
		if err != nil {
			return nil, fmt.Errorf("record: the %s query: %w", q.Metric, err)
		}
		out = appendNew(out, sels...)
	}
	return appendNew(out, "up"), nil
}

// QueriesFromRules returns the series selectors of the expressions of
// the alerting and recording rules in the files, once each: what those
// rules need to be evaluated on a replay. A file that cannot be read
// wraps its os error; one Prometheus would refuse matches
// subject.ErrInvalid.
func QueriesFromRules(files ...string) ([]string, error) {
	var out []string
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("record: rule file: %w", err)
		}
		groups, errs := rulefmt.Parse(b, false, model.UTF8Validation, parser.NewParser(parser.Options{}), slog.New(slog.DiscardHandler))
		if len(errs) > 0 {
			return nil, fmt.Errorf("record: rule file %s: %w: %w", f, subject.ErrInvalid, errors.Join(errs...))
		}
		for _, g := range groups.Groups {
			for _, r := range g.Rules {
				sels, err := rules.Selectors(r.Expr)
				if err != nil {
					return nil, fmt.Errorf("record: rule file %s: %w", f, err)
				}
				out = appendNew(out, sels...)
			}
		}
	}
	return out, nil
}

func appendNew(out []string, ss ...string) []string {
	for _, s := range ss {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}
