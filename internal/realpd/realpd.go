package realpd

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
)

// EnvDir is the environment variable that names the folder holding
// pd-server and pd-simulator.
const EnvDir = "KVOPS_REALPD_DIR"

// Defaults of Config's zero fields.
const (
	DefaultMembers         = 1
	DefaultStores          = 5
	DefaultRegions         = 200
	DefaultCase            = "stable"
	DefaultSimTickInterval = 100 * time.Millisecond
	// DefaultRegionHeartbeat makes the simulator's regions heartbeat every
	// 5 s instead of its default minute, so that they appear within
	// seconds and PD sees operators finish soon after they run.
	DefaultRegionHeartbeat = 5 * time.Second
	// DefaultStoreHeartbeat is TiKV's own store heartbeat interval.
	DefaultStoreHeartbeat = 10 * time.Second
	DefaultReadyTimeout   = 2 * time.Minute
)

// Errors New, Member.Start and the test helpers return; match them with
// errors.Is.
var (
	// ErrNotConfigured: KVOPS_REALPD_DIR (or Config.Dir) is empty.
	ErrNotConfigured = errors.New("realpd: " + EnvDir + " is not set: set it to a folder holding pd-server and pd-simulator (.ci/run sets it from ../shared/realpd/unpack)")
	// ErrMissingBinary: the folder does not hold pd-server or
	// pd-simulator.
	ErrMissingBinary = errors.New("realpd: pd-server or pd-simulator missing")
	// ErrPortTaken: a port PD needs is held by another program. New
	// retries with fresh ports and returns it only when every attempt
	// met it; Member.Start cannot choose other ports.
	ErrPortTaken = errors.New("realpd: a port PD needs is taken")
	// ErrExited: a process exited before it was ready.
	ErrExited = errors.New("realpd: process exited before it was ready")
	// ErrStopped: the cluster was stopped.
	ErrStopped = errors.New("realpd: cluster stopped")
)

// Config says what to run. Zero fields take the defaults above.
type Config struct {
	// Dir holds pd-server and pd-simulator; empty means $KVOPS_REALPD_DIR.
	Dir string
	// Members is the number of PD members: 1 (default) or 3.
	Members int
	// Stores and Regions are the simulator's total-store and total-region
	// (defaults 5 and 200). Stores are numbered from 1.
	Stores  int
	Regions int
	// Case is the simulator's case; "stable" by default (see the package
	// documentation).
	Case string
	// NoSimulator runs PD alone: no store, no region.
	NoSimulator bool
	// SimTickInterval is the simulator's tick (sim-tick-interval,
	// default 100ms).
	SimTickInterval time.Duration
	// RegionHeartbeat and StoreHeartbeat are the simulated stores'
	// pd-heartbeat-tick-interval and pd-store-heartbeat-tick-interval
	// (defaults 5s and 10s).
	RegionHeartbeat time.Duration
	StoreHeartbeat  time.Duration
	// MaxStoreDownTime, when set, is PD's max-store-down-time, set through
	// POST /pd/api/v1/config before the simulator starts: how long after
	// a store's last heartbeat PD reports it Down (PD's default is 30m).
	// PD reports it Disconnected after 20 s whatever this is.
	MaxStoreDownTime time.Duration
	// ReadyTimeout bounds how long New waits for the cluster to be ready,
	// and Member.Start for a member (default 2m).
	ReadyTimeout time.Duration
	// NoWait makes New return as soon as the simulator is started, without
	// waiting for its stores: to watch a cluster being born (PD then lists
	// its stores Down until their first heartbeats). WaitReady waits for
	// them later.
	NoWait bool
}

func (c Config) withDefaults() Config {
	c.Dir = cmp.Or(c.Dir, os.Getenv(EnvDir))
	c.Members = cmp.Or(c.Members, DefaultMembers)
	c.Stores = cmp.Or(c.Stores, DefaultStores)
	c.Regions = cmp.Or(c.Regions, DefaultRegions)
	c.Case = cmp.Or(c.Case, DefaultCase)
	c.SimTickInterval = cmp.Or(c.SimTickInterval, DefaultSimTickInterval)
	c.RegionHeartbeat = cmp.Or(c.RegionHeartbeat, DefaultRegionHeartbeat)
	c.StoreHeartbeat = cmp.Or(c.StoreHeartbeat, DefaultStoreHeartbeat)
	c.ReadyTimeout = cmp.Or(c.ReadyTimeout, DefaultReadyTimeout)
	return c
}

func (c Config) validate() error {
	if c.Members != 1 && c.Members != 3 {
		return fmt.Errorf("realpd: %d members, want 1 or 3", c.Members)
	}
	if c.Stores < 1 || c.Regions < 1 {
		return fmt.Errorf("realpd: %d stores and %d regions, want at least 1 of each", c.Stores, c.Regions)
	}
	for _, d := range []time.Duration{c.SimTickInterval, c.RegionHeartbeat, c.StoreHeartbeat, c.MaxStoreDownTime, c.ReadyTimeout} {
		if d < 0 {
			return fmt.Errorf("realpd: negative duration %v in %+v", d, c)
		}
	}
	return nil
}

// Binaries checks that dir (empty: $KVOPS_REALPD_DIR) holds both programs
// and returns the folder.
func Binaries(dir string) (string, error) {
	dir = cmp.Or(dir, os.Getenv(EnvDir))
	if dir == "" {
		return "", ErrNotConfigured
	}
	if !supportedOS {
		return "", fmt.Errorf("%w: the programs are built for Linux", ErrMissingBinary)
	}
	for _, b := range []string{"pd-server", "pd-simulator"} {
		fi, err := os.Stat(filepath.Join(dir, b))
		if err != nil {
			return "", fmt.Errorf("%w: %v", ErrMissingBinary, err)
		}
		if fi.IsDir() || fi.Mode()&0o111 == 0 {
			return "", fmt.Errorf("%w: %s is not an executable file", ErrMissingBinary, filepath.Join(dir, b))
		}
	}
	return dir, nil
}

// Cluster is a running PD cluster and its simulator. Its methods are safe
// for concurrent use.
type Cluster struct {
	cfg  Config
	dir  string // the temporary directory holding everything
	http *httpClient

	readyAt time.Time // when New saw the stores ready; zero with NoWait

	mu         sync.Mutex
	members    []*Member
	sim        *process
	simStopped bool
	stopped    bool
}

// startAttempts is how many times New starts the cluster again on fresh
// ports after PD found one of its ports taken.
const startAttempts = 5

// New starts a PD cluster and, unless cfg.NoSimulator, the simulator, and
// returns once the cluster is ready (see the package documentation). The
// caller must call Stop. On failure everything started is stopped and the
// error carries the end of the processes' logs.
func New(ctx context.Context, cfg Config) (*Cluster, error) {
	return newCluster(ctx, cfg, pickPorts)
}

// newCluster is New with the way ports are chosen.
func newCluster(ctx context.Context, cfg Config, pick func(n int) ([]int, error)) (*Cluster, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if _, err := Binaries(cfg.Dir); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.ReadyTimeout)
	defer cancel()
	var err error
	for range startAttempts {
		var c *Cluster
		c, err = start(ctx, cfg, pick)
		if err == nil {
			return c, nil
		}
		if !errors.Is(err, ErrPortTaken) {
			break
		}
	}
	return nil, err
}

func start(ctx context.Context, cfg Config, pick func(n int) ([]int, error)) (*Cluster, error) {
	dir, err := os.MkdirTemp("", "realpd-")
	if err != nil {
		return nil, fmt.Errorf("realpd: %w", err)
	}
	c := &Cluster{cfg: cfg, dir: dir, http: newHTTPClient()}
	fail := func(err error) (*Cluster, error) {
		logs := c.Logs()
		_ = c.Stop()
		return nil, fmt.Errorf("%w\n%s", err, logs)
	}
	ports, err := pick(2 * cfg.Members)
	if err != nil {
		return fail(err)
	}
	var initial []string
	for i := range cfg.Members {
		m := &Member{c: c, name: fmt.Sprintf("pd%d", i+1), clientPort: ports[2*i], peerPort: ports[2*i+1]}
		m.dataDir = filepath.Join(dir, m.name)
		c.members = append(c.members, m)
		initial = append(initial, m.name+"="+m.peerURL())
	}
	for _, m := range c.members {
		m.initialCluster = strings.Join(initial, ",")
		if err := m.spawn(); err != nil {
			return fail(err)
		}
	}
	// Waited for together: a member that cannot bind its port must end
	// the wait at once, even while another waits for its peers.
	g, gctx := errgroup.WithContext(ctx)
	for _, m := range c.members {
		g.Go(func() error { return m.waitServing(gctx) })
	}
	if err := g.Wait(); err != nil {
		return fail(err)
	}
	if _, err := c.Leader(ctx); err != nil {
		return fail(err)
	}
	if cfg.MaxStoreDownTime > 0 {
		if err := c.SetConfig(ctx, map[string]any{"max-store-down-time": cfg.MaxStoreDownTime.String()}); err != nil {
			return fail(err)
		}
	}
	if cfg.NoSimulator {
		return c, nil
	}
	if err := c.startSimulator(); err != nil {
		return fail(err)
	}
	if cfg.NoWait {
		return c, nil
	}
	if err := c.WaitReady(ctx); err != nil {
		return fail(err)
	}
	c.readyAt = time.Now()
	return c, nil
}

// ReadyAt returns when New found the cluster ready: its stores had just
// sent their first heartbeats, which PD writes to its storage (it writes a
// store's heartbeat again only 5 minutes later). Zero with Config.NoWait.
func (c *Cluster) ReadyAt() time.Time { return c.readyAt }

// Config returns the configuration the cluster runs with, defaults
// filled in.
func (c *Cluster) Config() Config { return c.cfg }

// Members returns the PD members, pd1 first.
func (c *Cluster) Members() []*Member {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*Member(nil), c.members...)
}

// Member returns the member with the given name ("pd1"), or nil.
func (c *Cluster) Member(name string) *Member {
	for _, m := range c.Members() {
		if m.name == name {
			return m
		}
	}
	return nil
}

// Endpoints returns every member's client URL ("http://127.0.0.1:port"),
// pd1 first, whether the member runs or not: what a PD client is given.
func (c *Cluster) Endpoints() []string {
	var out []string
	for _, m := range c.Members() {
		out = append(out, m.URL())
	}
	return out
}

// EtcdEndpoints returns every member's client address ("127.0.0.1:port"),
// pd1 first: PD's client URL also serves etcd's v3 API, as an etcd client
// (go.etcd.io/etcd/client/v3 Config.Endpoints) takes it.
func (c *Cluster) EtcdEndpoints() []string {
	var out []string
	for _, m := range c.Members() {
		out = append(out, m.clientAddr())
	}
	return out
}

// Stop kills every process the cluster started, waits for each and removes
// the temporary directory. It is safe to call more than once and
// concurrently; later calls return nil.
func (c *Cluster) Stop() error {
	c.mu.Lock()
	if c.stopped {
		c.mu.Unlock()
		return nil
	}
	c.stopped = true
	procs := []*process{c.sim}
	for _, m := range c.members {
		procs = append(procs, m.proc)
	}
	c.mu.Unlock()
	var errs []error
	for _, p := range procs {
		if p != nil {
			errs = append(errs, p.kill())
		}
	}
	c.http.close()
	errs = append(errs, os.RemoveAll(c.dir))
	return errors.Join(errs...)
}

// Logs returns the end of every process's log, for a failure message.
func (c *Cluster) Logs() string {
	var b strings.Builder
	for _, m := range c.Members() {
		fmt.Fprintf(&b, "--- %s (%s) ---\n%s", m.name, m.URL(), tail(m.logFiles(), logTailLines))
	}
	c.mu.Lock()
	sim := c.sim
	c.mu.Unlock()
	if sim != nil {
		fmt.Fprintf(&b, "--- pd-simulator ---\n%s", tail(c.simLogFiles(), logTailLines))
	}
	return b.String()
}

// logTailLines is how much of each log Logs shows.
const logTailLines = 40

func (c *Cluster) isStopped() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stopped
}
