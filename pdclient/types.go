package pdclient

import (
	"encoding/json"
	"slices"
	"time"
)

// Member is one PD member, as /members and /leader describe it.
type Member struct {
	Name          string   `json:"name"`
	MemberID      uint64   `json:"member_id"`
	PeerURLs      []string `json:"peer_urls"`
	ClientURLs    []string `json:"client_urls"`
	DeployPath    string   `json:"deploy_path,omitempty"`
	BinaryVersion string   `json:"binary_version,omitempty"`
	GitHash       string   `json:"git_hash,omitempty"`
}

// Members is the answer of GET /members.
type Members struct {
	Header struct {
		ClusterID uint64 `json:"cluster_id"`
	} `json:"header"`
	Members []Member `json:"members"`
	// Leader is the PD leader; EtcdLeader the leader of PD's embedded
	// etcd (normally the same member).
	Leader     Member `json:"leader"`
	EtcdLeader Member `json:"etcd_leader"`
}

// MemberHealth is one member's entry in GET /health.
type MemberHealth struct {
	Name       string   `json:"name"`
	MemberID   uint64   `json:"member_id"`
	ClientURLs []string `json:"client_urls"`
	Health     bool     `json:"health"`
}

// Version is the answer of GET /version.
type Version struct {
	Version   string `json:"version"`
	BuildTime string `json:"build_time"`
	Hash      string `json:"hash"`
	Branch    string `json:"branch"`
}

// Status is the answer of GET /status.
type Status struct {
	BuildTS        string `json:"build_ts"`
	Version        string `json:"version"`
	GitHash        string `json:"git_hash"`
	StartTimestamp int64  `json:"start_timestamp"`
	KernelType     string `json:"kernel_type,omitempty"`
}

// Cluster is the answer of GET /cluster.
type Cluster struct {
	ID           uint64 `json:"id"`
	MaxPeerCount int    `json:"max_peer_count"`
}

// ClusterStatus is the answer of GET /cluster/status.
type ClusterStatus struct {
	RaftBootstrapTime time.Time `json:"raft_bootstrap_time"`
	IsInitialized     bool      `json:"is_initialized"`
	ReplicationStatus string    `json:"replication_status"`
}

// HotRegions is the answer of GET /hotspot/regions/write and
// /hotspot/regions/read: per store, its hot peers (AsPeer) and the hot
// regions it leads (AsLeader).
type HotRegions struct {
	AsPeer   map[uint64]HotStoreStats `json:"as_peer"`
	AsLeader map[uint64]HotStoreStats `json:"as_leader"`
}

// HotStoreStats is one store's hot-spot summary; flows are per second.
type HotStoreStats struct {
	StoreBytes     float64       `json:"store_bytes"`
	StoreKeys      float64       `json:"store_keys"`
	StoreQuery     float64       `json:"store_query"`
	StoreCPU       float64       `json:"store_cpu"`
	TotalFlowBytes float64       `json:"total_flow_bytes"`
	TotalFlowKeys  float64       `json:"total_flow_keys"`
	TotalFlowQuery float64       `json:"total_flow_query"`
	TotalFlowCPU   float64       `json:"total_flow_cpu"`
	RegionsCount   int           `json:"regions_count"`
	Statistics     []HotPeerStat `json:"statistics"`
}

// HotPeerStat is one hot peer; flows are per second.
type HotPeerStat struct {
	StoreID   uint64   `json:"store_id"`
	Stores    []uint64 `json:"stores"`
	IsLeader  bool     `json:"is_leader"`
	IsLearner bool     `json:"is_learner"`
	RegionID  uint64   `json:"region_id"`
	// HotDegree counts the reporting intervals in a row the peer was hot.
	HotDegree      int       `json:"hot_degree"`
	FlowBytes      float64   `json:"flow_bytes"`
	FlowKeys       float64   `json:"flow_keys"`
	FlowQuery      float64   `json:"flow_query"`
	FlowCPU        float64   `json:"flow_cpu"`
	AntiCount      int       `json:"anti_count"`
	LastUpdateTime time.Time `json:"last_update_time"`
}

// HotStores is the answer of GET /hotspot/stores: per store id, rates per
// second.
type HotStores struct {
	BytesWriteRate map[uint64]float64 `json:"bytes-write-rate"`
	BytesReadRate  map[uint64]float64 `json:"bytes-read-rate"`
	KeysWriteRate  map[uint64]float64 `json:"keys-write-rate"`
	KeysReadRate   map[uint64]float64 `json:"keys-read-rate"`
	QueryWriteRate map[uint64]float64 `json:"query-write-rate"`
	QueryReadRate  map[uint64]float64 `json:"query-read-rate"`
	CPUReadRate    map[uint64]float64 `json:"cpu-read-rate"`
}

// KeyRange is a range of keys, as PD's hex strings.
type KeyRange struct {
	StartKey string `json:"start-key"`
	EndKey   string `json:"end-key"`
}

// EvictLeaderConfig is the answer of GET
// /scheduler-config/evict-leader-scheduler/list: the stores whose leaders
// are evicted, with the key ranges concerned.
type EvictLeaderConfig struct {
	StoreIDRanges map[uint64][]KeyRange `json:"store-id-ranges"`
	Batch         int                   `json:"batch"`
}

// Stores returns the ids of the stores whose leaders are evicted, in
// ascending order.
func (e EvictLeaderConfig) Stores() []uint64 {
	ids := make([]uint64, 0, len(e.StoreIDRanges))
	for id := range e.StoreIDRanges {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// ScheduleConfig is PD's schedule configuration (GET /config/schedule),
// with the settings an operator tunes typed. Raw keeps the whole object
// as PD sent it, for the settings not listed here.
type ScheduleConfig struct {
	MaxSnapshotCount            uint64                `json:"max-snapshot-count"`
	MaxPendingPeerCount         uint64                `json:"max-pending-peer-count"`
	MaxMergeRegionSize          uint64                `json:"max-merge-region-size"`
	MaxMergeRegionKeys          uint64                `json:"max-merge-region-keys"`
	SplitMergeInterval          Duration              `json:"split-merge-interval"`
	PatrolRegionInterval        Duration              `json:"patrol-region-interval"`
	MaxStoreDownTime            Duration              `json:"max-store-down-time"`
	MaxStorePreparingTime       Duration              `json:"max-store-preparing-time"`
	LeaderScheduleLimit         uint64                `json:"leader-schedule-limit"`
	LeaderSchedulePolicy        string                `json:"leader-schedule-policy"`
	RegionScheduleLimit         uint64                `json:"region-schedule-limit"`
	ReplicaScheduleLimit        uint64                `json:"replica-schedule-limit"`
	MergeScheduleLimit          uint64                `json:"merge-schedule-limit"`
	HotRegionScheduleLimit      uint64                `json:"hot-region-schedule-limit"`
	TolerantSizeRatio           float64               `json:"tolerant-size-ratio"`
	LowSpaceRatio               float64               `json:"low-space-ratio"`
	HighSpaceRatio              float64               `json:"high-space-ratio"`
	EnableRemoveDownReplica     bool                  `json:"enable-remove-down-replica,string"`
	EnableReplaceOfflineReplica bool                  `json:"enable-replace-offline-replica,string"`
	EnableMakeUpReplica         bool                  `json:"enable-make-up-replica,string"`
	EnableRemoveExtraReplica    bool                  `json:"enable-remove-extra-replica,string"`
	EnableLocationReplacement   bool                  `json:"enable-location-replacement,string"`
	DefaultStoreLimit           StoreLimit            `json:"default-store-limit"`
	StoreLimit                  map[uint64]StoreLimit `json:"store-limit"`
	// HaltScheduling is PD's kill switch (see Client.SetHaltScheduling);
	// PD lists it only while it is on.
	HaltScheduling bool `json:"halt-scheduling,omitempty,string"`

	Raw json.RawMessage `json:"-"`
}

type scheduleConfigJSON ScheduleConfig

// UnmarshalJSON decodes the typed settings and keeps the raw object.
func (s *ScheduleConfig) UnmarshalJSON(b []byte) error {
	var w scheduleConfigJSON
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*s = ScheduleConfig(w)
	s.Raw = append(json.RawMessage(nil), b...)
	return nil
}

// ReplicationConfig is PD's replication configuration
// (GET /config/replicate).
type ReplicationConfig struct {
	MaxReplicas               uint64 `json:"max-replicas"`
	LocationLabels            string `json:"location-labels"`
	StrictlyMatchLabel        bool   `json:"strictly-match-label,string"`
	EnablePlacementRules      bool   `json:"enable-placement-rules,string"`
	EnablePlacementRulesCache bool   `json:"enable-placement-rules-cache,string"`
	IsolationLevel            string `json:"isolation-level"`
}

// ServerConfig is the answer of GET /config: PD's whole configuration,
// with the schedule and replication sections typed and every section kept
// raw in Raw.
type ServerConfig struct {
	Schedule    ScheduleConfig             `json:"schedule"`
	Replication ReplicationConfig          `json:"replication"`
	Raw         map[string]json.RawMessage `json:"-"`
}

type serverConfigJSON ServerConfig

// UnmarshalJSON decodes the typed sections and keeps all of them raw.
func (s *ServerConfig) UnmarshalJSON(b []byte) error {
	var w serverConfigJSON
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	*s = ServerConfig(w)
	s.Raw = raw
	return nil
}

// Duration is a duration PD writes as a Go duration string ("30m0s").
type Duration time.Duration

// UnmarshalJSON parses a Go duration string.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// MarshalJSON writes a Go duration string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }
