package tikvtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/big"
	"math/rand/v2"
	"net"
	"net/http"
	"slices"
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

// leadersToElect reports whether electLeaders has work: a store stopped or
// started since it last ran.
func (c *Cluster) leadersToElect() bool { return c.electDirty }

// anyOffline reports whether a store is being drained.
func (c *Cluster) anyOffline() bool {
	for _, s := range c.stores {
		if s.offline && !s.tombstone {
			return true
		}
	}
	return false
}

// heartbeats advances each running store's last heartbeat to its latest
// scheduled beat (every 10 s, at the store's own phase).
func (c *Cluster) heartbeats() {
	for _, s := range c.stores {
		if !s.running {
			continue
		}
		since := c.now.Sub(c.start) - s.phase
		if since < 0 {
			continue
		}
		beat := c.start.Add(s.phase + since/heartbeatInterval*heartbeatInterval)
		if beat.After(s.lastHeartbeat) {
			s.lastHeartbeat = beat
			// A beat during a PD election reaches no leader.
			if !beat.Before(c.leaderSince) {
				// A leader writes a store's heartbeat down at the first
				// one it gets, then every storePersistInterval.
				if s.stale || beat.Sub(s.persisted) > storePersistInterval {
					s.persisted = beat
				}
				s.stale = false
			}
		}
	}
}

// stateName is the store's state_name as PD computes it, from the last
// heartbeat the PD leader knows.
func (c *Cluster) stateName(s *store) string {
	last := c.pdHeartbeat(s)
	switch {
	case s.tombstone:
		return "Tombstone"
	case s.offline:
		return "Offline"
	case c.now.Sub(last) > c.cfg.maxStoreDownTime:
		return "Down"
	case c.now.Sub(last) > disconnectDuration:
		return "Disconnected"
	}
	return "Up"
}

// pdHeartbeat is the store's last heartbeat as the PD leader knows it:
// after a leader change, the one PD last wrote to its storage, until the
// store's next heartbeat reaches the new leader (recorded:
// realpd/stores-after-election-*).
func (c *Cluster) pdHeartbeat(s *store) time.Time {
	if s.stale {
		return s.persisted
	}
	return s.lastHeartbeat
}

// electing reports whether PD is without a leader: a leader change is
// under way.
func (c *Cluster) electing() bool { return c.now.Before(c.electionEnd) }

// logStateChanges writes PD's log lines for stores that crossed the
// disconnect or down threshold during the tick that started at prev.
func (c *Cluster) logStateChanges(prev time.Time) {
	crossed := func(at time.Time) bool { return at.After(prev) && !at.After(c.now) }
	for _, s := range c.stores {
		if s.running || s.tombstone {
			continue
		}
		if crossed(s.lastHeartbeat.Add(disconnectDuration)) {
			c.pdLog.write(entry(c.now, logparse.LevelWarn, "cluster.go:1543", "store disconnected",
				f("store-id", s.id), f("store-address", s.address)))
		}
		if crossed(s.lastHeartbeat.Add(c.cfg.maxStoreDownTime)) {
			c.pdLog.write(entry(c.now, logparse.LevelWarn, "cluster.go:1550", "store is down",
				f("store-id", s.id), f("store-address", s.address)))
		}
	}
}

// usable reports whether a store can take leaders and new peers.
func (c *Cluster) usable(st uint64) bool {
	s := c.stores[st-1]
	return s.running && !s.offline && !s.tombstone && c.stateName(s) == "Up"
}

// electLeaders moves leadership off stores that are not running, as Raft
// re-elects after the election timeout: to the running voter with the
// fewest leaders, when a majority of the region's voters runs. A region
// that lost its majority elects no one, and PD, which only learns of a
// leader from its heartbeats, keeps showing the last leader it heard of,
// on its stopped store.
func (c *Cluster) electLeaders() {
	for _, id := range c.sortedRegionIDs() {
		r := c.regions[id]
		ls := r.leaderStore()
		if ls != 0 && c.stores[ls-1].running {
			continue
		}
		var best *peer
		voters, running := 0, 0
		for i := range r.peers {
			p := &r.peers[i]
			if p.learner {
				continue
			}
			voters++
			if !c.stores[p.store-1].running {
				continue
			}
			running++
			if best == nil || c.leaderCount(p.store) < c.leaderCount(best.store) {
				best = p
			}
		}
		if best == nil || 2*running <= voters {
			continue
		}
		c.setLeader(r, best, "")
	}
}

// setLeader makes p the region's leader, with the logs TiKV and PD write.
// by names the operator, if any.
func (c *Cluster) setLeader(r *region, p *peer, by string) {
	from := r.leaderStore()
	r.term++
	r.leader = p.id
	if cnt := c.cnt; cnt != nil {
		// Kept up to date rather than dropped: re-electing a stopped
		// store's leaders would otherwise recount every region per move.
		if from != 0 {
			cnt.leaders[from-1]--
		} else {
			cnt.leaderless--
		}
		cnt.leaders[p.store-1]++
	}
	for _, q := range r.peers {
		s := c.stores[q.store-1]
		if !s.running {
			continue
		}
		if q.id == p.id {
			s.log.write(entry(c.now, logparse.LevelInfo, "raft.rs:1228", fmt.Sprintf("became leader at term %d", r.term),
				f("term", r.term), f("raft_id", q.id), f("region_id", r.id)))
		} else if q.store == from {
			s.log.write(entry(c.now, logparse.LevelInfo, "raft.rs:1084", fmt.Sprintf("became follower at term %d", r.term),
				f("term", r.term), f("raft_id", q.id), f("region_id", r.id)))
		}
	}
	c.pdLog.write(entry(c.now, logparse.LevelInfo, "region.go:900", "leader changed",
		f("region-id", r.id), f("from", from), f("to", p.store)))
	if by != "" {
		c.logger.Debug("tikvtest: leader moved", "region", r.id, "from", from, "to", p.store, "by", by)
	}
}

// counts are per-store leader, peer and learner counts, indexed by store
// id - 1, and the number of regions without a leader on a store; computed
// on demand and dropped whenever a region changes.
type counts struct {
	leaders, peers, learners []int
	leaderless               int
}

func (c *Cluster) counts() *counts {
	if c.cnt != nil {
		return c.cnt
	}
	n := len(c.stores)
	cnt := &counts{leaders: make([]int, n), peers: make([]int, n), learners: make([]int, n)}
	for _, r := range c.byKey {
		led := false
		for _, p := range r.peers {
			cnt.peers[p.store-1]++
			if p.learner {
				cnt.learners[p.store-1]++
			}
			if p.id == r.leader {
				cnt.leaders[p.store-1]++
				led = true
			}
		}
		if !led {
			cnt.leaderless++
		}
	}
	c.cnt = cnt
	return cnt
}

// changed drops the cached counts; call it after changing any region.
func (c *Cluster) changed() { c.cnt = nil }

func (c *Cluster) leaderCount(st uint64) int { return c.counts().leaders[st-1] }

func (c *Cluster) peerCount(st uint64) int { return c.counts().peers[st-1] }

// sortedRegionIDs returns the region ids in ascending order. The slice is
// the cluster's own: read it, do not change it.
func (c *Cluster) sortedRegionIDs() []uint64 { return c.ids }

// regionsByKey returns the regions in key order. The slice is the
// cluster's own: read it, do not change it.
func (c *Cluster) regionsByKey() []*region { return c.byKey }

// addRegion adds a region after every region there is, in key order and
// in id order.
func (c *Cluster) addRegion(r *region) {
	c.regions[r.id] = r
	c.byKey = append(c.byKey, r)
	c.ids = append(c.ids, r.id)
}

// insertRegion adds nr, a region split off the end of prev, right after
// prev in key order. Its id is the newest, so id order holds by appending.
func (c *Cluster) insertRegion(prev, nr *region) {
	c.regions[nr.id] = nr
	i, _ := slices.BinarySearchFunc(c.byKey, prev.start, func(r *region, k []byte) int { return bytes.Compare(r.start, k) })
	c.byKey = slices.Insert(c.byKey, i+1, nr)
	c.ids = append(c.ids, nr.id)
	c.noteFlow(prev)
	c.noteFlow(nr)
	c.changed()
}

// regionAt returns the index in key order of the region holding key.
func (c *Cluster) regionAt(key []byte) int {
	i, _ := slices.BinarySearchFunc(c.byKey, key, func(r *region, k []byte) int {
		if r.end == nil || bytes.Compare(k, r.end) < 0 {
			return 1
		}
		return -1
	})
	return i
}

// noteFlow keeps the set of regions writing at the hot rate, the only
// ones updateFlow visits, after r's write rate changed. A region that
// leaves the set is no longer hot.
func (c *Cluster) noteFlow(r *region) {
	if r.writeRate >= hotWriteBytesRate {
		c.hot[r.id] = r
		return
	}
	delete(c.hot, r.id)
	r.hotTicks = 0
}

// runEvictLeader moves leaders off each store an evicting scheduler
// empties: the evict-leader scheduler's stores, and the stores PD's own
// evict-slow-store and evict-stopping-store schedulers evict;
// evictLeadersPerSec for every 4 of leader-schedule-limit per second of
// dt (at least one per tick), shared by the stores.
func (c *Cluster) runEvictLeader(dt time.Duration) {
	type eviction struct {
		store uint64
		by    string
	}
	var evs []eviction
	for _, st := range c.evict {
		evs = append(evs, eviction{st, "evict-leader-scheduler"})
	}
	if c.slowEvicted != 0 {
		evs = append(evs, eviction{c.slowEvicted, "evict-slow-store-scheduler"})
	}
	if c.stoppingEvicted != 0 {
		evs = append(evs, eviction{c.stoppingEvicted, "evict-stopping-store-scheduler"})
	}
	if len(evs) == 0 {
		return
	}
	budget := max(1, int(math.Round(dt.Seconds()*evictLeadersPerSec*float64(c.cfg.leaderLimit)/4)))
	for _, ev := range evs {
		for _, id := range c.sortedRegionIDs() {
			if budget == 0 {
				return
			}
			r := c.regions[id]
			if r.leaderStore() != ev.store || c.ops[id] != nil || r.stuck {
				continue
			}
			if t := c.leaderTarget(r, ev.store); t != nil {
				c.record(fmt.Sprintf("%s {transfer leader: store %d to %d}", ev.by, ev.store, t.store), r, "leader")
				c.setLeader(r, t, ev.by)
				budget--
			}
		}
	}
}

// leaderTarget picks the voter, off store `from`, with the fewest leaders
// on a store that may take leaders.
func (c *Cluster) leaderTarget(r *region, from uint64) *peer {
	var best *peer
	for i := range r.peers {
		p := &r.peers[i]
		if p.learner || p.store == from || !c.usable(p.store) || c.leadersKeptOff(p.store) {
			continue
		}
		if best == nil || c.leaderCount(p.store) < c.leaderCount(best.store) {
			best = p
		}
	}
	return best
}

// evicted tells a store of the evict-leader scheduler.
func (c *Cluster) evicted(st uint64) bool {
	for _, e := range c.evict {
		if e == st {
			return true
		}
	}
	return false
}

// leadersKeptOff tells a store any evicting scheduler keeps leaders off:
// PD's leader filters refuse such a store as a leader target.
func (c *Cluster) leadersKeptOff(st uint64) bool {
	return c.evicted(st) || st == c.slowEvicted || st == c.stoppingEvicted
}

// runDrain moves regions off Offline stores: a move adds a learner on
// another store in one tick and, in the next, promotes it and removes the
// old peer. At most replica-schedule-limit/8 (at least one) moves start per
// tick. An Offline store left with no peer becomes Tombstone.
func (c *Cluster) runDrain() {
	// Finish moves started in earlier ticks.
	for _, id := range c.sortedRegionIDs() {
		r := c.regions[id]
		if r.moveFrom == 0 {
			continue
		}
		from := r.moveFrom
		if r.leaderStore() == from {
			if t := c.leaderTarget(r, from); t != nil {
				c.setLeader(r, t, "replica-checker")
			}
		}
		kept := r.peers[:0]
		for _, p := range r.peers {
			if p.store == from {
				continue
			}
			p.learner = false
			kept = append(kept, p)
		}
		r.peers = kept
		c.changed()
		r.moveFrom = 0
		r.confVer++
		c.record(fmt.Sprintf("replica-checker {mv peer: store [%d] to [%d]}", from, r.peers[len(r.peers)-1].store), r, "region,replica")
	}
	budget := max(1, int(c.cfg.replicaLimit/8))
	for _, s := range c.stores {
		if !s.offline || s.tombstone {
			continue
		}
		left := 0
		for _, id := range c.sortedRegionIDs() {
			r := c.regions[id]
			if r.peerOn(s.id) == nil {
				continue
			}
			left++
			if budget == 0 || r.moveFrom != 0 {
				continue
			}
			target := c.drainTarget(r)
			if target == 0 {
				continue
			}
			r.peers = append(r.peers, peer{id: c.allocID(), store: target, learner: true})
			c.changed()
			r.moveFrom = s.id
			r.confVer++
			budget--
		}
		if left == 0 {
			s.tombstone = true
			s.offline = false
			c.pdLog.write(entry(c.now, logparse.LevelWarn, "cluster.go:1709", "store has been Tombstone",
				f("store-id", s.id), f("store-address", s.address)))
		}
	}
}

func (c *Cluster) drainTarget(r *region) uint64 {
	var best uint64
	bestN := 0
	for _, s := range c.stores {
		if r.peerOn(s.id) != nil || !c.usable(s.id) {
			continue
		}
		n := c.peerCount(s.id)
		if best == 0 || n < bestN {
			best, bestN = s.id, n
		}
	}
	return best
}

// updateFlow keeps each region's hot-tick count; a region is hot while its
// write rate is at least hotWriteBytesRate.
func (c *Cluster) updateFlow() {
	for _, r := range c.hot {
		if r.leaderStore() != 0 {
			r.hotTicks++
		} else {
			r.hotTicks = 0
		}
	}
}

// splitKey returns the key halfway between start and end (end nil is
// +infinity), strictly between the two.
func splitKey(start, end []byte) []byte {
	n := max(len(start), len(end)) + 1
	pad := func(b []byte, fill byte) *big.Int {
		p := make([]byte, n)
		copy(p, b)
		for i := len(b); i < n; i++ {
			p[i] = fill
		}
		return new(big.Int).SetBytes(p)
	}
	a := pad(start, 0)
	var b *big.Int
	if end == nil {
		b = pad(nil, 0xff)
	} else {
		b = pad(end, 0)
	}
	mid := new(big.Int).Add(a, b)
	mid.Rsh(mid, 1)
	out := mid.FillBytes(make([]byte, n))
	return bytes.TrimRight(out, "\x00")
}

// storeServer is a store's metrics listener while the store runs.
type storeServer struct {
	srv *http.Server
	// ln is srv's listener. Stopping a store closes it directly: an
	// http.Server closes only the listeners its Serve has registered, and
	// one that has not run yet closes it later, so that a store stopped
	// right after it started went on accepting connections for a moment.
	ln net.Listener
}
