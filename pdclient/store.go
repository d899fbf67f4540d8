package pdclient

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/kvops/operator/subject"
)

// Store is one store as PD's /stores and /store/{id} answers describe it:
// its metadata and its last reported status.
type Store struct {
	Meta   StoreMeta   `json:"store"`
	Status StoreStatus `json:"status"`
}

// StoreLabel is one key=value label of a store.
type StoreLabel struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// Meta states of a store, as PD numbers them in the /stores?state= filter
// and in a store's "state" field. They are coarser than StateName.
const (
	MetaStateUp        = 0
	MetaStateOffline   = 1
	MetaStateTombstone = 2
)

// StoreMeta is the "store" half of PD's answer.
type StoreMeta struct {
	ID            uint64       `json:"id"`
	Address       string       `json:"address"`
	Labels        []StoreLabel `json:"labels,omitempty"`
	Version       string       `json:"version,omitempty"`
	StatusAddress string       `json:"status_address,omitempty"`
	GitHash       string       `json:"git_hash,omitempty"`
	DeployPath    string       `json:"deploy_path,omitempty"`
	// State is the meta state (MetaStateUp, MetaStateOffline,
	// MetaStateTombstone); PD omits it when it is Up.
	State int `json:"state,omitempty"`
	// StateName is PD's view: "Up", "Disconnected", "Down", "Offline",
	// "Tombstone", ...
	StateName string `json:"state_name"`
	// NodeState is PD's node state number: 0 Preparing, 1 Serving,
	// 2 Removing, 3 Removed.
	NodeState int `json:"node_state"`
	// LastHeartbeat is the store's last heartbeat (PD sends unix
	// nanoseconds); zero when there was none.
	LastHeartbeat time.Time `json:"-"`
	// StartTimestamp is the store process's start, in unix seconds.
	StartTimestamp int64 `json:"start_timestamp,omitempty"`
}

type storeMetaJSON StoreMeta

type storeMetaWire struct {
	storeMetaJSON
	LastHeartbeat int64 `json:"last_heartbeat"`
}

// UnmarshalJSON reads PD's store metadata; last_heartbeat is unix nanos.
func (m *StoreMeta) UnmarshalJSON(b []byte) error {
	var w storeMetaWire
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*m = w.meta()
	return nil
}

func (w *storeMetaWire) meta() StoreMeta {
	m := StoreMeta(w.storeMetaJSON)
	m.LastHeartbeat = unixNanos(w.LastHeartbeat)
	return m
}

// storeWire is a Store as PD sends it, for decoding a list of stores in
// one pass: the UnmarshalJSON methods of StoreMeta and StoreStatus each
// decode their object once more, which for the /stores answer of a
// thousand stores costs more CPU than the rest of an evaluation.
type storeWire struct {
	Meta   storeMetaWire   `json:"store"`
	Status storeStatusWire `json:"status"`
}

func (w *storeWire) store() (Store, error) {
	st, err := w.Status.status()
	return Store{Meta: w.Meta.meta(), Status: st}, err
}

// MarshalJSON writes the metadata in PD's shape.
func (m StoreMeta) MarshalJSON() ([]byte, error) {
	var ns int64
	if !m.LastHeartbeat.IsZero() {
		ns = m.LastHeartbeat.UnixNano()
	}
	return json.Marshal(storeMetaWire{storeMetaJSON(m), ns})
}

func unixNanos(ns int64) time.Time {
	if ns <= 0 {
		return time.Time{}
	}
	return time.Unix(0, ns).UTC()
}

// NodeStateName names NodeState: "Preparing", "Serving", "Removing",
// "Removed", or "NodeState(n)".
func (m StoreMeta) NodeStateName() string {
	names := [...]string{"Preparing", "Serving", "Removing", "Removed"}
	if m.NodeState >= 0 && m.NodeState < len(names) {
		return names[m.NodeState]
	}
	return fmt.Sprintf("NodeState(%d)", m.NodeState)
}

// StoreStatus is the "status" half of PD's answer. PD writes sizes as
// strings ("836.5GiB"): the *Text fields keep them as sent and Capacity,
// Available and UsedSize hold them in bytes.
type StoreStatus struct {
	Capacity      uint64 `json:"-"`
	Available     uint64 `json:"-"`
	UsedSize      uint64 `json:"-"`
	CapacityText  string `json:"capacity"`
	AvailableText string `json:"available"`
	UsedSizeText  string `json:"used_size"`

	LeaderCount  int     `json:"leader_count"`
	LeaderWeight float64 `json:"leader_weight"`
	LeaderScore  float64 `json:"leader_score"`
	// LeaderSize and RegionSize are in MiB.
	LeaderSize         int64   `json:"leader_size"`
	RegionCount        int     `json:"region_count"`
	RegionWeight       float64 `json:"region_weight"`
	RegionScore        float64 `json:"region_score"`
	RegionSize         int64   `json:"region_size"`
	LearnerCount       int     `json:"learner_count,omitempty"`
	WitnessCount       int     `json:"witness_count,omitempty"`
	PendingPeerCount   int     `json:"pending_peer_count,omitempty"`
	SlowScore          uint64  `json:"slow_score,omitempty"`
	SendingSnapCount   uint32  `json:"sending_snap_count,omitempty"`
	ReceivingSnapCount uint32  `json:"receiving_snap_count,omitempty"`
	IsBusy             bool    `json:"is_busy,omitempty"`
	// PauseLeaderTransferIn is set while an evict-leader scheduler (or
	// another) keeps leaders off the store.
	PauseLeaderTransferIn  bool `json:"pause_leader_transfer_in,omitempty"`
	PauseLeaderTransferOut bool `json:"pause_leader_transfer_out,omitempty"`
	// StartTS is when the store started; PD's simulator reports the unix
	// epoch.
	StartTS time.Time `json:"start_ts"`
	// LastHeartbeatTS is the last heartbeat, as RFC 3339 in PD's answer.
	LastHeartbeatTS time.Time `json:"last_heartbeat_ts"`
	// Uptime is PD's uptime string parsed ("498828h36m6.5s").
	Uptime time.Duration `json:"-"`
}

type storeStatusJSON StoreStatus

type storeStatusWire struct {
	storeStatusJSON
	Uptime string `json:"uptime,omitempty"`
}

// UnmarshalJSON reads PD's store status and parses its sizes and uptime.
func (s *StoreStatus) UnmarshalJSON(b []byte) error {
	var w storeStatusWire
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	st, err := w.status()
	if err != nil {
		return err
	}
	*s = st
	return nil
}

func (w *storeStatusWire) status() (StoreStatus, error) {
	s := StoreStatus(w.storeStatusJSON)
	for _, f := range []struct {
		name string
		text string
		out  *uint64
	}{
		{"capacity", s.CapacityText, &s.Capacity},
		{"available", s.AvailableText, &s.Available},
		{"used_size", s.UsedSizeText, &s.UsedSize},
	} {
		if f.text == "" {
			continue
		}
		v, err := ParseSize(f.text)
		if err != nil {
			return s, fmt.Errorf("store status %s: %w", f.name, err)
		}
		*f.out = v
	}
	if w.Uptime != "" {
		d, err := time.ParseDuration(w.Uptime)
		if err != nil {
			return s, fmt.Errorf("store status uptime: %w", err)
		}
		s.Uptime = d
	}
	return s, nil
}

// MarshalJSON writes the status in PD's shape.
func (s StoreStatus) MarshalJSON() ([]byte, error) {
	w := storeStatusWire{storeStatusJSON: storeStatusJSON(s)}
	if s.Uptime != 0 {
		w.Uptime = s.Uptime.String()
	}
	return json.Marshal(w)
}

// Subject converts the store to the shared vocabulary. Its state comes from
// StateName; an unknown name is an error. Labels become a map; the last
// heartbeat is the status's RFC 3339 time, or the metadata's when absent;
// a start time at the unix epoch (as PD's simulator reports) is unknown.
func (s Store) Subject() (subject.Store, error) {
	state, err := subject.ParseStoreState(s.Meta.StateName)
	if err != nil {
		return subject.Store{}, fmt.Errorf("pdclient: store %d: %w", s.Meta.ID, err)
	}
	out := subject.Store{
		ID:            subject.StoreID(s.Meta.ID),
		Address:       s.Meta.Address,
		StatusAddress: s.Meta.StatusAddress,
		Version:       s.Meta.Version,
		State:         state,
		// subject numbers node states from 1 (0 is unknown); PD from 0.
		NodeState:        subject.NodeState(s.Meta.NodeState + 1),
		Capacity:         s.Status.Capacity,
		Available:        s.Status.Available,
		UsedSize:         s.Status.UsedSize,
		LeaderCount:      s.Status.LeaderCount,
		RegionCount:      s.Status.RegionCount,
		LastHeartbeat:    s.Status.LastHeartbeatTS,
		PendingPeerCount: s.Status.PendingPeerCount,
	}
	if s.Meta.NodeState < 0 || s.Meta.NodeState > 3 {
		out.NodeState = subject.NodeUnknown
	}
	if out.LastHeartbeat.IsZero() || out.LastHeartbeat.Unix() <= 0 {
		out.LastHeartbeat = s.Meta.LastHeartbeat
	}
	if t := s.Status.StartTS; t.Unix() > 0 {
		out.StartedAt = t
	} else if s.Meta.StartTimestamp > 0 {
		out.StartedAt = time.Unix(s.Meta.StartTimestamp, 0).UTC()
	}
	if len(s.Meta.Labels) > 0 {
		out.Labels = make(map[string]string, len(s.Meta.Labels))
		for _, l := range s.Meta.Labels {
			out.Labels[l.Key] = l.Value
		}
	}
	return out, nil
}

// storesAnswer is the body of GET /stores and /stores/check.
type storesAnswer struct {
	Count  int         `json:"count"`
	Stores []storeWire `json:"stores"`
}

func (a *storesAnswer) stores() ([]Store, error) {
	out := make([]Store, len(a.Stores))
	for i := range a.Stores {
		var err error
		if out[i], err = a.Stores[i].store(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// StoreLimit is a store's scheduling rate limits, in operations per minute.
type StoreLimit struct {
	AddPeer    float64 `json:"add-peer"`
	RemovePeer float64 `json:"remove-peer"`
}
