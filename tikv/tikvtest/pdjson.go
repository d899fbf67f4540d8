package tikvtest

import (
	"encoding/hex"
	"strings"
	"time"
)

// The wire types of PD's answers. They are the simulator's own, not the
// client's: a double that shared the client's types would hide a mismatch
// in both.

type labelJSON struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// metaStoreJSON is PD's MetaStore: metapb.Store (every field omitempty, as
// gogoproto marshals it) plus state_name.
type metaStoreJSON struct {
	ID             uint64      `json:"id,omitempty"`
	Address        string      `json:"address,omitempty"`
	State          int         `json:"state,omitempty"`
	Labels         []labelJSON `json:"labels,omitempty"`
	Version        string      `json:"version,omitempty"`
	StatusAddress  string      `json:"status_address,omitempty"`
	GitHash        string      `json:"git_hash,omitempty"`
	StartTimestamp int64       `json:"start_timestamp,omitempty"`
	DeployPath     string      `json:"deploy_path,omitempty"`
	LastHeartbeat  int64       `json:"last_heartbeat,omitempty"`
	NodeState      int         `json:"node_state,omitempty"`
	StateName      string      `json:"state_name"`
}

type storeStatusJSON struct {
	Capacity              string     `json:"capacity"`
	Available             string     `json:"available"`
	UsedSize              string     `json:"used_size"`
	LeaderCount           int        `json:"leader_count"`
	LeaderWeight          float64    `json:"leader_weight"`
	LeaderScore           float64    `json:"leader_score"`
	LeaderSize            int64      `json:"leader_size"`
	RegionCount           int        `json:"region_count"`
	RegionWeight          float64    `json:"region_weight"`
	RegionScore           float64    `json:"region_score"`
	RegionSize            int64      `json:"region_size"`
	LearnerCount          int        `json:"learner_count,omitempty"`
	StartTS               *time.Time `json:"start_ts,omitempty"`
	LastHeartbeatTS       *time.Time `json:"last_heartbeat_ts,omitempty"`
	Uptime                string     `json:"uptime,omitempty"`
	PauseLeaderTransferIn bool       `json:"pause_leader_transfer_in,omitempty"`
}

type storeJSON struct {
	Store  metaStoreJSON   `json:"store"`
	Status storeStatusJSON `json:"status"`
}

type storesJSON struct {
	Count  int         `json:"count"`
	Stores []storeJSON `json:"stores"`
}

type epochJSON struct {
	ConfVer uint64 `json:"conf_ver"`
	Version uint64 `json:"version"`
}

type peerJSON struct {
	RoleName  string `json:"role_name"`
	IsLearner bool   `json:"is_learner,omitempty"`
	ID        uint64 `json:"id"`
	StoreID   uint64 `json:"store_id"`
}

type downPeerJSON struct {
	Peer        peerJSON `json:"peer"`
	DownSeconds uint64   `json:"down_seconds"`
}

type regionJSON struct {
	ID                        uint64         `json:"id"`
	StartKey                  string         `json:"start_key"`
	EndKey                    string         `json:"end_key"`
	Epoch                     epochJSON      `json:"epoch"`
	Peers                     []peerJSON     `json:"peers"`
	Leader                    *peerJSON      `json:"leader,omitempty"`
	DownPeers                 []downPeerJSON `json:"down_peers,omitempty"`
	PendingPeers              []peerJSON     `json:"pending_peers,omitempty"`
	CPUUsage                  uint64         `json:"cpu_usage"`
	WrittenBytes              uint64         `json:"written_bytes"`
	ReadBytes                 uint64         `json:"read_bytes"`
	WrittenKeys               uint64         `json:"written_keys"`
	ReadKeys                  uint64         `json:"read_keys"`
	ApproximateSize           int64          `json:"approximate_size"`
	ApproximateKeys           int64          `json:"approximate_keys"`
	ApproximateKvSize         int64          `json:"approximate_kv_size"`
	ApproximateColumnarKvSize int64          `json:"approximate_columnar_kv_size"`
}

type regionsJSON struct {
	Count   int          `json:"count"`
	Regions []regionJSON `json:"regions"`
}

// hotPeerJSON is PD's HotPeerStatShow, the element of a hotspot answer's
// statistics.
type hotPeerJSON struct {
	StoreID        uint64    `json:"store_id"`
	Stores         []uint64  `json:"stores"`
	IsLeader       bool      `json:"is_leader"`
	IsLearner      bool      `json:"is_learner"`
	RegionID       uint64    `json:"region_id"`
	HotDegree      int       `json:"hot_degree"`
	ByteRate       float64   `json:"flow_bytes"`
	KeyRate        float64   `json:"flow_keys"`
	QueryRate      float64   `json:"flow_query"`
	CPURate        float64   `json:"flow_cpu"`
	AntiCount      int       `json:"anti_count"`
	LastUpdateTime time.Time `json:"last_update_time"`
}

type hotStoreJSON struct {
	StoreByteRate  float64       `json:"store_bytes"`
	StoreKeyRate   float64       `json:"store_keys"`
	StoreQueryRate float64       `json:"store_query"`
	StoreCPURate   float64       `json:"store_cpu"`
	TotalBytesRate float64       `json:"total_flow_bytes"`
	TotalKeysRate  float64       `json:"total_flow_keys"`
	TotalQueryRate float64       `json:"total_flow_query"`
	TotalCPURate   float64       `json:"total_flow_cpu"`
	Count          int           `json:"regions_count"`
	Stats          []hotPeerJSON `json:"statistics"`
}

type hotRegionsJSON struct {
	AsPeer   map[string]*hotStoreJSON `json:"as_peer"`
	AsLeader map[string]*hotStoreJSON `json:"as_leader"`
}

type memberJSON struct {
	Name          string   `json:"name"`
	MemberID      uint64   `json:"member_id"`
	PeerURLs      []string `json:"peer_urls"`
	ClientURLs    []string `json:"client_urls"`
	DeployPath    string   `json:"deploy_path,omitempty"`
	BinaryVersion string   `json:"binary_version,omitempty"`
	GitHash       string   `json:"git_hash,omitempty"`
}

// keyHex is how PD shows keys: uppercase hex.
func keyHex(k []byte) string { return strings.ToUpper(hex.EncodeToString(k)) }

// operatorJSON is an element of GET /operators?object=true.
type operatorJSON struct {
	Desc        string    `json:"desc"`
	Brief       string    `json:"brief"`
	RegionID    uint64    `json:"region_id"`
	RegionEpoch epochJSON `json:"region_epoch"`
	Kind        int       `json:"kind"`
	Timeout     string    `json:"timeout"`
	Status      int       `json:"status"`
}
