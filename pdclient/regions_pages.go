package pdclient

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"iter"
	"net/http"
)

// maxRegionLimit is the most regions PD answers to one GET /regions/key:
// PD reads limit through Handler.AdjustLimit, which lowers anything above
// maxRegionLimit = 10240 to it without saying so (tikv/pd,
// pkg/schedule/handler/handler.go, called from regionsHandler.ScanRegions
// in server/api/region.go).
const maxRegionLimit = 10240

// DefaultPageSize is the number of regions AllRegions asks for per page:
// the most PD gives in one answer.
const DefaultPageSize = maxRegionLimit

// maxPooledBody is the largest regions body buffer kept for reuse: a page
// of PD's maximum, 10,240 regions, takes 6 to 10 MB; the odd answer listing
// a whole cluster is not kept.
const maxPooledBody = 16 << 20

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
	h := func(resp *http.Response, body io.Reader) error {
		buf := c.getBody()
		defer c.putBody(buf)
		b, err := readBody(resp, body, *buf)
		*buf = b
		if err != nil {
			return err
		}
		all, err := decodePage(b, plainAnswer(b), nil)
		if err != nil {
			return err
		}
		if mode != keepAll && len(all) > limit {
			if mode == refuseMore {
				return tooMany(len(all), limit)
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

func tooMany(n, limit int) error {
	return fmt.Errorf("%d regions, more than the %d asked for", n, limit)
}

// getBody and putBody lend the buffers regions answers are read into.
func (c *Client) getBody() *[]byte {
	if b, ok := c.bodies.Get().(*[]byte); ok {
		return b
	}
	return new([]byte)
}

func (c *Client) putBody(b *[]byte) {
	if cap(*b) <= maxPooledBody {
		*b = (*b)[:0]
		c.bodies.Put(b)
	}
}

// RegionsOption configures AllRegions.
type RegionsOption func(*regionsOptions)

type regionsOptions struct {
	pageSize   int
	start, end string
}

// WithPageSize sets how many regions AllRegions fetches per request, at
// most PD's maximum of 10,240 (a larger size is lowered to it, as PD would
// do); it bounds the memory the iteration holds.
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
// Pages hold DefaultPageSize regions, PD's maximum, unless WithPageSize
// says otherwise. While one page is decoded and handed out, the next one is
// already being read, then decoded, on another goroutine: the iteration
// holds at most two pages, and a caller that stops early may have caused
// the request of one page it never sees.
// Each page is read whole before any of its regions is yielded, so a page
// that is cut or malformed yields none of its regions.
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
		o.pageSize = min(o.pageSize, maxRegionLimit)
		for _, k := range []struct{ name, key string }{{"start key", o.start}, {"end key", o.end}} {
			if err := checkHexKey(k.name, k.key); err != nil {
				yield(Region{}, err)
				return
			}
		}
		p := pager{c: c, ctx: ctx, o: o}
		defer p.close()
		p.iterate(yield)
	}
}

// pager runs one AllRegions iteration: two pages, each with its body
// buffer and its list of regions, used in turn by the page the caller is
// handed and the page after it, and reused page after page (the caller
// gets copies).
type pager struct {
	c       *Client
	ctx     context.Context
	o       regionsOptions
	bufs    [2]*[]byte
	regions [2][]Region
	turn    int
	next    *pageFetch
}

// pageFetch is a page on its way, on a goroutine of its own: read whole,
// its next page's start guessed (read is closed then), then decoded (done is
// closed then). The next page is requested at read, so that while this
// page is decoded the next one is read, and then decoded too: two pages
// can be decoded at once.
type pageFetch struct {
	key    string
	turn   int // which of the pager's buffers and lists it uses
	cancel context.CancelFunc
	read   chan struct{}
	done   chan struct{}
	// Set before read is closed: the next page's start, guessed if the
	// page was read.
	guess   string
	guessed bool
	// Set before done is closed.
	regions []Region
	err     error
}

// answerInfo is what a decoding error reports of the answer.
type answerInfo struct {
	path, endpoint, contentType string
	status                      int
}

func (i answerInfo) badResponse(err error) error {
	return &ResponseError{Method: http.MethodGet, Path: i.path, Endpoint: i.endpoint, Status: i.status, ContentType: i.contentType, Err: err}
}

// fetch starts reading and decoding the page from key with the buffer and
// list whose turn it is.
func (p *pager) fetch(key string) *pageFetch {
	ctx, cancel := context.WithCancel(p.ctx)
	f := &pageFetch{key: key, turn: p.turn, cancel: cancel, read: make(chan struct{}), done: make(chan struct{})}
	p.turn = 1 - p.turn
	if p.bufs[f.turn] == nil {
		p.bufs[f.turn] = p.c.getBody()
	}
	buf, into := p.bufs[f.turn], p.regions[f.turn]
	path := apiPrefix + scanPath(key, p.o.end, p.o.pageSize)
	go func() {
		defer close(f.done)
		var (
			body  []byte
			plain bool
			from  = answerInfo{path: path}
		)
		f.err = p.c.do(ctx, request{method: http.MethodGet, path: path}, func(resp *http.Response, r io.Reader) error {
			from.endpoint = resp.Request.URL.Scheme + "://" + resp.Request.URL.Host
			from.status, from.contentType = resp.StatusCode, resp.Header.Get("Content-Type")
			var err error
			body, err = readBody(resp, r, *buf)
			*buf = body
			plain = err == nil && plainAnswer(body)
			return err
		})
		if f.err == nil {
			f.guess, f.guessed = guessNextKey(body)
		}
		close(f.read)
		if f.err != nil {
			return
		}
		var err error
		if f.regions, err = decodePage(body, plain, into); err == nil && len(f.regions) > p.o.pageSize {
			err = tooMany(len(f.regions), p.o.pageSize)
		}
		if err != nil {
			f.err = from.badResponse(err)
		}
	}()
	return f
}

// stop abandons the page, if any, and waits for its goroutine: its buffer
// and list are then free.
func (f *pageFetch) stop() {
	if f != nil {
		f.cancel()
		<-f.done
	}
}

func (p *pager) close() {
	p.next.stop()
	for _, b := range p.bufs {
		if b != nil {
			p.c.putBody(b)
		}
	}
}

// iterate yields the regions page after page, requesting each page as
// soon as the one before it is read, from its guessed start (guessNextKey),
// and again from the right one when the guess was wrong.
func (p *pager) iterate(yield func(Region, error) bool) {
	key := p.o.start
	var lastID uint64
	p.next = p.fetch(key)
	for {
		f := p.next
		<-f.read
		p.next = nil
		if f.guessed && p.continues(key, f.guess) {
			p.next = p.fetch(f.guess)
		}
		<-f.done
		f.cancel()
		if f.err != nil {
			yield(Region{}, f.err)
			return
		}
		p.regions[f.turn] = f.regions[:0] // for the page after next
		if len(f.regions) == 0 {
			return
		}
		for i := range f.regions {
			r := &f.regions[i]
			if r.ID == lastID && lastID != 0 {
				continue // the page-boundary duplicate
			}
			if r.EndKey != "" && key != "" && cmpHexKeys(r.EndKey, key) <= 0 {
				continue // ends before the page start: already seen
			}
			if p.o.end != "" && cmpHexKeys(r.StartKey, p.o.end) >= 0 {
				return // past the range asked for
			}
			lastID = r.ID
			if !yield(*r, nil) {
				return
			}
		}
		next := f.regions[len(f.regions)-1].EndKey
		if next == "" || (p.o.end != "" && cmpHexKeys(next, p.o.end) >= 0) {
			return
		}
		if key != "" && cmpHexKeys(next, key) <= 0 {
			yield(Region{}, fmt.Errorf("pdclient: AllRegions: page from key %s ends at %s: no progress: %w", key, next, ErrBadResponse))
			return
		}
		if err := checkHexKey("start key", next); err != nil {
			yield(Region{}, err)
			return
		}
		key = next
		if p.next == nil || p.next.key != next {
			p.next.stop()
			p.next = p.fetch(next)
		}
	}
}

// continues reports whether a page from next would follow the page from
// key within the range asked for, so that it is worth requesting early.
func (p *pager) continues(key, next string) bool {
	return next != "" && (key == "" || cmpHexKeys(next, key) > 0) &&
		(p.o.end == "" || cmpHexKeys(next, p.o.end) < 0) && checkHexKey("", next) == nil
}

// guessNextKey returns where the page after body starts: the end key of its
// last region, looking back from the end of the answer for the last
// "end_key" PD wrote (it writes the regions' fields in their order, end_key
// among the first). It only lets the next request start while this page is
// decoded: AllRegions compares it with the decoded page and, when it was
// wrong, drops that request and sends the right one.
func guessNextKey(body []byte) (string, bool) {
	i := bytes.LastIndex(body, endKeyField)
	if i < 0 {
		return "", false
	}
	rest := body[i+len(endKeyField):]
	j := bytes.IndexByte(rest, '"')
	if j < 0 {
		return "", false
	}
	return string(rest[:j]), true
}

var endKeyField = []byte(`"end_key":"`)
