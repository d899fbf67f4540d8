package tikvtest

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"
)

// Option sets one field of the [Config] that [NewCluster] and [Start] build
// a cluster from; a field no option sets keeps its documented default.
type Option func(*Config)

// Stores sets the number of TiKV stores ([Config.Stores], 5 by default).
func Stores(n int) Option { return func(c *Config) { c.Stores = n } }

// Regions sets the number of regions at start ([Config.Regions], 200 by
// default).
func Regions(n int) Option { return func(c *Config) { c.Regions = n } }

// Seed makes the synthetic workload reproducible ([Config.Seed]).
func Seed(s int64) Option { return func(c *Config) { c.Seed = s } }

// Clock sets the cluster's time source ([Config.Clock]): it gives the
// start time, and nothing else unless [Cluster.Run] is used. Give a fixed
// clock and move time with [Cluster.Advance] for a deterministic test.
func Clock(ts TimeSource) Option { return func(c *Config) { c.Clock = ts } }

// LogDir makes the cluster also write its logs as files in dir
// ([Config.LogDir]).
func LogDir(dir string) Option { return func(c *Config) { c.LogDir = dir } }

// StoreCapacity sets each store's disk size in bytes
// ([Config.StoreCapacity], 100 GiB by default).
func StoreCapacity(bytes uint64) Option { return func(c *Config) { c.StoreCapacity = bytes } }

// Logger sets where the simulator's own debug messages go ([Config.Logger],
// discarded by default).
func Logger(l *slog.Logger) Option { return func(c *Config) { c.Logger = l } }

// Start builds a cluster from the options, as [New] does, and starts it on
// loopback listeners, as [Cluster.Start] does; ctx is the base context of
// every request the servers handle. The caller must call [Cluster.Close].
// It is the constructor for programs and Examples; tests use [NewCluster].
//
// Errors: [ErrBadArgument] (an option out of range, also matching
// subject.ErrInvalid), or an error from listening or from creating the log
// files; nothing is left running after an error.
func Start(ctx context.Context, opts ...Option) (*Cluster, error) {
	var cfg Config
	for _, o := range opts {
		o(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		return nil, err
	}
	if err := c.Start(ctx); err != nil {
		return nil, errors.Join(err, c.Close())
	}
	return c, nil
}

// NewCluster starts a simulated cluster for a test, like
// httptest.NewServer: PD's HTTP API at [Cluster.PDURL] and a metrics
// endpoint per store, each on a real 127.0.0.1 listener. The cluster is
// closed by t.Cleanup; a failure to start fails the test at once
// (t.Fatal).
//
//	c := tikvtest.NewCluster(t, tikvtest.Stores(5), tikvtest.Clock(fake))
//	cfg := tikv.Config{PD: pdclient.Config{Endpoints: []string{c.PDURL()}}, Clock: c.Now}
func NewCluster(t testing.TB, opts ...Option) *Cluster {
	t.Helper()
	c, err := Start(t.Context(), opts...)
	if err != nil {
		t.Fatalf("tikvtest: start cluster: %v", err)
		return nil // t is not a *testing.T whose Fatalf ends the goroutine
	}
	t.Cleanup(func() {
		if err := c.Close(); err != nil {
			t.Errorf("tikvtest: close cluster: %v", err)
		}
	})
	return c
}

// NoSplits makes the stores never carry out a split, as pd-simulator's
// never do ([Config.NoSplits]).
func NoSplits() Option { return func(c *Config) { c.NoSplits = true } }

// PDElection sets how long a PD leader change leaves PD without a leader
// ([Config.PDElection], 12 s by default).
func PDElection(d time.Duration) Option { return func(c *Config) { c.PDElection = d } }

// Fresh starts the cluster as a new one starts: every store registered,
// none heartbeaten yet ([Config.Fresh]).
func Fresh() Option { return func(c *Config) { c.Fresh = true } }
