package pdclient

import (
	"context"
	"math"
	"net/http"
	"strconv"
	"time"
)

// Health returns the health of every member.
//
// PD API: GET /pd/api/v1/health
func (c *Client) Health(ctx context.Context) ([]MemberHealth, error) {
	return getValue[[]MemberHealth](ctx, c, "/health")
}

// Ping checks that a PD member answers.
//
// PD API: GET /pd/api/v1/ping
func (c *Client) Ping(ctx context.Context) error {
	return c.do(ctx, request{method: http.MethodGet, path: apiPrefix + "/ping"}, discard)
}

// Members returns PD's members and leader. It also updates the client's
// endpoints, leader first.
//
// PD API: GET /pd/api/v1/members
func (c *Client) Members(ctx context.Context) (*Members, error) {
	var out Members
	if err := c.get(ctx, "/members", &out); err != nil {
		return nil, err
	}
	c.setMembers(&out)
	return &out, nil
}

// Leader returns the PD leader.
//
// PD API: GET /pd/api/v1/leader
func (c *Client) Leader(ctx context.Context) (*Member, error) {
	return getPtr[Member](ctx, c, "/leader")
}

// Version returns PD's version.
//
// PD API: GET /pd/api/v1/version
func (c *Client) Version(ctx context.Context) (*Version, error) {
	return getPtr[Version](ctx, c, "/version")
}

// Status returns PD's build and start time.
//
// PD API: GET /pd/api/v1/status
func (c *Client) Status(ctx context.Context) (*Status, error) {
	return getPtr[Status](ctx, c, "/status")
}

// Cluster returns the cluster's id and replica count.
//
// PD API: GET /pd/api/v1/cluster
func (c *Client) Cluster(ctx context.Context) (*Cluster, error) {
	return getPtr[Cluster](ctx, c, "/cluster")
}

// ClusterStatus returns when the cluster was bootstrapped and whether it
// is initialized.
//
// PD API: GET /pd/api/v1/cluster/status
func (c *Client) ClusterStatus(ctx context.Context) (*ClusterStatus, error) {
	return getPtr[ClusterStatus](ctx, c, "/cluster/status")
}

// Config returns PD's whole configuration.
//
// PD API: GET /pd/api/v1/config
func (c *Client) Config(ctx context.Context) (*ServerConfig, error) {
	return getPtr[ServerConfig](ctx, c, "/config")
}

// ScheduleConfig returns PD's schedule configuration.
//
// PD API: GET /pd/api/v1/config/schedule
func (c *Client) ScheduleConfig(ctx context.Context) (*ScheduleConfig, error) {
	return getPtr[ScheduleConfig](ctx, c, "/config/schedule")
}

// SetScheduleConfig changes schedule settings, keyed as PD names them
// ("leader-schedule-limit").
//
// PD API: POST /pd/api/v1/config/schedule
func (c *Client) SetScheduleConfig(ctx context.Context, settings map[string]any) error {
	return c.send(ctx, http.MethodPost, "/config/schedule", settings)
}

// ReplicationConfig returns PD's replication configuration.
//
// PD API: GET /pd/api/v1/config/replicate
func (c *Client) ReplicationConfig(ctx context.Context) (*ReplicationConfig, error) {
	return getPtr[ReplicationConfig](ctx, c, "/config/replicate")
}

// SetReplicationConfig changes replication settings ("max-replicas").
//
// PD API: POST /pd/api/v1/config/replicate
func (c *Client) SetReplicationConfig(ctx context.Context, settings map[string]any) error {
	return c.send(ctx, http.MethodPost, "/config/replicate", settings)
}

// SetConfig changes any settings of PD's configuration, keyed as PD names
// them. PD refuses an unknown key or a value of the wrong type with an
// error matching ErrBadRequest.
//
// PD API: POST /pd/api/v1/config
func (c *Client) SetConfig(ctx context.Context, settings map[string]any) error {
	if len(settings) == 0 {
		return invalidArg("SetConfig: no settings")
	}
	return c.send(ctx, http.MethodPost, "/config", settings)
}

// SetLeaderScheduleLimit sets how many leader transfers PD runs at once.
//
// PD API: POST /pd/api/v1/config {"leader-schedule-limit": n}
func (c *Client) SetLeaderScheduleLimit(ctx context.Context, n uint64) error {
	return c.SetConfig(ctx, map[string]any{"leader-schedule-limit": n})
}

// SetRegionScheduleLimit sets how many region moves PD runs at once.
//
// PD API: POST /pd/api/v1/config {"region-schedule-limit": n}
func (c *Client) SetRegionScheduleLimit(ctx context.Context, n uint64) error {
	return c.SetConfig(ctx, map[string]any{"region-schedule-limit": n})
}

// SetReplicaScheduleLimit sets how many replica repairs PD runs at once.
//
// PD API: POST /pd/api/v1/config {"replica-schedule-limit": n}
func (c *Client) SetReplicaScheduleLimit(ctx context.Context, n uint64) error {
	return c.SetConfig(ctx, map[string]any{"replica-schedule-limit": n})
}

// SetLowSpaceRatio sets the disk usage ratio (0 < r < 1) above which PD
// stops moving data to a store. PD refuses a ratio not above the
// high-space-ratio (ErrBadRequest).
//
// PD API: POST /pd/api/v1/config {"low-space-ratio": r}
func (c *Client) SetLowSpaceRatio(ctx context.Context, r float64) error {
	if err := checkRatio("low-space-ratio", r); err != nil {
		return err
	}
	return c.SetConfig(ctx, map[string]any{"low-space-ratio": r})
}

// SetHighSpaceRatio sets the disk usage ratio (0 < r < 1) below which PD
// treats a store as having plenty of space.
//
// PD API: POST /pd/api/v1/config {"high-space-ratio": r}
func (c *Client) SetHighSpaceRatio(ctx context.Context, r float64) error {
	if err := checkRatio("high-space-ratio", r); err != nil {
		return err
	}
	return c.SetConfig(ctx, map[string]any{"high-space-ratio": r})
}

func checkRatio(name string, r float64) error {
	if math.IsNaN(r) || r <= 0 || r >= 1 {
		return invalidArg("%s %v: want 0 < ratio < 1", name, r)
	}
	return nil
}

// SetHaltScheduling turns PD's halt-scheduling on or off: PD's own kill
// switch. While it is on, PD runs no scheduler and no checker (its
// scheduler and checker controllers skip their rounds), so evict-leader,
// balance-leader and a drain's replica moves stop; admin operators
// (POST /operators) are still created and run (recorded in
// testdata/pd-maintenance). PD shows it in /config/schedule only while
// it is on (ScheduleConfig.HaltScheduling).
//
// PD API: POST /pd/api/v1/config {"halt-scheduling": "true"}
func (c *Client) SetHaltScheduling(ctx context.Context, on bool) error {
	// PD's field is a bool with the ",string" tag: it takes "true" or
	// "false" and refuses a JSON bool with 400.
	return c.SetConfig(ctx, map[string]any{"halt-scheduling": strconv.FormatBool(on)})
}

// SetMaxStoreDownTime sets how long a store may miss heartbeats before PD
// marks it Down and starts replacing its replicas.
//
// PD API: POST /pd/api/v1/config {"max-store-down-time": "30m0s"}
func (c *Client) SetMaxStoreDownTime(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return invalidArg("max-store-down-time %v: want a positive duration", d)
	}
	return c.SetConfig(ctx, map[string]any{"max-store-down-time": d.String()})
}
