package pdclient

import (
	"cmp"
	"context"
	"encoding/hex"
	"fmt"
	"net/url"
	"strconv"
)

// RegionByID returns one region. A missing region is an error matching
// ErrNotFound.
//
// PD API: GET /pd/api/v1/region/id/{id}
func (c *Client) RegionByID(ctx context.Context, id uint64) (*Region, error) {
	var out *Region
	if err := c.get(ctx, "/region/id/"+strconv.FormatUint(id, 10), &out); err != nil {
		return nil, err
	}
	if out == nil || out.ID == 0 {
		return nil, fmt.Errorf("pdclient: region %d: %w", id, ErrNotFound)
	}
	return out, nil
}

// RegionByKey returns the region whose range contains key, given as PD
// shows keys: the hex of the encoded key. The empty key is the start of
// the key space.
//
// PD API: GET /pd/api/v1/region/key/{key}?format=hex
func (c *Client) RegionByKey(ctx context.Context, key string) (*Region, error) {
	if err := checkHexKey("key", key); err != nil {
		return nil, err
	}
	if key == "" {
		rs, err := c.ScanRegions(ctx, "", "", 1)
		if err != nil {
			return nil, err
		}
		if len(rs) == 0 {
			return nil, fmt.Errorf("pdclient: region for the first key: %w", ErrNotFound)
		}
		return &rs[0], nil
	}
	var out *Region
	if err := c.get(ctx, "/region/key/"+url.PathEscape(key)+"?format=hex", &out); err != nil {
		return nil, err
	}
	if out == nil || out.ID == 0 {
		return nil, fmt.Errorf("pdclient: region for key %s: %w", key, ErrNotFound)
	}
	return out, nil
}

func checkHexKey(name, key string) error {
	if _, err := hex.DecodeString(key); err != nil {
		return invalidArg("%s %q is not hex: %v", name, key, err)
	}
	return nil
}

// RegionCount returns the number of regions in the cluster.
//
// PD API: GET /pd/api/v1/regions/count
func (c *Client) RegionCount(ctx context.Context) (int, error) {
	out, err := getValue[struct {
		Count int `json:"count"`
	}](ctx, c, "/regions/count")
	return out.Count, err
}

// Regions returns every region in one answer. The answer must fit in
// Config.MaxResponseBytes; AllRegions pages instead and suits any cluster.
//
// PD API: GET /pd/api/v1/regions
func (c *Client) Regions(ctx context.Context) ([]Region, error) {
	return c.regions(ctx, "/regions", 0, keepAll)
}

// ScanRegions returns at most limit regions whose range contains or
// follows startKey, stopping before endKey ("" for no end). Keys are hex,
// as PD shows them.
//
// PD API: GET /pd/api/v1/regions/key?key={start}&end_key={end}&format=hex&limit={limit}
func (c *Client) ScanRegions(ctx context.Context, startKey, endKey string, limit int) ([]Region, error) {
	if err := checkHexKey("start key", startKey); err != nil {
		return nil, err
	}
	if err := checkHexKey("end key", endKey); err != nil {
		return nil, err
	}
	if limit <= 0 {
		return nil, invalidArg("ScanRegions: limit %d: want positive", limit)
	}
	return c.regions(ctx, scanPath(startKey, endKey, limit), limit, refuseMore)
}

// scanPath is the path of GET /regions/key from startKey to endKey (hex),
// limit regions at most.
func scanPath(startKey, endKey string, limit int) string {
	q := "key=" + url.QueryEscape(startKey)
	if endKey != "" {
		q += "&end_key=" + url.QueryEscape(endKey)
	}
	if startKey != "" || endKey != "" {
		q += "&format=hex"
	}
	return "/regions/key?" + q + "&limit=" + strconv.Itoa(limit)
}

// RegionsByStore returns the regions with a peer on a store, at most limit
// of them (no limit when limit ≤ 0). PD v8.5 ignores the limit and sends
// them all; the client keeps the first limit regions.
//
// PD API: GET /pd/api/v1/regions/store/{id}?limit={limit}
func (c *Client) RegionsByStore(ctx context.Context, storeID uint64, limit int) ([]Region, error) {
	path := "/regions/store/" + strconv.FormatUint(storeID, 10)
	if limit > 0 {
		path += "?limit=" + strconv.Itoa(limit)
	}
	if limit <= 0 {
		return c.regions(ctx, path, 0, keepAll)
	}
	return c.regions(ctx, path, limit, truncate)
}

// TopBy names what TopRegions ranks regions by.
type TopBy string

// Rankings for TopRegions.
const (
	TopWriteFlow TopBy = "writeflow"
	TopReadFlow  TopBy = "readflow"
	TopConfVer   TopBy = "confver"
	TopVersion   TopBy = "version"
	TopSize      TopBy = "size"
	TopKeys      TopBy = "keys"
	TopCPU       TopBy = "cpu"
)

// TopRegions returns the limit regions ranking highest by one measure,
// highest first.
//
// PD API: GET /pd/api/v1/regions/{writeflow|readflow|confver|version|size|keys|cpu}?limit={limit}
func (c *Client) TopRegions(ctx context.Context, by TopBy, limit int) ([]Region, error) {
	switch by {
	case TopWriteFlow, TopReadFlow, TopConfVer, TopVersion, TopSize, TopKeys, TopCPU:
	default:
		return nil, invalidArg("TopRegions: unknown ranking %q", by)
	}
	if limit <= 0 {
		return nil, invalidArg("TopRegions: limit %d: want positive", limit)
	}
	return c.regions(ctx, "/regions/"+string(by)+"?limit="+strconv.Itoa(limit), limit, truncate)
}

// RegionCheck names an unhealthy-region check of PD.
type RegionCheck string

// Region checks.
const (
	CheckMissPeer         RegionCheck = "miss-peer"
	CheckExtraPeer        RegionCheck = "extra-peer"
	CheckPendingPeer      RegionCheck = "pending-peer"
	CheckDownPeer         RegionCheck = "down-peer"
	CheckLearnerPeer      RegionCheck = "learner-peer"
	CheckOfflinePeer      RegionCheck = "offline-peer"
	CheckEmptyRegion      RegionCheck = "empty-region"
	CheckOversizedRegion  RegionCheck = "oversized-region"
	CheckUndersizedRegion RegionCheck = "undersized-region"
)

// CheckRegions returns the regions failing one of PD's checks (regions
// with a down peer, a missing peer, ...).
//
// PD API: GET /pd/api/v1/regions/check/{check}
func (c *Client) CheckRegions(ctx context.Context, check RegionCheck) ([]Region, error) {
	switch check {
	case CheckMissPeer, CheckExtraPeer, CheckPendingPeer, CheckDownPeer, CheckLearnerPeer,
		CheckOfflinePeer, CheckEmptyRegion, CheckOversizedRegion, CheckUndersizedRegion:
	default:
		return nil, invalidArg("CheckRegions: unknown check %q", check)
	}
	return c.regions(ctx, "/regions/check/"+string(check), 0, keepAll)
}

// HotWriteRegions returns the regions PD sees as hot for writes.
//
// PD API: GET /pd/api/v1/hotspot/regions/write
func (c *Client) HotWriteRegions(ctx context.Context) (*HotRegions, error) {
	return getPtr[HotRegions](ctx, c, "/hotspot/regions/write")
}

// HotReadRegions returns the regions PD sees as hot for reads.
//
// PD API: GET /pd/api/v1/hotspot/regions/read
func (c *Client) HotReadRegions(ctx context.Context) (*HotRegions, error) {
	return getPtr[HotRegions](ctx, c, "/hotspot/regions/read")
}

// HotStores returns each store's read and write rates.
//
// PD API: GET /pd/api/v1/hotspot/stores
func (c *Client) HotStores(ctx context.Context) (*HotStores, error) {
	return getPtr[HotStores](ctx, c, "/hotspot/stores")
}

// cmpHexKeys compares two hex keys in the order of the bytes they encode:
// upper-case hex of bytes sorts like the bytes themselves, so the keys are
// compared as if upper-cased, without making copies.
func cmpHexKeys(a, b string) int {
	for i := range min(len(a), len(b)) {
		if ca, cb := upperASCII(a[i]), upperASCII(b[i]); ca != cb {
			return cmp.Compare(ca, cb)
		}
	}
	return cmp.Compare(len(a), len(b))
}

func upperASCII(c byte) byte {
	if 'a' <= c && c <= 'z' {
		return c - ('a' - 'A')
	}
	return c
}
