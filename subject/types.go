package subject

import (
	"fmt"
	"strconv"
	"time"
)

// StoreID identifies a store.
type StoreID uint64

// String returns the decimal id.
func (id StoreID) String() string { return strconv.FormatUint(uint64(id), 10) }

// RegionID identifies a region.
type RegionID uint64

// String returns the decimal id.
func (id RegionID) String() string { return strconv.FormatUint(uint64(id), 10) }

// StoreState is a store's state as the placement driver reports it.
//
// The zero value is StateUnknown, so that a state that was never read is not
// mistaken for any real one.
type StoreState uint8

// Store states. Up, Disconnected and Down describe heartbeats: a store
// without a heartbeat for a short while (20 s in PD) is Disconnected, and one
// silent for longer than the configured down time is Down. Offline is a store
// being drained; Tombstone a store that has been removed for good.
const (
	StateUnknown StoreState = iota
	StateUp
	StateDisconnected
	StateDown
	StateOffline
	StateTombstone
)

var storeStateNames = [...]string{"Unknown", "Up", "Disconnected", "Down", "Offline", "Tombstone"}

// String returns the state's name as PD spells it ("Up", "Down", ...).
func (s StoreState) String() string {
	if int(s) < len(storeStateNames) {
		return storeStateNames[s]
	}
	return "StoreState(" + strconv.Itoa(int(s)) + ")"
}

// ParseStoreState parses a state name as PD spells it. The match is exact
// except for letter case.
func ParseStoreState(name string) (StoreState, error) {
	for i, n := range storeStateNames {
		if i > 0 && equalFold(n, name) {
			return StoreState(i), nil
		}
	}
	return StateUnknown, fmt.Errorf("subject: unknown store state %q: %w", name, ErrInvalid)
}

// MarshalText implements encoding.TextMarshaler.
func (s StoreState) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (s *StoreState) UnmarshalText(b []byte) error {
	if string(b) == "Unknown" {
		*s = StateUnknown
		return nil
	}
	v, err := ParseStoreState(string(b))
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// NodeState is the store's place in its life cycle, finer than StoreState
// for stores being added or removed.
type NodeState uint8

// Node states. The numbering is this package's own, with 0 for a state
// never read; PD's API numbers them from 0 (Preparing) to 3 (Removed), so
// a client converts them by name or with an explicit table.
const (
	NodeUnknown NodeState = iota
	NodePreparing
	NodeServing
	NodeRemoving
	NodeRemoved
)

var nodeStateNames = [...]string{"Unknown", "Preparing", "Serving", "Removing", "Removed"}

// String returns the node state's name.
func (s NodeState) String() string {
	if int(s) < len(nodeStateNames) {
		return nodeStateNames[s]
	}
	return "NodeState(" + strconv.Itoa(int(s)) + ")"
}

// MarshalText implements encoding.TextMarshaler.
func (s NodeState) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (s *NodeState) UnmarshalText(b []byte) error {
	for i, n := range nodeStateNames {
		if equalFold(n, string(b)) {
			*s = NodeState(i)
			return nil
		}
	}
	return fmt.Errorf("subject: unknown node state %q: %w", b, ErrInvalid)
}

func equalFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// Store is one storage node.
type Store struct {
	ID StoreID `json:"id"`
	// Address is where clients reach the store.
	Address string `json:"address"`
	// StatusAddress is the store's HTTP status and metrics endpoint; it is
	// also the "instance" label of the store's metrics.
	StatusAddress string            `json:"status_address,omitempty"`
	Version       string            `json:"version,omitempty"`
	State         StoreState        `json:"state"`
	NodeState     NodeState         `json:"node_state"`
	Labels        map[string]string `json:"labels,omitempty"`
	// Capacity and Available are the disk sizes the store last reported,
	// in bytes. Zero means the store reported none (as PD shows right after
	// its leader changed), not an empty disk.
	Capacity  uint64 `json:"capacity_bytes"`
	Available uint64 `json:"available_bytes"`
	// UsedSize is the space taken by the store's data, in bytes.
	UsedSize    uint64 `json:"used_bytes"`
	LeaderCount int    `json:"leader_count"`
	RegionCount int    `json:"region_count"`
	// PendingPeerCount is how many of the store's peers PD counts as
	// pending (lagging behind their leader), as of the store's last
	// heartbeat.
	PendingPeerCount int `json:"pending_peer_count,omitempty"`
	// LastHeartbeat is when the store last reported to the placement
	// driver; zero when it never did.
	LastHeartbeat time.Time `json:"last_heartbeat"`
	// StartedAt is when the store's process started, zero when unknown.
	StartedAt time.Time `json:"started_at,omitzero"`
}

// PeerRole is a peer's role in its region's Raft group.
type PeerRole uint8

// Peer roles.
const (
	RoleVoter PeerRole = iota
	RoleLearner
	RoleIncomingVoter
	RoleDemotingVoter
)

var peerRoleNames = [...]string{"Voter", "Learner", "IncomingVoter", "DemotingVoter"}

// String returns the role's name.
func (r PeerRole) String() string {
	if int(r) < len(peerRoleNames) {
		return peerRoleNames[r]
	}
	return "PeerRole(" + strconv.Itoa(int(r)) + ")"
}

// ParsePeerRole parses a role name ("Voter", "Learner", ...).
func ParsePeerRole(name string) (PeerRole, error) {
	for i, n := range peerRoleNames {
		if equalFold(n, name) {
			return PeerRole(i), nil
		}
	}
	return 0, fmt.Errorf("subject: unknown peer role %q: %w", name, ErrInvalid)
}

// MarshalText implements encoding.TextMarshaler.
func (r PeerRole) MarshalText() ([]byte, error) { return []byte(r.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (r *PeerRole) UnmarshalText(b []byte) error {
	v, err := ParsePeerRole(string(b))
	if err != nil {
		return err
	}
	*r = v
	return nil
}

// IsVoter reports whether the peer votes, or is becoming or ceasing to be a
// voter, in its Raft group.
func (r PeerRole) IsVoter() bool { return r != RoleLearner }

// Peer is one replica of a region.
type Peer struct {
	ID    uint64   `json:"id"`
	Store StoreID  `json:"store_id"`
	Role  PeerRole `json:"role"`
}

// Epoch versions a region's membership (ConfVer) and key range (Version).
type Epoch struct {
	ConfVer uint64 `json:"conf_ver"`
	Version uint64 `json:"version"`
}

// Region is a contiguous range of keys replicated by a Raft group.
type Region struct {
	ID RegionID `json:"id"`
	// StartKey and EndKey bound the region's range [StartKey, EndKey); an
	// empty EndKey means the end of the key space. Both marshal to hex, as
	// PD prints them (see [Key]).
	StartKey Key    `json:"start_key"`
	EndKey   Key    `json:"end_key"`
	Epoch    Epoch  `json:"epoch"`
	Peers    []Peer `json:"peers"`
	// Leader is the peer that leads the region; HasLeader is false when
	// the region has none at the moment.
	Leader    Peer `json:"leader"`
	HasLeader bool `json:"has_leader"`
	// ApproximateSize is in MiB, as the stores estimate it.
	ApproximateSize uint64 `json:"approximate_size_mib"`
	ApproximateKeys uint64 `json:"approximate_keys"`
	// WrittenBytes and ReadBytes are the traffic in the last reporting
	// interval.
	WrittenBytes uint64 `json:"written_bytes"`
	ReadBytes    uint64 `json:"read_bytes"`
	WrittenKeys  uint64 `json:"written_keys"`
	ReadKeys     uint64 `json:"read_keys"`
}

// PeerOn returns the region's peer on a store, if it has one.
func (r Region) PeerOn(store StoreID) (Peer, bool) {
	for _, p := range r.Peers {
		if p.Store == store {
			return p, true
		}
	}
	return Peer{}, false
}

// HotRegion is one region's load on one store, as the placement driver's
// hot-spot statistics report it.
type HotRegion struct {
	Region   RegionID `json:"region_id"`
	Store    StoreID  `json:"store_id"`
	IsLeader bool     `json:"is_leader"`
	// BytesPerSec, KeysPerSec and QueryPerSec are the region's flow.
	BytesPerSec float64 `json:"bytes_per_sec"`
	KeysPerSec  float64 `json:"keys_per_sec"`
	QueryPerSec float64 `json:"query_per_sec"`
	// HotDegree counts how many reporting intervals in a row the region
	// was hot.
	HotDegree  int       `json:"hot_degree"`
	LastUpdate time.Time `json:"last_update,omitzero"`
}

// LimitKind names a scheduling limit.
type LimitKind uint8

// Scheduling limits.
const (
	// LeaderLimit bounds concurrent leader transfers.
	LeaderLimit LimitKind = iota + 1
	// RegionLimit bounds concurrent region (peer) moves.
	RegionLimit
	// ReplicaLimit bounds concurrent replica repairs.
	ReplicaLimit
)

var limitKindNames = [...]string{"", "leader", "region", "replica"}

// String returns "leader", "region" or "replica".
func (k LimitKind) String() string {
	if k > 0 && int(k) < len(limitKindNames) {
		return limitKindNames[k]
	}
	return "LimitKind(" + strconv.Itoa(int(k)) + ")"
}

// ParseLimitKind parses "leader", "region" or "replica".
func ParseLimitKind(name string) (LimitKind, error) {
	for i, n := range limitKindNames {
		if i > 0 && equalFold(n, name) {
			return LimitKind(i), nil
		}
	}
	return 0, fmt.Errorf("subject: unknown limit kind %q (want leader, region or replica): %w", name, ErrInvalid)
}

// MarshalText implements encoding.TextMarshaler.
func (k LimitKind) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (k *LimitKind) UnmarshalText(b []byte) error {
	v, err := ParseLimitKind(string(b))
	if err != nil {
		return err
	}
	*k = v
	return nil
}

// LeadershipChange is one change of a region's leadership, read from a log.
//
// Two kinds of line produce one: a placement driver's "leader changed" line
// names the region and the stores the leadership moved From and To; a
// store's Raft line ("became leader at term 6") names the region, the peer
// and the Role it took, on the store the log came from.
type LeadershipChange struct {
	At     time.Time `json:"at"`
	Region RegionID  `json:"region_id"`
	// From and To are the stores, zero when the line does not say.
	From StoreID `json:"from_store,omitempty"`
	To   StoreID `json:"to_store,omitempty"`
	// Peer and Term are the Raft peer and term, zero when not given.
	Peer uint64 `json:"peer_id,omitempty"`
	Term uint64 `json:"term,omitempty"`
	// Role is the Raft role taken ("leader", "follower", "candidate",
	// "pre-candidate"), empty for a placement driver's line.
	Role string `json:"role,omitempty"`
	// Source names the log the line came from.
	Source string `json:"source,omitempty"`
}

// Eviction is a store whose leaders the cluster keeps off it, and what
// keeps them off: a store two schedulers evict is two Evictions.
type Eviction struct {
	Store StoreID `json:"store_id"`
	// Scheduler is what keeps them off, as the cluster names it (PD's
	// "evict-leader-scheduler", or its own "evict-slow-store-scheduler").
	Scheduler string `json:"scheduler"`
	// By says who made the eviction, when the subject knows: [ByOperator]
	// for one this operator made, [ByCluster] for one the cluster made
	// by itself; empty when nobody can tell.
	By string `json:"by,omitempty"`
}

// The makers of an eviction, as [Eviction.By] names them.
const (
	// ByOperator: the operator made the eviction itself.
	ByOperator = "operator"
	// ByCluster: the cluster made it by itself, and lifts it by itself
	// (PD evicts a store it judges slow, or a TiKV that is stopping):
	// nobody else should remove it.
	ByCluster = "cluster"
)
