package tikvtest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/kvops/operator/tikv/record"
)

// ReplayConfig configures a [Replay]. The zero value of each field takes
// the default documented on it.
type ReplayConfig struct {
	// Start is the replay clock's first time; the entries up to it are
	// applied at NewReplay. By default, the time of the recording's first
	// PD answer or read of the regions (its first evaluation, a little
	// after Header.Start on a real clock), or Header.Start when it has
	// none. Before Header.Start is [ErrBadArgument].
	Start time.Time
	// Logger receives the replay's debug messages (requests it cannot
	// answer from the recording); discarded by default.
	Logger *slog.Logger
}

// Replay serves a recording ([record.Reader], as package tikv/record
// writes it) as PD's HTTP API at the replay's clock: each request is
// answered as PD answered it at the latest recorded time not after the
// clock. A recorder writes an answer only when it differs from the last
// one of its path, so the latest recorded answer is PD's answer until the
// next one. The clock starts at the recording's start and only moves
// forward ([Replay.SetTime], [Replay.Advance]); the replay reads the
// recording as the clock moves and holds only the current state (the
// latest answer of each request, the current regions), never the whole
// file.
//
// A replay is read-only: its handler refuses every write (any method but
// GET and HEAD) with 403 Forbidden, a refusal pdclient reports as not
// applied, and nothing it serves ever changes but by the clock.
//
// Answers, under /pd/api/v1 (and /pd/api/v2):
//
//   - a GET recorded with the same path and query (in any order) answers
//     the recorded status, Content-Type and body: JSON as it was, or, for
//     an answer recorded as text (record.PD.Text: PD's http.Error
//     answers, "404 page not found\n"), the text. In /members, /leader
//     and /health, every member's client_urls is rewritten to the
//     replay's own URL, as a lone PD member advertises its own, so that a
//     client learning the members comes back to the replay and never goes
//     to the recorded cluster. A recording without content types (older
//     or hand-made) is served JSON, the region answers
//     application/octet-stream as PD types them.
//   - an answer recorded as an error (record.PD.Error: no PD member
//     answered) is no answer: the handler aborts the request
//     (panic(http.ErrAbortHandler)), so that net/http closes the
//     connection without a response and a client sees what it saw then,
//     a broken connection (pdclient: a *TransportError, which matches
//     subject.ErrUnavailable), rather than any status PD never sent. When
//     every answer recorded at the latest evaluation is such an error, PD
//     was down: every request that is not recorded (the region endpoints,
//     the stores derived below, the paths never recorded) is aborted too.
//     A caller calling the handler in-process recovers http.ErrAbortHandler.
//   - the region endpoints are rebuilt from the recorded reads of the
//     regions (a whole read, then what changed), each read applied once
//     its last line (record.Regions.Done) is read; a read that failed part
//     way (its last line carries an Error) is ignored, and the regions
//     stay as the last whole read left them. With PD's shapes: /regions,
//     /regions/count, /regions/key (key, end_key, format=hex, limit),
//     /regions/store/{id}, /region/id/{id}, /regions/check/down-peer,
//     /regions/check/pending-peer and /regions/check/miss-peer (fewer
//     than 3 voters). A recorded answer to one of them wins.
//   - GET /stores, which a recorder leaves out (see record.DefaultPaths),
//     is the latest answer to all the states (?state=0&state=1&state=2)
//     without the Tombstone stores, as PD answers it; any other ?state=
//     is that answer filtered by those states; /store/{id} is the store's
//     object in it (404 with PD's message when it is not there). When
//     that answer is a failure, these answer the same failure.
//     /operators/{region_id} is PD's "operator not found" when the latest
//     /operators answer lists no operator of that region.
//   - anything else was not recorded: 404 "404 page not found", as PD
//     answers a path it does not serve.
//
// Its methods are safe for concurrent use.
type Replay struct {
	log *slog.Logger

	mu      sync.Mutex
	rd      *record.Reader
	hdr     record.Header
	now     time.Time
	pending *record.Entry // read, and later than now
	done    bool          // the end line was read
	err     error         // the reader's error, kept
	pd      map[string]*record.PD
	stores  *record.PD // the latest GET /stores answer for all the states
	ops     *record.PD // the latest GET /operators answer, any query
	lastAt  time.Time  // the time of the latest PD line
	end     time.Time  // the end line's time, once read
	down    bool       // every PD line at lastAt is an error: PD was down
	regions regionState
}

// NewReplay reads the header of the recording rd reads and applies its
// entries up to cfg.Start. The caller keeps rd's file open for as long as
// the replay's clock moves, and closes it after.
//
// Errors: [ErrBadArgument] for a Start before the recording's start;
// the reader's errors (record.ErrTruncated, *record.SyntaxError), which
// match subject.ErrInvalid.
func NewReplay(rd *record.Reader, cfg ReplayConfig) (*Replay, error) {
	if rd == nil {
		return nil, fmt.Errorf("%w: no recording", ErrBadArgument)
	}
	h := rd.Header()
	first := cfg.Start.IsZero()
	if first {
		cfg.Start = h.Start
	}
	if cfg.Start.Before(h.Start) {
		return nil, fmt.Errorf("%w: replay start %v is before the recording's start %v", ErrBadArgument, cfg.Start, h.Start)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	r := &Replay{log: cfg.Logger, rd: rd, hdr: h, now: cfg.Start, pd: map[string]*record.PD{}}
	if err := r.apply(); err != nil {
		return nil, err
	}
	if first && r.pending != nil && len(r.pd) == 0 && !r.regions.seen {
		// Nothing at Header.Start: start at the first evaluation.
		r.now = r.pending.At()
		if err := r.apply(); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// Header is the recording's header.
func (r *Replay) Header() record.Header { return r.hdr }

// Now is the replay's clock: the time whose answers it serves.
func (r *Replay) Now() time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.now
}

// SetTime moves the clock to t and applies every entry recorded up to it.
// The clock never goes back: a t before [Replay.Now] is ErrBadArgument and
// changes nothing. When the recording cannot be read further (cut short:
// record.ErrTruncated; a line that does not decode: *record.SyntaxError;
// regions that do not add up: ErrBadArgument) the clock moves all the
// same, the replay keeps serving what it read before, and the error is
// returned, now and by every later call.
func (r *Replay) SetTime(t time.Time) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if t.Before(r.now) {
		return fmt.Errorf("%w: replay time %v is before its clock %v: a replay only moves forward", ErrBadArgument, t, r.now)
	}
	r.now = t
	return r.apply()
}

// Advance moves the clock forward by d, as SetTime(Now()+d).
func (r *Replay) Advance(d time.Duration) error {
	if d < 0 {
		return fmt.Errorf("%w: Advance(%v): a replay only moves forward", ErrBadArgument, d)
	}
	r.mu.Lock()
	t := r.now.Add(d)
	r.mu.Unlock()
	return r.SetTime(t)
}

// Ended returns where the recording actually ended (its end line's time,
// at most the header's planned End) once the replay has read every answer
// it holds: from then on, moving the clock changes nothing.
func (r *Replay) Ended() (time.Time, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.end, r.done && !r.end.IsZero()
}

// Err is the error reading the recording stopped at, nil while it reads
// (and after its end line was read and checked).
func (r *Replay) Err() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err
}

// apply applies the entries up to r.now. r.mu is held.
func (r *Replay) apply() error {
	for {
		if r.err != nil {
			return r.err
		}
		if r.pending == nil {
			if r.done {
				return nil
			}
			e, err := r.rd.Next()
			switch {
			case errors.Is(err, io.EOF):
				r.done = true
				return nil
			case err != nil:
				r.err = fmt.Errorf("tikvtest: replay: %w", err)
				return r.err
			}
			if e.End != nil {
				r.end = e.End.At
			}
			if e.Kind != record.KindPD && e.Kind != record.KindRegions {
				continue // series go to Prometheus; logs and the end line change no answer
			}
			r.pending = &e
		}
		if r.pending.At().After(r.now) {
			return nil
		}
		e := r.pending
		r.pending = nil
		if err := r.applyEntry(e); err != nil {
			r.err = err
			return err
		}
	}
}

func (r *Replay) applyEntry(e *record.Entry) error {
	if e.Regions != nil {
		return r.regions.apply(e.Regions)
	}
	p := e.PD
	method := p.Method
	if method == "" {
		method = http.MethodGet
	}
	path, query, _ := strings.Cut(p.Path, "?")
	r.pd[requestKey(method, path, query)] = p
	failed := unreachable(p)
	if p.At.After(r.lastAt) {
		r.lastAt, r.down = p.At, failed
	} else {
		r.down = r.down && failed
	}
	if method == http.MethodGet {
		switch {
		case path == apiPrefix+"/stores" && allStates(query):
			r.stores = p
		case path == apiPrefix+"/operators":
			r.ops = p
		}
	}
	return nil
}

// unreachable says that p records no answer: no PD member answered.
func unreachable(p *record.PD) bool { return p.Error != "" || p.Status == 0 }

// allStates says whether a /stores query asks for every state: Up (0),
// Offline (1) and Tombstone (2), as record.DefaultPaths does.
func allStates(query string) bool {
	vs, err := url.ParseQuery(query)
	if err != nil {
		return false
	}
	got := map[string]bool{}
	for _, v := range vs["state"] {
		got[v] = true
	}
	return got["0"] && got["1"] && got["2"]
}

// requestKey is a request's method, path and query with its parameters
// sorted, so that a request matches a recorded one whatever its order.
func requestKey(method, path, query string) string {
	if vs, err := url.ParseQuery(query); err == nil {
		query = vs.Encode()
	}
	return method + " " + path + "?" + query
}

// Handler answers PD's HTTP API at the replay's clock. It is the same
// handler for every call; serve it with net/http, or as a program's
// simulated PD. Where the recording says PD did not answer, the handler
// panics with http.ErrAbortHandler (see [Replay]).
func (r *Replay) Handler() http.Handler { return http.HandlerFunc(r.serve) }

func (r *Replay) serve(w http.ResponseWriter, req *http.Request) {
	if req.Method != http.MethodGet && req.Method != http.MethodHead {
		// A replay is read-only: a 4xx, which pdclient reports as a
		// write not applied.
		jsonStatus(http.StatusForbidden, fmt.Sprintf("tikvtest: a replay is read-only: %s %s was not applied", req.Method, req.URL.Path)).write(w)
		return
	}
	r.mu.Lock()
	resp, ok := r.answer(req)
	r.mu.Unlock()
	switch {
	case !ok:
		r.log.Debug("tikvtest: replay: not recorded", "method", req.Method, "uri", req.URL.RequestURI())
		http.NotFound(w, req)
	case resp.status == 0:
		r.log.Debug("tikvtest: replay: PD did not answer then", "method", req.Method, "uri", req.URL.RequestURI())
		panic(http.ErrAbortHandler) // no answer: net/http closes the connection
	default:
		resp.write(w)
	}
}

// noAnswer is what answer returns where PD did not answer: status 0.
var noAnswer = response{}

// answer finds the answer to req at r.now; noAnswer when there was none.
// r.mu is held.
func (r *Replay) answer(req *http.Request) (response, bool) {
	path := req.URL.Path
	if p := r.pd[requestKey(http.MethodGet, path, req.URL.RawQuery)]; p != nil {
		return r.recorded(req, p), true
	}
	if r.down {
		return noAnswer, true
	}
	rest, ok := strings.CutPrefix(path, apiPrefix)
	if !ok {
		return response{}, false
	}
	if resp, ok := r.regions.answer(req, rest); ok {
		return resp, true
	}
	switch {
	case rest == "/stores" && r.stores != nil:
		return r.filterStores(req), true
	case strings.HasPrefix(rest, "/store/") && r.stores != nil && !strings.Contains(rest[len("/store/"):], "/"):
		return r.oneStore(req, rest[len("/store/"):]), true
	case strings.HasPrefix(rest, "/operators/") && r.ops != nil:
		return r.oneOperator(rest[len("/operators/"):])
	}
	return response{}, false
}

// recorded serves a recorded answer: noAnswer for an error line.
func (r *Replay) recorded(req *http.Request, p *record.PD) response {
	if unreachable(p) {
		return noAnswer
	}
	body := []byte(p.Body)
	if len(body) == 0 {
		return response{status: p.Status, raw: true, contentType: p.ContentType}
	}
	if p.Text {
		var text string
		if err := json.Unmarshal(body, &text); err == nil {
			ct := p.ContentType
			if ct == "" {
				ct = "text/plain; charset=utf-8"
			}
			return response{status: p.Status, raw: true, rawBody: []byte(text), contentType: ct}
		}
	}
	rest := strings.TrimPrefix(req.URL.Path, apiPrefix)
	ct := p.ContentType
	if ct == "" {
		ct = contentJSON
		if p.Status == http.StatusOK && (strings.HasPrefix(rest, "/regions") || strings.HasPrefix(rest, "/region/")) {
			ct = contentRegions
		}
	}
	switch rest {
	case "/members", "/leader", "/health":
		body = ownClientURLs(body, req)
	}
	return response{status: p.Status, raw: true, rawBody: body, contentType: ct}
}

// ownClientURLs rewrites every client_urls in a members answer to the URL
// the request came in on.
func ownClientURLs(body []byte, req *http.Request) []byte {
	var v any
	d := json.NewDecoder(bytes.NewReader(body))
	d.UseNumber() // member ids are 64-bit
	if d.Decode(&v) != nil {
		return body
	}
	scheme := "http"
	if req.TLS != nil {
		scheme = "https"
	}
	own := []any{scheme + "://" + req.Host}
	var walk func(any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				if k == "client_urls" {
					x[k] = own
					continue
				}
				walk(e)
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	walk(v)
	out, err := json.Marshal(v)
	if err != nil {
		return body
	}
	return out
}
