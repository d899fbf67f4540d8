package pdclient

import (
	"cmp"
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"iter"
	"net/http"
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
	q := "key=" + url.QueryEscape(startKey)
	if endKey != "" {
		q += "&end_key=" + url.QueryEscape(endKey)
	}
	if startKey != "" || endKey != "" {
		q += "&format=hex"
	}
	q += "&limit=" + strconv.Itoa(limit)
	return c.regions(ctx, "/regions/key?"+q, limit, refuseMore)
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

// Answers to a regions request with more regions than asked for.
const (
	// keepAll collects every region.
	keepAll = iota
	// refuseMore fails on the region past the limit: paging relies on PD
	// honouring it, and memory must stay bounded.
	refuseMore
	// truncate keeps the first regions up to the limit and reads past the
	// rest: PD v8.5 ignores limit on /regions/store/{id} (the recorded
	// answer to limit=3 lists 1,002 regions).
	truncate
)

// regions GETs a regions body and collects it, applying limit as mode
// says.
func (c *Client) regions(ctx context.Context, path string, limit, mode int) ([]Region, error) {
	var out []Region
	h := func(_ *http.Response, body io.Reader) error {
		buf, _ := c.bodies.Get().(*[]byte)
		if buf == nil {
			buf = new([]byte)
		}
		all, b, err := decodeRegions(body, *buf)
		if cap(b) <= maxPooledBody {
			*buf = b
			c.bodies.Put(buf)
		}
		if err != nil {
			return err
		}
		if mode != keepAll && len(all) > limit {
			if mode == refuseMore {
				return fmt.Errorf("%d regions, more than the %d asked for", len(all), limit)
			}
			all = all[:limit:limit]
		}
		out = all
		return nil
	}
	if err := c.do(ctx, request{method: http.MethodGet, path: apiPrefix + path}, h); err != nil {
		return nil, err
	}
	return out, nil
}

// maxPooledBody is the largest regions body buffer kept for reuse: many
// pages of AllRegions, not the odd answer listing a whole cluster.
const maxPooledBody = 4 << 20

// DefaultPageSize is the number of regions AllRegions asks for per page.
const DefaultPageSize = 256

// RegionsOption configures AllRegions.
type RegionsOption func(*regionsOptions)

type regionsOptions struct {
	pageSize   int
	start, end string
}

// WithPageSize sets how many regions AllRegions fetches per request; it
// bounds the memory the iteration holds.
func WithPageSize(n int) RegionsOption { return func(o *regionsOptions) { o.pageSize = n } }

// WithKeyRange limits AllRegions to the regions overlapping
// [start, end), keys in hex ("" for no bound).
func WithKeyRange(start, end string) RegionsOption {
	return func(o *regionsOptions) { o.start, o.end = start, end }
}

// AllRegions iterates over every region in key order, fetching them a
// page at a time, so that memory stays bounded whatever the cluster's size.
// It pages through /regions/key from the empty key, continuing from each
// page's last end key until a region ends the key space (end key ""). A
// region that PD returns again at a page boundary (its range contains the
// next page's start key: regions merged between two pages) is yielded once.
//
// An error ends the iteration; it is yielded with a zero Region.
//
// PD API: GET /pd/api/v1/regions/key?key={hex}&format=hex&limit={n}
func (c *Client) AllRegions(ctx context.Context, opts ...RegionsOption) iter.Seq2[Region, error] {
	o := regionsOptions{pageSize: DefaultPageSize}
	for _, opt := range opts {
		opt(&o)
	}
	return func(yield func(Region, error) bool) {
		if o.pageSize <= 0 {
			yield(Region{}, invalidArg("AllRegions: page size %d: want positive", o.pageSize))
			return
		}
		key := o.start
		var lastID uint64
		for {
			page, err := c.ScanRegions(ctx, key, o.end, o.pageSize)
			if err != nil {
				yield(Region{}, err)
				return
			}
			if len(page) == 0 {
				return
			}
			for _, r := range page {
				if r.ID == lastID && lastID != 0 {
					continue // the page-boundary duplicate
				}
				if r.EndKey != "" && key != "" && cmpHexKeys(r.EndKey, key) <= 0 {
					continue // ends before the page start: already seen
				}
				if o.end != "" && cmpHexKeys(r.StartKey, o.end) >= 0 {
					return // past the range asked for
				}
				lastID = r.ID
				if !yield(r, nil) {
					return
				}
			}
			next := page[len(page)-1].EndKey
			if next == "" || (o.end != "" && cmpHexKeys(next, o.end) >= 0) {
				return
			}
			if key != "" && cmpHexKeys(next, key) <= 0 {
				yield(Region{}, fmt.Errorf("pdclient: AllRegions: page from key %s ends at %s: no progress: %w", key, next, ErrBadResponse))
				return
			}
			key = next
		}
	}
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
