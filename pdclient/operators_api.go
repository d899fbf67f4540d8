package pdclient

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// Operators returns the operators PD is running, as PD describes them: one
// string per operator ("balance-leader-scheduler {transfer leader: store 5
// to 3} (kind:leader, region:541(1, 1), ...)").
//
// PD API: GET /pd/api/v1/operators
func (c *Client) Operators(ctx context.Context) ([]string, error) {
	return getValue[[]string](ctx, c, "/operators")
}

// Operator returns the status of the latest operator on a region, as PD
// describes it ("status: SUCCESS, operator: admin-transfer-leader ...").
// A region without one is an error matching ErrNotFound.
//
// PD API: GET /pd/api/v1/operators/{region_id}
func (c *Client) Operator(ctx context.Context, regionID uint64) (string, error) {
	return getValue[string](ctx, c, "/operators/"+strconv.FormatUint(regionID, 10))
}

// OperatorStatus returns the region's latest operator and its status,
// parsed from PD's answer. The latest operator may be a scheduler's that
// came after the one the caller made: compare Desc and CreateAt with what
// the caller expects. A region that never had one is an error matching
// ErrNotFound.
//
// PD API: GET /pd/api/v1/operators/{region_id}
func (c *Client) OperatorStatus(ctx context.Context, regionID uint64) (OperatorStatus, error) {
	s, err := c.Operator(ctx, regionID)
	if err != nil {
		return OperatorStatus{}, err
	}
	return ParseOperatorStatus(s)
}

// PendingOperators returns the operators PD is running, as objects.
//
// PD API: GET /pd/api/v1/operators?object=true
func (c *Client) PendingOperators(ctx context.Context) ([]PendingOperator, error) {
	return getValue[[]PendingOperator](ctx, c, "/operators?object=true")
}

// OperatorRecords returns the operators finished since from (all PD keeps
// when from is zero), as PD describes them.
//
// PD API: GET /pd/api/v1/operators/records?from={unix seconds}
func (c *Client) OperatorRecords(ctx context.Context, from time.Time) ([]string, error) {
	path := "/operators/records"
	if !from.IsZero() {
		path += "?from=" + strconv.FormatInt(from.Unix(), 10)
	}
	return getValue[[]string](ctx, c, path)
}

// CancelOperator cancels the operator running on a region. A region
// without one is an error matching ErrNotFound.
//
// PD API: DELETE /pd/api/v1/operators/{region_id}
func (c *Client) CancelOperator(ctx context.Context, regionID uint64) error {
	return c.send(ctx, http.MethodDelete, "/operators/"+strconv.FormatUint(regionID, 10), nil)
}

// OperatorRequest is the body of POST /operators. Name selects the
// operator; the other fields are those it needs (zero fields are omitted).
// The typed methods (TransferLeader, SplitRegion, ...) fill it.
type OperatorRequest struct {
	Name           string   `json:"name"`
	RegionID       uint64   `json:"region_id,omitempty"`
	ToStoreID      uint64   `json:"to_store_id,omitempty"`
	FromStoreID    uint64   `json:"from_store_id,omitempty"`
	StoreID        uint64   `json:"store_id,omitempty"`
	ToStoreIDs     []uint64 `json:"to_store_ids,omitempty"`
	PeerRoles      []string `json:"peer_roles,omitempty"`
	SourceRegionID uint64   `json:"source_region_id,omitempty"`
	TargetRegionID uint64   `json:"target_region_id,omitempty"`
	Policy         string   `json:"policy,omitempty"`
	Keys           []string `json:"keys,omitempty"`
	Group          string   `json:"group,omitempty"`
}

// CreateOperator asks PD to create an operator. PD refuses an unknown
// name or a missing field (ErrBadRequest), a missing region
// (ErrNotFound), and a move the region's state does not allow
// (ErrPrecondition).
//
// PD API: POST /pd/api/v1/operators
func (c *Client) CreateOperator(ctx context.Context, op OperatorRequest) error {
	if op.Name == "" {
		return invalidArg("CreateOperator: no name")
	}
	return c.send(ctx, http.MethodPost, "/operators", op)
}

// TransferLeader moves a region's leadership to its peer on a store.
//
// PD API: POST /pd/api/v1/operators {"name":"transfer-leader",...}
func (c *Client) TransferLeader(ctx context.Context, regionID, toStore uint64) error {
	return c.CreateOperator(ctx, OperatorRequest{Name: "transfer-leader", RegionID: regionID, ToStoreID: toStore})
}

// TransferRegion moves a region's peers to the given stores. With
// placement rules on, PD needs a role per store ("voter", "leader",
// "follower", "learner"); roles may be nil otherwise.
//
// PD API: POST /pd/api/v1/operators {"name":"transfer-region",...}
func (c *Client) TransferRegion(ctx context.Context, regionID uint64, toStores []uint64, roles []string) error {
	if len(toStores) == 0 {
		return invalidArg("TransferRegion: no stores")
	}
	if roles != nil && len(roles) != len(toStores) {
		return invalidArg("TransferRegion: %d roles for %d stores", len(roles), len(toStores))
	}
	return c.CreateOperator(ctx, OperatorRequest{Name: "transfer-region", RegionID: regionID, ToStoreIDs: toStores, PeerRoles: roles})
}

// TransferPeer moves a region's peer from one store to another.
//
// PD API: POST /pd/api/v1/operators {"name":"transfer-peer",...}
func (c *Client) TransferPeer(ctx context.Context, regionID, fromStore, toStore uint64) error {
	return c.CreateOperator(ctx, OperatorRequest{Name: "transfer-peer", RegionID: regionID, FromStoreID: fromStore, ToStoreID: toStore})
}

// AddPeer adds a peer of a region on a store.
//
// PD API: POST /pd/api/v1/operators {"name":"add-peer",...}
func (c *Client) AddPeer(ctx context.Context, regionID, store uint64) error {
	return c.CreateOperator(ctx, OperatorRequest{Name: "add-peer", RegionID: regionID, StoreID: store})
}

// RemovePeer removes a region's peer from a store.
//
// PD API: POST /pd/api/v1/operators {"name":"remove-peer",...}
func (c *Client) RemovePeer(ctx context.Context, regionID, store uint64) error {
	return c.CreateOperator(ctx, OperatorRequest{Name: "remove-peer", RegionID: regionID, StoreID: store})
}

// SplitPolicy is how PD picks the split key of a region.
type SplitPolicy string

// Split policies.
const (
	// SplitApproximate splits at the middle the store estimates.
	SplitApproximate SplitPolicy = "approximate"
	// SplitScan scans the region for the exact middle.
	SplitScan SplitPolicy = "scan"
	// SplitUseKey splits at the given keys.
	SplitUseKey SplitPolicy = "usekey"
)

// SplitRegion splits a region. With SplitUseKey, keys (hex, as PD shows
// them) are the split points; the other policies take none.
//
// PD API: POST /pd/api/v1/operators {"name":"split-region",...}
func (c *Client) SplitRegion(ctx context.Context, regionID uint64, policy SplitPolicy, keys ...string) error {
	switch policy {
	case SplitApproximate, SplitScan:
		if len(keys) > 0 {
			return invalidArg("SplitRegion: policy %s takes no keys", policy)
		}
	case SplitUseKey:
		if len(keys) == 0 {
			return invalidArg("SplitRegion: policy usekey needs keys")
		}
		for _, k := range keys {
			if err := checkHexKey("split key", k); err != nil {
				return err
			}
		}
	default:
		return invalidArg("SplitRegion: unknown policy %q", policy)
	}
	return c.CreateOperator(ctx, OperatorRequest{Name: "split-region", RegionID: regionID, Policy: string(policy), Keys: keys})
}

// MergeRegion merges a region into an adjacent one.
//
// PD API: POST /pd/api/v1/operators {"name":"merge-region",...}
func (c *Client) MergeRegion(ctx context.Context, sourceRegion, targetRegion uint64) error {
	return c.CreateOperator(ctx, OperatorRequest{Name: "merge-region", SourceRegionID: sourceRegion, TargetRegionID: targetRegion})
}

// ScatterRegion spreads a region's peers across stores.
//
// PD API: POST /pd/api/v1/operators {"name":"scatter-region",...}
func (c *Client) ScatterRegion(ctx context.Context, regionID uint64) error {
	return c.CreateOperator(ctx, OperatorRequest{Name: "scatter-region", RegionID: regionID})
}

// Schedulers returns the names of the schedulers PD runs.
//
// PD API: GET /pd/api/v1/schedulers
func (c *Client) Schedulers(ctx context.Context) ([]string, error) {
	return getValue[[]string](ctx, c, "/schedulers")
}

// CreateScheduler starts a scheduler by name ("evict-leader-scheduler",
// "grant-leader-scheduler", "balance-hot-region-scheduler", ...) with the
// arguments it takes ({"store_id": 1}).
//
// PD API: POST /pd/api/v1/schedulers
func (c *Client) CreateScheduler(ctx context.Context, name string, args map[string]any) error {
	if name == "" {
		return invalidArg("CreateScheduler: no name")
	}
	body := make(map[string]any, len(args)+1)
	for k, v := range args {
		body[k] = v
	}
	body["name"] = name
	return c.send(ctx, http.MethodPost, "/schedulers", body)
}

// EvictLeader moves every leader off a store and keeps them off until
// RemoveEvictLeader. Calling it again for the same store is accepted.
//
// PD API: POST /pd/api/v1/schedulers {"name":"evict-leader-scheduler","store_id":N}
func (c *Client) EvictLeader(ctx context.Context, store uint64) error {
	return c.CreateScheduler(ctx, "evict-leader-scheduler", map[string]any{"store_id": store})
}

// GrantLeader moves every leader it can to a store.
//
// PD API: POST /pd/api/v1/schedulers {"name":"grant-leader-scheduler","store_id":N}
func (c *Client) GrantLeader(ctx context.Context, store uint64) error {
	return c.CreateScheduler(ctx, "grant-leader-scheduler", map[string]any{"store_id": store})
}

// DeleteScheduler stops a scheduler. For schedulers that run per store,
// name the store's instance: "evict-leader-scheduler-1". A scheduler that
// does not run is an error matching ErrNotFound.
//
// PD API: DELETE /pd/api/v1/schedulers/{name}
func (c *Client) DeleteScheduler(ctx context.Context, name string) error {
	if name == "" {
		return invalidArg("DeleteScheduler: no name")
	}
	return c.send(ctx, http.MethodDelete, "/schedulers/"+url.PathEscape(name), nil)
}

// RemoveEvictLeader undoes EvictLeader for one store.
//
// PD API: DELETE /pd/api/v1/schedulers/evict-leader-scheduler-{store}
func (c *Client) RemoveEvictLeader(ctx context.Context, store uint64) error {
	return c.DeleteScheduler(ctx, "evict-leader-scheduler-"+strconv.FormatUint(store, 10))
}

// EvictLeaderConfig returns the stores the evict-leader scheduler empties
// of leaders. When no evict-leader scheduler runs, PD answers with an
// error.
//
// PD API: GET /pd/api/v1/scheduler-config/evict-leader-scheduler/list
func (c *Client) EvictLeaderConfig(ctx context.Context) (*EvictLeaderConfig, error) {
	return getPtr[EvictLeaderConfig](ctx, c, "/scheduler-config/evict-leader-scheduler/list")
}
