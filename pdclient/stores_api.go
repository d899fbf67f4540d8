package pdclient

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// Stores returns the stores in the given meta states (MetaStateUp,
// MetaStateOffline, MetaStateTombstone). With no state it returns what PD
// returns by default: Up and Offline stores, tombstones excluded.
//
// PD API: GET /pd/api/v1/stores?state=0&state=1
func (c *Client) Stores(ctx context.Context, states ...int) ([]Store, error) {
	path := "/stores"
	if len(states) > 0 {
		q := make([]string, 0, len(states))
		for _, s := range states {
			if s < MetaStateUp || s > MetaStateTombstone {
				return nil, invalidArg("store meta state %d", s)
			}
			q = append(q, "state="+strconv.Itoa(s))
		}
		path += "?" + strings.Join(q, "&")
	}
	return c.getStores(ctx, path)
}

// AllStores returns every store, tombstones included.
//
// PD API: GET /pd/api/v1/stores?state=0&state=1&state=2
func (c *Client) AllStores(ctx context.Context) ([]Store, error) {
	return c.Stores(ctx, MetaStateUp, MetaStateOffline, MetaStateTombstone)
}

// StoresInState returns the stores PD sees in a state, named as PD names
// it in lower case: "up", "disconnected", "down", "offline", "tombstone",
// "preparing", "serving", "removing", "removed".
//
// PD API: GET /pd/api/v1/stores/check?state={state}
func (c *Client) StoresInState(ctx context.Context, state string) ([]Store, error) {
	if state == "" {
		return nil, invalidArg("StoresInState: empty state")
	}
	return c.getStores(ctx, "/stores/check?state="+url.QueryEscape(state))
}

// Store returns one store. A missing store is an error matching ErrNotFound.
//
// PD API: GET /pd/api/v1/store/{id}
func (c *Client) Store(ctx context.Context, id uint64) (*Store, error) {
	var out Store
	if err := c.get(ctx, storePath(id), &out); err != nil {
		return nil, err
	}
	return &out, nil
}

func storePath(id uint64) string { return "/store/" + strconv.FormatUint(id, 10) }

// SetStoreState sets a store's meta state: "Up" (which cancels an offline
// in progress) or "Offline".
//
// PD API: POST /pd/api/v1/store/{id}/state?state={state}
func (c *Client) SetStoreState(ctx context.Context, id uint64, state string) error {
	switch state {
	case "Up", "Offline":
	default:
		return invalidArg("store state %q: want Up or Offline", state)
	}
	return c.send(ctx, http.MethodPost, storePath(id)+"/state?state="+url.QueryEscape(state), nil)
}

// CancelOffline returns an Offline store to Up, cancelling its removal.
//
// PD API: POST /pd/api/v1/store/{id}/state?state=Up
func (c *Client) CancelOffline(ctx context.Context, id uint64) error {
	return c.SetStoreState(ctx, id, "Up")
}

// DeleteStore starts removing a store: PD sets it Offline and moves its
// regions away; it becomes Tombstone when empty.
//
// PD API: DELETE /pd/api/v1/store/{id}
func (c *Client) DeleteStore(ctx context.Context, id uint64) error {
	return c.send(ctx, http.MethodDelete, storePath(id), nil)
}

// SetStoreLabels sets labels on a store (merged with its others).
//
// PD API: POST /pd/api/v1/store/{id}/label
func (c *Client) SetStoreLabels(ctx context.Context, id uint64, labels map[string]string) error {
	if len(labels) == 0 {
		return invalidArg("SetStoreLabels: no labels")
	}
	return c.send(ctx, http.MethodPost, storePath(id)+"/label", labels)
}

// SetStoreWeight sets a store's leader and region weights, which scale
// its share of leaders and regions.
//
// PD API: POST /pd/api/v1/store/{id}/weight
func (c *Client) SetStoreWeight(ctx context.Context, id uint64, leader, region float64) error {
	if leader < 0 || region < 0 {
		return invalidArg("store weights %v, %v: want non-negative", leader, region)
	}
	return c.send(ctx, http.MethodPost, storePath(id)+"/weight",
		map[string]float64{"leader": leader, "region": region})
}

// StoreLimitType names a store limit: "add-peer" or "remove-peer".
type StoreLimitType string

// Store limit types.
const (
	AddPeerLimit    StoreLimitType = "add-peer"
	RemovePeerLimit StoreLimitType = "remove-peer"
)

// SetStoreLimit sets a store's rate limit, in operations per minute, for
// one type of operation, or both when typ is empty.
//
// PD API: POST /pd/api/v1/store/{id}/limit
func (c *Client) SetStoreLimit(ctx context.Context, id uint64, typ StoreLimitType, rate float64) error {
	if rate <= 0 {
		return invalidArg("store limit rate %v: want positive", rate)
	}
	body := map[string]any{"rate": rate}
	switch typ {
	case "":
	case AddPeerLimit, RemovePeerLimit:
		body["type"] = string(typ)
	default:
		return invalidArg("store limit type %q", typ)
	}
	return c.send(ctx, http.MethodPost, storePath(id)+"/limit", body)
}

// StoreLimits returns every store's rate limits, by store id.
//
// PD API: GET /pd/api/v1/stores/limit
func (c *Client) StoreLimits(ctx context.Context) (map[uint64]StoreLimit, error) {
	return getValue[map[uint64]StoreLimit](ctx, c, "/stores/limit")
}

// getStores GETs a list of stores, decoded in one pass (see storeWire and
// decodeStores).
func (c *Client) getStores(ctx context.Context, path string) ([]Store, error) {
	var out []Store
	h := func(_ *http.Response, body io.Reader) error {
		a, err := c.decodeStores(body)
		if err != nil {
			return err
		}
		out, err = a.stores()
		return err
	}
	if err := c.do(ctx, request{method: http.MethodGet, path: apiPrefix + path}, h); err != nil {
		return nil, err
	}
	return out, nil
}
