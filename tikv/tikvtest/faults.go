package tikvtest

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/kvops/operator/internal/bindonly"
	"github.com/kvops/operator/logparse"
	"github.com/kvops/operator/subject"
)

// StopStore stops a store's process: its heartbeats stop (PD reports it
// Disconnected 20 s after its last heartbeat, Down after
// max-store-down-time), its leaders move to other voters on the next tick
// (when a majority of a region's voters still runs), it logs nothing more
// and its metrics endpoint closes every connection at once.
// Stopping a stopped store does nothing.
func (c *Cluster) StopStore(id subject.StoreID) error {
	c.mu.Lock()
	s, err := c.store(id)
	if err != nil {
		c.mu.Unlock()
		return err
	}
	var srv *storeServer
	var holdErr error
	if s.running {
		s.running = false
		c.electDirty = true
		srv, s.srv = s.srv, nil
		s.log.write(entry(c.now, logparse.LevelInfo, "signal_handler.rs:36", "receive signal 15, stopping server..."))
	}
	if srv != nil {
		// Held before the listener closes: the port is never free.
		s.hold, holdErr = bindonly.Hold(s.statusAddress)
	}
	c.mu.Unlock()
	if srv != nil {
		err := srv.srv.Close()
		// The listener's Close returns once its socket is closed: from
		// then on connections are refused. srv has closed it already if
		// its Serve had registered it.
		if cerr := srv.ln.Close(); !errors.Is(cerr, net.ErrClosed) {
			err = errors.Join(err, cerr)
		}
		return errors.Join(holdErr, err)
	}
	return nil
}

// StartStore starts a stopped store as a new process: it heartbeats at
// once, its metrics start from zero with a new process_start_time_seconds,
// and its metrics endpoint listens again on the same address. Starting a
// running store does nothing.
func (c *Cluster) StartStore(id subject.StoreID) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	s, err := c.store(id)
	if err != nil {
		return err
	}
	if s.running {
		return nil
	}
	if s.tombstone {
		return fmt.Errorf("%w: store %d is tombstone", ErrBadArgument, id)
	}
	c.startProcess(s)
	c.electDirty = true
	return c.listenStore(s)
}

// startProcess is the state change of a TiKV process starting. c.mu is held.
func (c *Cluster) startProcess(s *store) {
	s.running = true
	s.startTime = c.now
	s.lastHeartbeat = c.now
	s.persisted = c.now // PD writes a store down when it registers
	s.stale = false
	s.metrics = newStoreMetrics(c.now)
	c.updateGauges()
	s.log.write(entry(c.now, logparse.LevelInfo, "lib.rs:86", "Welcome to TiKV", f("store_id", s.id)))
	c.pdLog.write(entry(c.now, logparse.LevelInfo, "grpc_service.go:876", "put store ok", f("store-id", s.id)))
}

// RestartStore restarts a running store's process: it keeps heartbeating,
// its leaders move to other voters (as during a real restart), and its
// metrics start again with a new process_start_time_seconds.
func (c *Cluster) RestartStore(id subject.StoreID) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	s, err := c.store(id)
	if err != nil {
		return err
	}
	if !s.running {
		return fmt.Errorf("%w: store %d is stopped; use StartStore", ErrBadArgument, id)
	}
	s.running = false
	c.electLeaders()
	c.startProcess(s)
	return nil
}

// SetWriteLatency makes a store slow (or fast again): its write requests
// take about d from the next tick on. Zero restores the default of a few
// milliseconds.
func (c *Cluster) SetWriteLatency(id subject.StoreID, d time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	s, err := c.store(id)
	if err != nil {
		return err
	}
	if d < 0 {
		return fmt.Errorf("%w: negative latency %v", ErrBadArgument, d)
	}
	s.writeLatency = d
	return nil
}

// SetDiskUsage fills a store's disk to fraction (0 to 1) of its capacity,
// in PD's answers and in its metrics.
func (c *Cluster) SetDiskUsage(id subject.StoreID, fraction float64) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	s, err := c.store(id)
	if err != nil {
		return err
	}
	if !(fraction >= 0 && fraction <= 1) {
		return fmt.Errorf("%w: disk usage %v, want 0 to 1", ErrBadArgument, fraction)
	}
	s.diskUsage = fraction
	c.updateGauges()
	return nil
}

// ClearDiskUsage undoes SetDiskUsage: the store's usage is again its
// regions' data.
func (c *Cluster) ClearDiskUsage(id subject.StoreID) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	s, err := c.store(id)
	if err != nil {
		return err
	}
	s.diskUsage = -1
	c.updateGauges()
	return nil
}

// SetWriteRate sets a region's write flow in bytes per second. A region
// writing at least 64 KiB/s is listed by /hotspot/regions/write.
func (c *Cluster) SetWriteRate(id subject.RegionID, bytesPerSecond float64) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	r := c.regions[uint64(id)]
	if r == nil {
		return fmt.Errorf("%w: %d", ErrNoRegion, id)
	}
	if !(bytesPerSecond >= 0) {
		return fmt.Errorf("%w: write rate %v", ErrBadArgument, bytesPerSecond)
	}
	r.writeRate = bytesPerSecond
	c.noteFlow(r)
	return nil
}

// PDLeaderChange makes PD's leader die and another member take over, as
// the recorded real PD does (testdata/realpd, testdata/pd-cluster):
//
//   - For Config.PDElection (12 s by default) PD has no leader: every
//     request but PD's local ones (/ping, /health, /status, /version) is
//     answered 500, "[PD:apiutil:ErrRedirect]redirect failed" in plain
//     text (GET /config with the error of its forward to the dead leader),
//     as the real followers answer while they still forward to it.
//   - Then the next member leads. Until a store's next heartbeat reaches
//     it, it shows the store with the last heartbeat PD wrote to its
//     storage (it writes one every 5 minutes), so Up, Disconnected or even
//     Down by that heartbeat's age, and with capacity, available and used
//     size "0B". Running stores heartbeat within 10 s.
func (c *Cluster) PDLeaderChange() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.leaderIdx = (c.leaderIdx + 1) % len(c.members)
	c.electionEnd = c.now.Add(c.election)
	c.leaderSince = c.electionEnd
	for _, s := range c.stores {
		s.stale = true
	}
	c.pdLog.write(entry(c.now, logparse.LevelInfo, "server.go:1709", "campaign PD leader ok",
		f("campaign-leader-name", c.members[c.leaderIdx].name)))
}

// StoreLog returns a copy of a store's log so far, in the unified format.
func (c *Cluster) StoreLog(id subject.StoreID) ([]byte, error) {
	c.mu.Lock()
	s, err := c.store(id)
	c.mu.Unlock()
	if err != nil {
		return nil, err
	}
	return s.log.snapshot(), nil
}

// PDLog returns a copy of PD's log so far, in the unified format.
func (c *Cluster) PDLog() []byte { return c.pdLog.snapshot() }

// RegionLeader returns the store of a region's leader (0 when leaderless).
func (c *Cluster) RegionLeader(id subject.RegionID) (subject.StoreID, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	r := c.regions[uint64(id)]
	if r == nil {
		return 0, fmt.Errorf("%w: %d", ErrNoRegion, id)
	}
	return subject.StoreID(r.leaderStore()), nil
}

// StoreState returns a store's state as PD reports it now.
func (c *Cluster) StoreState(id subject.StoreID) (subject.StoreState, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s, err := c.store(id)
	if err != nil {
		return subject.StateUnknown, err
	}
	return subject.ParseStoreState(c.stateName(s))
}

// MetricsHandler returns the handler of a store's /metrics endpoint, for
// use without Start. It serves the store's current process's metrics,
// stopped or not.
func (c *Cluster) MetricsHandler(id subject.StoreID) (http.Handler, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, err := c.store(id); err != nil {
		return nil, err
	}
	return c.metricsHandler(uint64(id)), nil
}

// metricsHandler serves the metrics of the store's current process.
func (c *Cluster) metricsHandler(id uint64) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.mu.Lock()
		m := c.stores[id-1].metrics
		c.mu.Unlock()
		m.handler.ServeHTTP(w, r)
	})
}

// SetSlowStoreEvicted does what PD's evict-slow-store scheduler does to a
// store whose slow score reached 100 (its disk is slow): with evicted
// true, the scheduler's list (GET
// /scheduler-config/evict-slow-store-scheduler/list, "evict-stores") names
// the store and its leaders move away and stay off; with false, as once
// the score has been back at 1 for the scheduler's recovery-duration, the
// store leaves the list and may lead again. PD evicts one slow store at a
// time: evicting a second is refused with ErrBadArgument.
func (c *Cluster) SetSlowStoreEvicted(id subject.StoreID, evicted bool) error {
	return c.setPDEviction(id, evicted, &c.slowEvicted, "evict-slow-store-scheduler")
}

// SetStoppingStoreEvicted does what PD's evict-stopping-store scheduler
// does to a store that reports it is stopping (a TiKV shutting down
// gracefully): with evicted true, the scheduler's list (GET
// /scheduler-config/evict-stopping-store-scheduler/list, "evicted-stores")
// names the store and its leaders move away and stay off; with false, as
// once the store no longer reports stopping, it leaves the list: so does
// a store started again after it (StartStore: the new process does not
// report stopping), at the scheduler's next round. PD evicts one stopping
// store at a time: evicting a second is refused with ErrBadArgument.
func (c *Cluster) SetStoppingStoreEvicted(id subject.StoreID, evicted bool) error {
	err := c.setPDEviction(id, evicted, &c.stoppingEvicted, "evict-stopping-store-scheduler")
	if err == nil && evicted {
		c.mu.Lock()
		c.pdOwn.stoppingSince = c.now
		c.mu.Unlock()
	}
	return err
}

// setPDEviction sets or clears the store of one of PD's own evicting
// schedulers.
func (c *Cluster) setPDEviction(id subject.StoreID, evicted bool, slot *uint64, scheduler string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, err := c.store(id); err != nil {
		return err
	}
	switch {
	case !evicted:
		if *slot == uint64(id) {
			*slot = 0
		}
	case *slot != 0 && *slot != uint64(id):
		return fmt.Errorf("%w: %s already evicts store %d, and evicts one store at a time", ErrBadArgument, scheduler, *slot)
	default:
		*slot = uint64(id)
	}
	return nil
}
