package pdclient

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"
)

// recordedRegions returns the 2,000 regions of testdata/pd/regions-all in
// key order.
func recordedRegions(t testing.TB) []Region {
	t.Helper()
	ex := loadExchange(t, "pd", "regions-all")
	all, _, err := decodeRegions(bytes.NewReader(ex.Response.Body), nil)
	require.NoError(t, err)
	require.Len(t, all, 2000)
	slices.SortFunc(all, func(a, b Region) int { return cmpHexKeys(a.StartKey, b.StartKey) })
	return all
}

// scanDouble answers GET /regions/key as PD does: the regions whose range
// contains or follows key, in key order, at most limit, in the recorded
// page shape. The recorded first page's request shape is checked too.
type scanDouble struct {
	t testing.TB

	mu        sync.Mutex
	regions   []Region
	requests  []url.Values
	afterPage func(page int, d *scanDouble) // mutates regions between pages
	extra     int                           // regions sent beyond the limit
}

func (d *scanDouble) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	d.mu.Lock()
	defer d.mu.Unlock()
	q := r.URL.Query()
	d.requests = append(d.requests, q)
	if r.URL.Path != "/pd/api/v1/regions/key" {
		d.t.Errorf("unexpected %s", r.URL.Path)
		w.WriteHeader(http.StatusNotFound)
		return
	}
	key := q.Get("key")
	if key != "" && q.Get("format") != "hex" {
		d.t.Errorf("key %q sent without format=hex: PD would read it as raw bytes", key)
	}
	limit, err := strconv.Atoi(q.Get("limit"))
	if err != nil || limit <= 0 {
		d.t.Errorf("bad limit %q", q.Get("limit"))
	}
	var page []Region
	for _, reg := range d.regions {
		if len(page) == limit+d.extra {
			break
		}
		if reg.EndKey == "" || cmpHexKeys(reg.EndKey, key) > 0 {
			page = append(page, reg)
		}
	}
	b, err := json.Marshal(map[string]any{"count": len(page), "regions": page})
	require.NoError(d.t, err)
	w.Header().Set("Content-Type", "application/octet-stream")
	_, _ = w.Write(b)
	if d.afterPage != nil {
		d.afterPage(len(d.requests), d)
	}
}

func TestAllRegions(t *testing.T) {
	all := recordedRegions(t)
	d := &scanDouble{t: t, regions: slices.Clone(all)}
	srv := newHTTPServer(t, d.ServeHTTP)
	c := newTestClient(t, srv.URL)

	var got []Region
	for r, err := range c.AllRegions(t.Context(), WithPageSize(5)) {
		require.NoError(t, err)
		got = append(got, r)
	}
	if d := cmp.Diff(all, got); d != "" {
		t.Fatalf("regions (-want +got):\n%s", d)
	}
	// Contiguous: each region starts where the previous ended.
	for i := 1; i < len(got); i++ {
		require.Equal(t, got[i-1].EndKey, got[i].StartKey, "region %d", got[i].ID)
	}
	require.Equal(t, "", got[len(got)-1].EndKey)
	require.Len(t, d.requests, 400)
	// The first page is the recorded request.
	first := loadExchange(t, "pd", "regions-key-limit5")
	u, err := url.Parse(first.Request.Path)
	require.NoError(t, err)
	require.Equal(t, u.Query(), d.requests[0])
	for _, q := range d.requests {
		require.Equal(t, "5", q.Get("limit"), "never more than a page at a time")
	}
}

func TestAllRegionsPageBoundaryDuplicate(t *testing.T) {
	all := recordedRegions(t)[:20]
	all[len(all)-1].EndKey = ""
	d := &scanDouble{t: t, regions: slices.Clone(all)}
	// After page 1 (regions 0-4), region 4 absorbs region 5: page 2
	// starts at region 4's old end, inside the merged region 4, which PD
	// returns again.
	d.afterPage = func(page int, d *scanDouble) {
		if page != 1 {
			return
		}
		d.regions[4].EndKey = d.regions[5].EndKey
		d.regions = slices.Delete(d.regions, 5, 6)
	}
	srv := newHTTPServer(t, d.ServeHTTP)
	c := newTestClient(t, srv.URL)
	var ids []uint64
	for r, err := range c.AllRegions(t.Context(), WithPageSize(5)) {
		require.NoError(t, err)
		ids = append(ids, r.ID)
	}
	var want []uint64
	for i, r := range all {
		if i != 5 {
			want = append(want, r.ID)
		}
	}
	require.Equal(t, want, ids, "each region once, the merged-away one not at all")
}

func TestAllRegionsStopsEarly(t *testing.T) {
	d := &scanDouble{t: t, regions: recordedRegions(t)}
	srv := newHTTPServer(t, d.ServeHTTP)
	c := newTestClient(t, srv.URL)
	n := 0
	for _, err := range c.AllRegions(t.Context(), WithPageSize(4)) {
		require.NoError(t, err)
		n++
		if n == 6 {
			break
		}
	}
	// Pages 1 and 2 were read; page 3 was requested while page 2 was
	// decoded, and abandoned (it may not have reached the server).
	d.mu.Lock()
	defer d.mu.Unlock()
	require.GreaterOrEqual(t, len(d.requests), 2)
	require.LessOrEqual(t, len(d.requests), 3, "never more than one page ahead")
}

// TestAllRegionsRequestsAhead checks that the next page is requested while
// the caller still handles the page before it, from the right key.
func TestAllRegionsRequestsAhead(t *testing.T) {
	all := recordedRegions(t)[:12]
	all[len(all)-1].EndKey = ""
	d := &scanDouble{t: t, regions: all}
	asked := make(chan url.Values, 10)
	srv := newHTTPServer(t, func(w http.ResponseWriter, r *http.Request) {
		d.ServeHTTP(w, r)
		asked <- r.URL.Query()
	})
	c := newTestClient(t, srv.URL)
	served := 0 // answers the test has taken from asked
	var ids []uint64
	for r, err := range c.AllRegions(t.Context(), WithPageSize(5)) {
		require.NoError(t, err)
		if page := len(ids) / 5; len(ids)%5 == 0 && page < 2 {
			// The first region of page 1 or 2: the next page has been
			// asked for already, from the end of this one.
			var q url.Values
			for served < page+2 {
				select {
				case q = <-asked:
					served++
				case <-time.After(10 * time.Second):
					t.Fatalf("page %d not requested while the caller holds region %d", page+2, r.ID)
				}
			}
			require.Equal(t, all[len(ids)+4].EndKey, q.Get("key"))
		}
		ids = append(ids, r.ID)
	}
	require.Len(t, ids, 12)
	d.mu.Lock()
	defer d.mu.Unlock()
	require.Len(t, d.requests, 3, "each page once, none past the last")
}

// TestAllRegionsWrongGuess serves pages whose last region carries an
// unknown object with its own "end_key" after its real one: the page
// requested early from that key is dropped, and the next page requested
// from the right key.
func TestAllRegionsWrongGuess(t *testing.T) {
	all := recordedRegions(t)[:9]
	all[len(all)-1].EndKey = ""
	var (
		mu   sync.Mutex
		keys []string
	)
	srv := newHTTPServer(t, func(w http.ResponseWriter, r *http.Request) {
		key := r.URL.Query().Get("key")
		mu.Lock()
		keys = append(keys, key)
		mu.Unlock()
		var page []json.RawMessage
		for _, reg := range all {
			if len(page) < 4 && (reg.EndKey == "" || cmpHexKeys(reg.EndKey, key) > 0) {
				b, err := json.Marshal(reg)
				require.NoError(t, err)
				// An unknown member after the region's fields, whose
				// end_key is not the region's.
				b = append(b[:len(b)-1], `,"buckets":{"end_key":"FFFF"}}`...)
				page = append(page, b)
			}
		}
		b, err := json.Marshal(map[string]any{"count": len(page), "regions": page})
		require.NoError(t, err)
		_, _ = w.Write(b)
	})
	c := newTestClient(t, srv.URL)
	var got []uint64
	for r, err := range c.AllRegions(t.Context(), WithPageSize(4)) {
		require.NoError(t, err)
		got = append(got, r.ID)
	}
	var want []uint64
	for _, r := range all {
		want = append(want, r.ID)
	}
	require.Equal(t, want, got)
	mu.Lock()
	defer mu.Unlock()
	var right []string
	for _, k := range keys {
		if k != "FFFF" {
			right = append(right, k)
		}
	}
	require.Equal(t, []string{"", all[3].EndKey, all[7].EndKey}, right)
}

// TestAllRegionsPageSize checks the pages asked for: PD's maximum by
// default and for anything above it, which PD would lower silently.
func TestAllRegionsPageSize(t *testing.T) {
	for _, tt := range []struct {
		name string
		opts []RegionsOption
		want string
	}{
		{"default", nil, "10240"},
		{"above PD's maximum", []RegionsOption{WithPageSize(50000)}, "10240"},
		{"smaller", []RegionsOption{WithPageSize(100)}, "100"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			d := &scanDouble{t: t, regions: recordedRegions(t)}
			c := newTestClient(t, newHTTPServer(t, d.ServeHTTP).URL)
			n := 0
			for _, err := range c.AllRegions(t.Context(), tt.opts...) {
				require.NoError(t, err)
				n++
			}
			require.Equal(t, 2000, n)
			d.mu.Lock()
			defer d.mu.Unlock()
			for _, q := range d.requests {
				require.Equal(t, tt.want, q.Get("limit"))
			}
		})
	}
}

// TestAllRegionsBadPageAfterGoodOnes: a malformed second page yields the
// first page's regions, then one error matching ErrBadResponse, and none
// of the second page's regions, even though it was read ahead.
func TestAllRegionsBadPageAfterGoodOnes(t *testing.T) {
	all := recordedRegions(t)[:10]
	for _, bad := range []struct {
		name string
		body string
	}{
		{"cut", `{"count":5,"regions":[{"id":1},{"id":`},
		{"wrong type", `{"count":1,"regions":[{"id":"x"}]}`},
		{"invalid UTF-8", "{\"count\":1,\"regions\":[{\"id\":1,\"start_key\":\"\xff\"}]}"},
	} {
		t.Run(bad.name, func(t *testing.T) {
			d := &scanDouble{t: t, regions: all}
			srv := newHTTPServer(t, func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Query().Get("key") == "" {
					d.ServeHTTP(w, r)
					return
				}
				_, _ = w.Write([]byte(bad.body))
			})
			c := newTestClient(t, srv.URL)
			var ids []uint64
			var errs []error
			for r, err := range c.AllRegions(t.Context(), WithPageSize(5)) {
				if err != nil {
					require.Zero(t, r.ID)
					errs = append(errs, err)
					continue
				}
				ids = append(ids, r.ID)
			}
			require.Len(t, ids, 5)
			require.Len(t, errs, 1)
			require.ErrorIs(t, errs[0], ErrBadResponse)
			var re *ResponseError
			require.ErrorAs(t, errs[0], &re)
			require.Equal(t, srv.URL, re.Endpoint)
			require.Equal(t, http.StatusOK, re.Status)
			require.True(t, isDecodeError(errs[0]), "a typed decoding error: %v", errs[0])
		})
	}
}

func TestAllRegionsKeyRange(t *testing.T) {
	all := recordedRegions(t)
	d := &scanDouble{t: t, regions: all}
	srv := newHTTPServer(t, d.ServeHTTP)
	c := newTestClient(t, srv.URL)
	var ids []uint64
	for r, err := range c.AllRegions(t.Context(), WithPageSize(3), WithKeyRange(all[10].StartKey, all[17].StartKey)) {
		require.NoError(t, err)
		ids = append(ids, r.ID)
	}
	var want []uint64
	for _, r := range all[10:17] {
		want = append(want, r.ID)
	}
	// The double ignores end_key; the client stops on its own.
	require.Equal(t, want, ids)
	require.Equal(t, all[17].StartKey, d.requests[0].Get("end_key"))
}

func TestAllRegionsErrors(t *testing.T) {
	all := recordedRegions(t)[:10]
	t.Run("more than the page size", func(t *testing.T) {
		d := &scanDouble{t: t, regions: all, extra: 1}
		c := newTestClient(t, newHTTPServer(t, d.ServeHTTP).URL)
		var errs []error
		for _, err := range c.AllRegions(t.Context(), WithPageSize(3)) {
			if err != nil {
				errs = append(errs, err)
			}
		}
		require.Len(t, errs, 1)
		require.ErrorIs(t, errs[0], ErrBadResponse)
	})
	t.Run("no progress", func(t *testing.T) {
		page := all[:2]
		srv := newHTTPServer(t, func(w http.ResponseWriter, r *http.Request) {
			b, _ := json.Marshal(map[string]any{"count": 2, "regions": page})
			_, _ = w.Write(b)
		})
		c := newTestClient(t, srv.URL)
		var n int
		var last error
		for _, err := range c.AllRegions(t.Context(), WithPageSize(2), WithKeyRange(all[5].StartKey, "")) {
			n++
			last = err
			require.Less(t, n, 10, "the iteration must end")
		}
		require.ErrorIs(t, last, ErrBadResponse)
	})
	t.Run("bad options", func(t *testing.T) {
		c := newTestClient(t, deadEndpoint(t))
		for _, err := range c.AllRegions(t.Context(), WithPageSize(0)) {
			require.ErrorIs(t, err, ErrBadRequest)
		}
		for _, err := range c.AllRegions(t.Context(), WithKeyRange("XYZ", "")) {
			require.ErrorIs(t, err, ErrBadRequest)
		}
	})
	t.Run("server error", func(t *testing.T) {
		srv := newRawServer(t, http.StatusInternalServerError, "application/json", `"boom"`)
		c := newTestClient(t, srv.URL)
		for r, err := range c.AllRegions(t.Context()) {
			require.Zero(t, r.ID)
			require.ErrorIs(t, err, ErrServer)
		}
	})
}

func TestRegionByKeyRequest(t *testing.T) {
	var gotURI string
	ex := loadExchange(t, "pd", "region-9-after-transfer")
	srv := newHTTPServer(t, func(w http.ResponseWriter, r *http.Request) {
		gotURI = r.URL.RequestURI()
		ex.respond(t, w)
	})
	c := newTestClient(t, srv.URL)
	key := "7480000000000000FF015F728000000000FF000000FF00000000FA"
	r, err := c.RegionByKey(t.Context(), key)
	require.NoError(t, err)
	require.Equal(t, uint64(9), r.ID)
	require.Equal(t, "/pd/api/v1/region/key/"+key+"?format=hex", gotURI)

	_, err = c.RegionByKey(t.Context(), "../../stores")
	require.ErrorIs(t, err, ErrBadRequest, "a key that is not hex never reaches a URL")
}

func TestRegionNullAnswerIsNotFound(t *testing.T) {
	srv := newRawServer(t, http.StatusOK, "application/json", "null")
	c := newTestClient(t, srv.URL)
	_, err := c.RegionByID(t.Context(), 5)
	require.ErrorIs(t, err, ErrNotFound)
}

func TestDecodeRegions(t *testing.T) {
	page := loadExchange(t, "pd", "regions-key-limit5").Response.Body
	tests := []struct {
		name    string
		body    string
		want    int
		wantErr bool
	}{
		{"recorded page", string(page), 5, false},
		{"null regions", `{"count":2000,"regions":null}`, 0, false},
		{"empty", `{"count":0,"regions":[]}`, 0, false},
		{"unknown keys skipped", `{"x":[1,{"a":2}],"regions":[{"id":3}],"y":null}`, 1, false},
		{"truncated", string(page[:len(page)/2]), 0, true},
		{"empty body", ``, 0, true},
		{"not an object", `[1,2]`, 0, true},
		{"regions not an array", `{"regions":{"id":1}}`, 0, true},
		{"wrong type", `{"regions":[{"id":"nine"}]}`, 0, true},
		{"trailing data", `{"regions":[]} {}`, 0, true},
		{"html", `<html><body>502 Bad Gateway</body></html>`, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _, err := decodeRegions(strings.NewReader(tt.body), nil)
			if tt.wantErr {
				require.Error(t, err)
				require.Nil(t, got, "nothing of a bad answer is returned")
				return
			}
			require.NoError(t, err)
			require.Len(t, got, tt.want)
		})
	}
}

func TestHexKeyOrder(t *testing.T) {
	keys := [][]byte{{}, {0}, {0, 0}, {0, 1}, {9}, {0x0a}, {0x7f, 0xff}, {0x80}, {0xff}, {0xff, 0}}
	for i := 1; i < len(keys); i++ {
		a, b := strings.ToUpper(hex.EncodeToString(keys[i-1])), hex.EncodeToString(keys[i])
		require.Equal(t, bytes.Compare(keys[i-1], keys[i]), cmpHexKeys(a, b), fmt.Sprintf("%s vs %s", a, b))
	}
}
