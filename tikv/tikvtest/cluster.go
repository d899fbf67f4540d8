package tikvtest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/kvops/operator/logparse"
	"github.com/kvops/operator/subject"
)

// TimeSource tells the time: anything with a Now method, such as a fake
// clock of the caller's. Cluster only reads it at New (the cluster's start)
// and in Run; Tick and Advance take the time from their caller.
type TimeSource interface {
	Now() time.Time
}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

// Config configures a simulated cluster, for [NewCluster] and
// [NewUnstartedCluster]. The zero value of each field takes the default
// documented on it.
type Config struct {
	// Stores is the number of TiKV stores, 5 by default.
	Stores int
	// Regions is the number of regions at start, 200 by default.
	Regions int
	// Clock gives the start time and Run's ticks; real time by default.
	Clock TimeSource
	// Seed makes the synthetic workload (request latencies, write flow)
	// reproducible.
	Seed int64
	// Logger receives the simulator's own debug messages; discarded by
	// default.
	Logger *slog.Logger
	// LogDir, when set, is where the cluster also writes its logs:
	// tikv-<id>.log per store and pd.log.
	LogDir string
	// StoreCapacity is each store's disk size in bytes, 100 GiB by default.
	StoreCapacity uint64
	// RecordMetrics, when positive, makes the cluster record what a
	// Prometheus scraping it every RecordMetrics of the cluster's time
	// would store: at Start, then at each tick at least RecordMetrics
	// after the previous recording, every series of every store (job
	// "tikv") and of every PD member (job "pd"), and up. Read it with
	// [Cluster.History]; [BackfillPrometheus] puts it in a real
	// Prometheus. 15 s is Prometheus' usual scrape interval. Zero
	// records nothing; negative is [ErrBadArgument].
	RecordMetrics time.Duration
	// NoSplits makes the stores never carry out a split, as PD's own
	// pd-simulator never does ("split region scheduling is currently not
	// supported"): a split-region operator stays RUNNING until PD ends it
	// TIMEOUT a minute after it was created, and the region is left as it
	// was. For comparing with a real PD whose stores are pd-simulator's.
	NoSplits bool
	// Fresh starts the cluster as a new one starts rather than as one that
	// has been running: each store has registered with PD but sent no
	// heartbeat yet, so PD lists it Down with no last heartbeat, no node
	// state, every size "0B" and 1970 timestamps (recorded in
	// ../testdata/stores-bootstrap-*.json), until its first heartbeat, at
	// its own phase within the first 10 s.
	Fresh bool
	// PDElection is how long a PD leader change ([Cluster.PDLeaderChange])
	// leaves PD without a leader: 12 s by default, as the real PD of
	// testdata/realpd took 10.5 to 12.9 s from its leader's death until
	// its followers answered again.
	PDElection time.Duration
	// PDListener, when set, is the listener [Cluster.Start] serves PD's
	// API on instead of a free 127.0.0.1 port of its own: for a program
	// that serves the simulated PD at an address of its choice
	// (examples/simpd). [Cluster.Close] closes it. On a wildcard address
	// (0.0.0.0, ::) PD's members advertise the address each request came
	// in on, as with [Cluster.PDHandler] served by the caller.
	PDListener net.Listener
	// WrapPD, when set, wraps the handler Start serves PD's API with: for
	// a program that logs PD's requests or serves routes of its own beside
	// PD's (examples/simpd). The paths PD serves are those of
	// [Cluster.PDHandler].
	WrapPD func(http.Handler) http.Handler
}

// Errors returned by the constructors, the fault and the inspection methods;
// match them with errors.Is. Each also matches the subject sentinel named.
var (
	// ErrNoStore: the store id is not in the cluster (subject.ErrNotFound).
	ErrNoStore = fmt.Errorf("tikvtest: no such store: %w", subject.ErrNotFound)
	// ErrNoRegion: the region id is not in the cluster (subject.ErrNotFound).
	ErrNoRegion = fmt.Errorf("tikvtest: no such region: %w", subject.ErrNotFound)
	// ErrBadArgument: an argument is out of range (subject.ErrInvalid).
	ErrBadArgument = fmt.Errorf("tikvtest: bad argument: %w", subject.ErrInvalid)
	// ErrStarted: Start was called twice, or after Close
	// (subject.ErrPrecondition).
	ErrStarted = fmt.Errorf("tikvtest: already started or closed: %w", subject.ErrPrecondition)
)

// Timing constants, as in TiKV and PD.
const (
	heartbeatInterval  = 10 * time.Second
	disconnectDuration = 20 * time.Second
	regionSizeMiB      = 96
	regionKeys         = 960000
	// hotWriteBytesRate is the write rate (bytes/s) above which a region is
	// reported hot.
	hotWriteBytesRate = 64 << 10
	// evictLeadersPerSec is how fast leaders leave an evicted store at
	// PD's default leader-schedule-limit of 4: the recorded real PD moved
	// 7 to 10 a second on 2,000 regions (PD's evict-leader scheduler
	// creates operators in batches of 3 while fewer than
	// leader-schedule-limit leader operators run).
	evictLeadersPerSec = 10
	// storePersistInterval is how often PD writes a store's last heartbeat
	// to its storage.
	storePersistInterval = 5 * time.Minute
	// initialPersistAge is how old the last heartbeat PD wrote is when the
	// simulation starts (its stores ran before it did): older than 20 s,
	// so that a PD leader change soon after the start shows the stores
	// Disconnected, as recorded (pd-cluster/stores-follower-leader-just-killed).
	initialPersistAge = 4 * time.Minute
	defaultPDElection = 12 * time.Second
)

type peer struct {
	id      uint64
	store   uint64
	learner bool
}

type region struct {
	id         uint64
	start, end []byte // end nil: +infinity
	confVer    uint64
	version    uint64
	peers      []peer
	leader     uint64 // peer id; 0 when leaderless
	term       uint64
	writeRate  float64 // bytes per second
	hotTicks   int
	moveFrom   uint64    // store whose peer the learner replaces
	adminUntil time.Time // an admin transfer-leader put the leader here; balancers leave it
	stuck      bool      // schedulers cannot move its leader (SetStuckLeaders)
}

func (r *region) peerOn(store uint64) *peer {
	for i := range r.peers {
		if r.peers[i].store == store {
			return &r.peers[i]
		}
	}
	return nil
}

func (r *region) leaderStore() uint64 {
	for _, p := range r.peers {
		if p.id == r.leader {
			return p.store
		}
	}
	return 0
}

type label struct{ key, value string }

type store struct {
	id            uint64
	address       string
	statusAddress string
	running       bool
	startTime     time.Time
	lastHeartbeat time.Time
	phase         time.Duration
	stale         bool // PD's leader changed and the store has not heartbeaten since
	offline       bool
	tombstone     bool
	labels        []label
	leaderWeight  float64
	regionWeight  float64
	writeLatency  time.Duration
	diskUsage     float64 // fraction of capacity in use; <0 when derived from regions
	capacity      uint64
	metrics       *storeMetrics
	log           *logSink
	srv           *storeServer

	// hold keeps a stopped store's port from others until it listens
	// again (see port_hold.go); nil while it runs.
	hold io.Closer
	// persisted is the last heartbeat PD wrote to its storage: it writes
	// one when a store registers and then every 5 minutes
	// (storePersistInterval in PD's pkg/core/store.go), and a new PD
	// leader knows no later one until the store's next heartbeat.
	persisted time.Time
}

type member struct {
	name    string
	id      uint64
	peerURL string
	// client is the member's own client URL, in messages that name it;
	// the simulator serves every member at its one PD URL.
	client string
}

type scheduleConfig struct {
	leaderLimit      uint64
	regionLimit      uint64
	replicaLimit     uint64
	lowSpaceRatio    float64
	highSpaceRatio   float64
	maxStoreDownTime time.Duration
}

// Cluster is a simulated TiKV cluster. Its methods are safe for concurrent
// use.
type Cluster struct {
	clock      TimeSource
	logger     *slog.Logger
	rng        *rand.Rand
	pdListener net.Listener // Config.PDListener, until Start
	wrapPD     func(http.Handler) http.Handler

	mu          sync.Mutex
	start       time.Time
	now         time.Time
	stores      []*store // by id - 1
	regions     map[uint64]*region
	byKey       []*region // every region, in key order
	ids         []uint64  // every region id, ascending (ids only grow)
	hot         map[uint64]*region
	drainTail   bool // runDrain ran last tick: it may have moves to finish
	nextID      uint64
	members     []member
	leaderIdx   int
	leaderSince time.Time
	cfg         scheduleConfig
	ops         map[uint64]*operator
	latest      map[uint64]latestOp // the last operator that ended, per region
	adminEnded  map[uint64]latestOp // the last admin operator that ended, per region
	opFault     OperatorOutcome
	opFaults    int // admin operators still to end with opFault
	noSplits    bool
	electDirty  bool // a store stopped or started: electLeaders has work
	election    time.Duration
	electionEnd time.Time // until then PD has no leader
	records     []string
	evict       []uint64 // stores of the evict-leader scheduler, in order added
	pdLog       *logSink
	net         *network
	cnt         *counts
	pdStats     []pdMemberStats // by member, grown by ticks
	rec         *recorder       // nil unless Config.RecordMetrics

	// The store PD's evict-slow-store and evict-stopping-store schedulers
	// evict, 0 for none: each evicts one store at a time.
	slowEvicted, stoppingEvicted uint64
	pdOwn                        pdAutomation // pd_maintenance.go, pd_halt.go
}

// NewUnstartedCluster builds a cluster in its initial state, every store
// up and regions spread three replicas each, from cfg, whose zero fields
// take their documented defaults. It serves nothing until [Cluster.Start];
// the caller then calls [Cluster.Close]. A field out of range is
// [ErrBadArgument] (matching subject.ErrInvalid). Tests use [NewCluster].
func NewUnstartedCluster(cfg Config) (*Cluster, error) {
	if cfg.Stores == 0 {
		cfg.Stores = 5
	}
	if cfg.Regions == 0 {
		cfg.Regions = 200
	}
	if cfg.Stores < 1 || cfg.Stores > 1000 {
		return nil, fmt.Errorf("%w: %d stores, want 1 to 1000", ErrBadArgument, cfg.Stores)
	}
	if cfg.Regions < 1 || cfg.Regions > 1_000_000 {
		return nil, fmt.Errorf("%w: %d regions, want 1 to 1000000", ErrBadArgument, cfg.Regions)
	}
	if cfg.RecordMetrics < 0 {
		return nil, fmt.Errorf("%w: RecordMetrics %v is negative", ErrBadArgument, cfg.RecordMetrics)
	}
	if cfg.Clock == nil {
		cfg.Clock = realClock{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.StoreCapacity == 0 {
		cfg.StoreCapacity = 100 << 30
	}
	if cfg.PDElection < 0 {
		return nil, fmt.Errorf("%w: PD election %v", ErrBadArgument, cfg.PDElection)
	}
	if cfg.PDElection == 0 {
		cfg.PDElection = defaultPDElection
	}
	now := cfg.Clock.Now()
	c := &Cluster{
		clock:      cfg.Clock,
		logger:     cfg.Logger,
		rng:        rand.New(rand.NewPCG(uint64(cfg.Seed), 0x5eed)),
		start:      now,
		now:        now,
		regions:    make(map[uint64]*region, cfg.Regions),
		hot:        map[uint64]*region{},
		ops:        map[uint64]*operator{},
		latest:     map[uint64]latestOp{},
		adminEnded: map[uint64]latestOp{},
		cfg: scheduleConfig{
			leaderLimit: 4, regionLimit: 2048, replicaLimit: 64,
			lowSpaceRatio: 0.8, highSpaceRatio: 0.7, maxStoreDownTime: 30 * time.Minute,
		},
		members: []member{
			{name: "pd1", id: 3474484975246189105, peerURL: "http://127.0.0.1:2380", client: "http://127.0.0.1:2379"},
			{name: "pd2", id: 16394649564477637904, peerURL: "http://127.0.0.1:2382", client: "http://127.0.0.1:2381"},
			{name: "pd3", id: 5524145897554051968, peerURL: "http://127.0.0.1:2384", client: "http://127.0.0.1:2383"},
		},
		leaderSince: now,
		noSplits:    cfg.NoSplits,
		election:    cfg.PDElection,
		pdListener:  cfg.PDListener,
		wrapPD:      cfg.WrapPD,
	}
	if cfg.RecordMetrics > 0 {
		c.rec = &recorder{every: cfg.RecordMetrics}
	}
	var err error
	if c.pdLog, err = newLogSink(cfg.LogDir, "pd.log"); err != nil {
		return nil, err
	}
	for i := range cfg.Stores {
		id := uint64(i + 1)
		s := &store{
			id:            id,
			address:       fmt.Sprintf("127.0.0.1:%d", 20160+i),
			running:       true,
			lastHeartbeat: now,
			persisted:     now.Add(-initialPersistAge),
			startTime:     now.Add(-time.Hour), // processes up before the sim was
			phase:         time.Duration(i) * heartbeatInterval / time.Duration(cfg.Stores),
			leaderWeight:  1,
			regionWeight:  1,
			diskUsage:     -1,
			capacity:      cfg.StoreCapacity,
		}
		if cfg.Fresh {
			// Registered, never heartbeaten: PD has no last heartbeat and
			// has stored none.
			s.lastHeartbeat, s.persisted, s.startTime = time.Time{}, time.Time{}, now
		}
		s.metrics = newStoreMetrics(s.startTime)
		if s.log, err = newLogSink(cfg.LogDir, fmt.Sprintf("tikv-%d.log", id)); err != nil {
			c.closeLogs()
			return nil, err
		}
		c.stores = append(c.stores, s)
		s.log.write(entry(now, logparse.LevelInfo, "lib.rs:86", "Welcome to TiKV", f("store_id", id)))
	}
	c.initRegions(cfg.Regions)
	c.pdLog.write(entry(now, logparse.LevelInfo, "server.go:1709", "campaign PD leader ok", f("campaign-leader-name", c.members[0].name)))
	c.updateGauges()
	return c, nil
}

// initRegions lays regions out like PD's bootstrap and pd-simulator do:
// ids come from one allocator (three peer ids, then the region id, so the
// first region is 9, as in the recorded fixtures), keys are table keys,
// and replicas rotate over the stores.
//
// A million regions must fit: the regions, their peers and their keys
// are carved out of three arrays (a few allocations instead of millions,
// for the allocator and the collector alike), and a region's end key is
// the next region's start key, stored once.
func (c *Cluster) initRegions(n int) {
	c.nextID = 5
	replicas := min(3, len(c.stores))
	ns := len(c.stores)
	slab := make([]region, n)
	peers := make([]peer, n*replicas)
	keys := make([]byte, 0, (n-1)*len(tableKeyTemplate))
	c.byKey = make([]*region, 0, n)
	c.ids = make([]uint64, 0, n)
	var prevEnd []byte
	for i := range n {
		r := &slab[i]
		r.confVer, r.version, r.term = 1, 1, 6
		// Capacity = length: a peer appended later (a move's learner)
		// reallocates rather than overwrite the next region's peers.
		r.peers = peers[i*replicas : i*replicas : (i+1)*replicas]
		for k := range replicas {
			st := uint64((i+ns-1+k)%ns) + 1
			r.peers = append(r.peers, peer{id: c.allocID(), store: st})
		}
		r.id = c.allocID()
		r.leader = r.peers[(i+1)%replicas].id
		r.start = prevEnd
		if i < n-1 {
			at := len(keys)
			keys = appendTableKey(keys, i)
			r.end = keys[at:len(keys):len(keys)]
			prevEnd = r.end
		}
		r.writeRate = c.rng.Float64() * 2048
		c.addRegion(r)
	}
}

// tableKeyTemplate is the encoded key of t\x80\x00...\x01_r<i>, as PD
// shows it in hex; bytes 18 to 20 hold i.
var tableKeyTemplate = [...]byte{0x74, 0x80, 0, 0, 0, 0, 0, 0, 0xff, 0x01, 0x5f, 0x72, 0x80, 0, 0, 0, 0, 0xff, 0, 0, 0, 0xff, 0, 0, 0, 0, 0xfb}

func appendTableKey(b []byte, i int) []byte {
	at := len(b)
	b = append(b, tableKeyTemplate[:]...)
	b[at+18], b[at+19], b[at+20] = byte(i>>16), byte(i>>8), byte(i)
	return b
}

func tableKey(i int) []byte { return appendTableKey(nil, i) }

func (c *Cluster) allocID() uint64 {
	c.nextID++
	return c.nextID
}

func (c *Cluster) closeLogs() error {
	var errs []error
	if c.pdLog != nil {
		errs = append(errs, c.pdLog.close())
	}
	for _, s := range c.stores {
		if s.log != nil {
			errs = append(errs, s.log.close())
		}
	}
	return errors.Join(errs...)
}

func (c *Cluster) store(id subject.StoreID) (*store, error) {
	if id < 1 || int(id) > len(c.stores) {
		return nil, fmt.Errorf("%w: %d", ErrNoStore, id)
	}
	return c.stores[id-1], nil
}

// Now returns the cluster's current time: the last time given to Tick.
func (c *Cluster) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the cluster's time forward by d and runs a tick.
func (c *Cluster) Advance(d time.Duration) {
	c.mu.Lock()
	now := c.now.Add(d)
	c.mu.Unlock()
	c.Tick(now)
}

// Run ticks the cluster with the clock's time every interval until ctx is
// done. It returns nil when ctx is cancelled. [Cluster.RunScenario] also
// injects faults on a schedule.
func (c *Cluster) Run(ctx context.Context, interval time.Duration) error {
	return c.RunScenario(ctx, interval, nil, nil)
}

// Tick moves the cluster to time now: stores heartbeat, operators and
// schedulers make progress, request latencies are observed. A time not
// after the current one changes nothing.
func (c *Cluster) Tick(now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !now.After(c.now) {
		return
	}
	dt := now.Sub(c.now)
	prev := c.now
	c.now = now
	c.heartbeats()
	c.logStateChanges(prev)
	// A tick costs O(stores) unless something happens to regions: the
	// region passes below run only when they have work.
	if c.leadersToElect() {
		c.electLeaders()
		c.electDirty = false
	}
	if len(c.ops) > 0 {
		c.runOperators()
	}
	if !c.pdOwn.halted { // halt-scheduling: no scheduler, no checker (pd_halt.go)
		c.runStoppingStore()
		c.runEvictLeader(dt)
		c.runBalanceLeader(dt)
		offline := c.anyOffline()
		if offline || c.drainTail {
			c.runDrain()
		}
		c.drainTail = offline
	}
	c.updateFlow()
	c.observe(dt)
	c.updateGauges()
	c.recordMetrics()
}
