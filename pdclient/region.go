package pdclient

// Region is a region as PD's API describes it (PD's RegionInfo in JSON).
// Keys are as PD shows them: the uppercase hex of the encoded key.
type Region struct {
	ID       uint64      `json:"id"`
	StartKey string      `json:"start_key"`
	EndKey   string      `json:"end_key"`
	Epoch    RegionEpoch `json:"epoch"`
	Peers    []Peer      `json:"peers"`
	// Leader is the zero Peer when the region has no leader.
	Leader       Peer       `json:"leader"`
	DownPeers    []PeerStat `json:"down_peers,omitempty"`
	PendingPeers []Peer     `json:"pending_peers,omitempty"`
	CPUUsage     uint64     `json:"cpu_usage"`
	WrittenBytes uint64     `json:"written_bytes"`
	ReadBytes    uint64     `json:"read_bytes"`
	WrittenKeys  uint64     `json:"written_keys"`
	ReadKeys     uint64     `json:"read_keys"`
	// ApproximateSize is in MiB.
	ApproximateSize           int64 `json:"approximate_size"`
	ApproximateKeys           int64 `json:"approximate_keys"`
	ApproximateKvSize         int64 `json:"approximate_kv_size"`
	ApproximateColumnarKvSize int64 `json:"approximate_columnar_kv_size"`
}

// RegionEpoch versions a region's membership and key range.
type RegionEpoch struct {
	ConfVer uint64 `json:"conf_ver"`
	Version uint64 `json:"version"`
}

// Peer is one replica of a region. RoleName is "Voter", "Learner",
// "IncomingVoter" or "DemotingVoter".
type Peer struct {
	RoleName  string `json:"role_name"`
	IsLearner bool   `json:"is_learner,omitempty"`
	ID        uint64 `json:"id"`
	StoreID   uint64 `json:"store_id"`
}

// PeerStat is a peer that has not answered its leader for DownSeconds.
type PeerStat struct {
	Peer        Peer   `json:"peer"`
	DownSeconds uint64 `json:"down_seconds"`
}
