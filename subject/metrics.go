package subject

import (
	"encoding/json"
	"math"
	"strconv"
	"time"
)

// Value is a metric reading that may be unknown. Unknown is not zero: a
// store that reports no write latency has not got a latency of 0 s, and a
// check must not treat it as healthy or unhealthy.
//
// The zero Value is unknown, with no reason given.
type Value struct {
	v      float64
	known  bool
	nan    bool
	reason string
}

// Known returns a known reading. NaN and ±Inf are not readings: Known turns
// them into unknown values that say so.
func Known(v float64) Value {
	switch {
	case math.IsNaN(v):
		return Value{reason: "value is NaN", nan: true}
	case math.IsInf(v, 0):
		return Unknown("value is infinite")
	}
	return Value{v: v, known: true}
}

// Unknown returns an unknown reading and why it is unknown.
func Unknown(reason string) Value { return Value{reason: reason} }

// Get returns the reading and whether it is known.
func (v Value) Get() (float64, bool) { return v.v, v.known }

// Known reports whether the reading is known.
func (v Value) Known() bool { return v.known }

// Float returns the reading, or def when it is unknown.
func (v Value) Float(def float64) float64 {
	if v.known {
		return v.v
	}
	return def
}

// IsNaN reports whether the reading is unknown because its source gave
// NaN (Known(math.NaN())). From Prometheus, a quantile of a histogram is
// NaN when the histogram counted no observation in the rate window: for a
// latency, the store served no request of the kind. Other unknown
// readings (a missing series, a failed query) are not NaN.
func (v Value) IsNaN() bool { return v.nan }

// Reason says why the reading is unknown; it is empty for a known reading.
func (v Value) Reason() string { return v.reason }

// String formats the reading, or "unknown (reason)".
func (v Value) String() string {
	if v.known {
		return strconv.FormatFloat(v.v, 'g', -1, 64)
	}
	if v.reason == "" {
		return "unknown"
	}
	return "unknown (" + v.reason + ")"
}

// MarshalJSON writes a known reading as a number and an unknown one as null.
func (v Value) MarshalJSON() ([]byte, error) {
	if !v.known {
		return []byte("null"), nil
	}
	return strconv.AppendFloat(nil, v.v, 'g', -1, 64), nil
}

// UnmarshalJSON reads a number, or null as unknown.
func (v *Value) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*v = Unknown("null in JSON")
		return nil
	}
	var f float64
	if err := json.Unmarshal(b, &f); err != nil {
		return err
	}
	*v = Known(f)
	return nil
}

// StoreMetrics are one store's readings at one instant. Latencies are in
// seconds, sizes in bytes and CPU in cores (1 = one core fully busy).
type StoreMetrics struct {
	Store StoreID `json:"store_id"`
	// Instance is the series label the readings were taken from, usually
	// the store's status address.
	Instance string    `json:"instance"`
	At       time.Time `json:"at"`
	// WriteLatencyP99 is the 99th percentile of the storage engine's write
	// latency.
	WriteLatencyP99 Value `json:"write_latency_p99_seconds"`
	// GRPCLatencyP99 is the 99th percentile of gRPC message latency.
	GRPCLatencyP99 Value `json:"grpc_latency_p99_seconds"`
	DiskCapacity   Value `json:"disk_capacity_bytes"`
	DiskAvailable  Value `json:"disk_available_bytes"`
	// CPU is the store process's CPU use; CPUQuota the cores it may use.
	CPU      Value `json:"cpu_cores"`
	CPUQuota Value `json:"cpu_quota_cores"`
	// RaftstoreCPU is the CPU use of the Raft store threads.
	RaftstoreCPU Value `json:"raftstore_cpu_cores"`
	LeaderCount  Value `json:"leader_count"`
	RegionCount  Value `json:"region_count"`
	// Restarts counts process restarts in the recent window.
	Restarts Value `json:"restarts"`
}

// DiskUsed returns capacity minus available space.
func (m StoreMetrics) DiskUsed() Value {
	c, ok1 := m.DiskCapacity.Get()
	a, ok2 := m.DiskAvailable.Get()
	switch {
	case !ok1:
		return Unknown("disk capacity unknown: " + m.DiskCapacity.Reason())
	case !ok2:
		return Unknown("disk available unknown: " + m.DiskAvailable.Reason())
	}
	return Known(c - a)
}

// DiskUsage returns the fraction of the disk in use, from 0 to 1.
func (m StoreMetrics) DiskUsage() Value {
	used := m.DiskUsed()
	u, ok := used.Get()
	if !ok {
		return used
	}
	c, _ := m.DiskCapacity.Get()
	if c <= 0 {
		return Unknown("disk capacity is zero")
	}
	return Known(u / c)
}

// CPUUsage returns CPU use as a fraction of the quota, from 0 to 1.
func (m StoreMetrics) CPUUsage() Value {
	c, ok1 := m.CPU.Get()
	q, ok2 := m.CPUQuota.Get()
	switch {
	case !ok1:
		return Unknown("cpu unknown: " + m.CPU.Reason())
	case !ok2:
		return Unknown("cpu quota unknown: " + m.CPUQuota.Reason())
	case q <= 0:
		return Unknown("cpu quota is zero")
	}
	return Known(c / q)
}

// ClusterMetrics are cluster-wide counts at one instant.
type ClusterMetrics struct {
	At time.Time `json:"at"`
	// Stores counts stores by state.
	Stores map[StoreState]int `json:"stores"`
	// RegionCount is the number of regions in the cluster.
	RegionCount int `json:"region_count"`
	// Leaders and Regions count, per store, the leaders and the peers it
	// holds.
	Leaders map[StoreID]int `json:"leaders"`
	Regions map[StoreID]int `json:"regions"`
	// Capacity and Available add up the stores' disks, in bytes.
	Capacity  uint64 `json:"capacity_bytes"`
	Available uint64 `json:"available_bytes"`
}
