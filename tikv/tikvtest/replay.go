package tikvtest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kvops/operator/tikv/record"
)

// ReplayConfig configures a [Replay]. The zero value of each field takes
// the default documented on it.
type ReplayConfig struct {
	// Start is the replay clock's first time: the recording's
	// Header.Start by default. The entries up to it are applied at
	// NewReplay. Before Header.Start is [ErrBadArgument].
	Start time.Time
	// Logger receives the replay's debug messages (requests it cannot
	// answer from the recording); discarded by default.
	Logger *slog.Logger
}

// Replay serves a recording ([record.Reader]) as PD's HTTP API at the
// replay's clock: each request is answered as PD answered it at the
// latest recorded time not after the clock. The clock starts at the
// recording's start and only moves forward ([Replay.SetTime],
// [Replay.Advance]); the replay reads the recording as the clock moves
// and holds only the current state (the latest answer of each request,
// the current regions), never the whole file.
//
// A replay is read-only: its handler refuses every write (any method but
// GET and HEAD) with 403 Forbidden, a refusal pdclient reports as not
// applied, and nothing it serves ever changes but by the clock.
//
// Answers, under /pd/api/v1 (and /pd/api/v2):
//
//   - a GET recorded with the same path and query (in any order) answers
//     the recorded status and body. A JSON body is served as JSON; a body
//     recorded as a JSON string ending in a newline is the text PD wrote
//     with http.Error, served as text/plain; the region answers are
//     application/octet-stream, as PD types them. In /members, /leader
//     and /health, every member's client_urls is rewritten to the
//     replay's own URL, as a lone PD member advertises its own, so that a
//     client learning the members comes back to the replay and never goes
//     to the recorded cluster.
//   - the region endpoints are rebuilt from the recorded region snapshot
//     and its deltas, with PD's shapes: /regions, /regions/count,
//     /regions/key (key, end_key, format=hex, limit), /regions/store/{id},
//     /region/id/{id}, /regions/check/down-peer, /regions/check/pending-peer
//     and /regions/check/miss-peer (fewer than 3 voters).
//   - /store/{id} is the store's object in the latest /stores answer (404
//     with PD's message when it is not there); /stores with a ?state= not
//     recorded is the latest /stores answer filtered by those states;
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
	stores  *record.PD // the latest GET /stores answer, any query
	ops     *record.PD // the latest GET /operators answer, any query
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
	if cfg.Start.IsZero() {
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
// record.ErrTruncated; a line that does not decode: *record.SyntaxError)
// the clock moves all the same, the replay keeps serving what it read
// before, and the error is returned, now and by every later call.
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
	if method == http.MethodGet {
		switch path {
		case apiPrefix + "/stores":
			r.stores = p
		case apiPrefix + "/operators":
			r.ops = p
		}
	}
	return nil
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
// simulated PD.
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
	if !ok {
		r.log.Debug("tikvtest: replay: not recorded", "method", req.Method, "uri", req.URL.RequestURI())
		http.NotFound(w, req)
		return
	}
	resp.write(w)
}

// answer finds the answer to req at r.now. r.mu is held.
func (r *Replay) answer(req *http.Request) (response, bool) {
	path := req.URL.Path
	if p := r.pd[requestKey(http.MethodGet, path, req.URL.RawQuery)]; p != nil {
		return r.recorded(req, p), true
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
		return r.oneStore(rest[len("/store/"):]), true
	case strings.HasPrefix(rest, "/operators/") && r.ops != nil:
		return r.oneOperator(rest[len("/operators/"):])
	}
	return response{}, false
}

// recorded serves a recorded answer.
func (r *Replay) recorded(req *http.Request, p *record.PD) response {
	body := []byte(p.Body)
	if len(body) == 0 {
		return response{status: p.Status, raw: true}
	}
	var text string
	if body[0] == '"' && json.Unmarshal(body, &text) == nil && strings.HasSuffix(text, "\n") {
		return response{status: p.Status, raw: true, rawBody: []byte(text), contentType: "text/plain; charset=utf-8"}
	}
	ct := contentJSON
	rest := strings.TrimPrefix(req.URL.Path, apiPrefix)
	if p.Status == http.StatusOK && (strings.HasPrefix(rest, "/regions") || strings.HasPrefix(rest, "/region/")) {
		ct = contentRegions
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

// storeObject is what the replay reads of an element of a /stores answer.
type storeObject struct {
	Store struct {
		ID    uint64 `json:"id"`
		State int    `json:"state"`
	} `json:"store"`
}

func (r *Replay) storeList() ([]json.RawMessage, []storeObject, bool) {
	var list struct {
		Stores []json.RawMessage `json:"stores"`
	}
	if r.stores.Status != http.StatusOK || json.Unmarshal(r.stores.Body, &list) != nil {
		return nil, nil, false
	}
	objs := make([]storeObject, len(list.Stores))
	for i, s := range list.Stores {
		_ = json.Unmarshal(s, &objs[i])
	}
	return list.Stores, objs, true
}

// filterStores answers GET /stores?state= from the latest /stores answer.
func (r *Replay) filterStores(req *http.Request) response {
	raws, objs, ok := r.storeList()
	if !ok {
		return r.recorded(req, r.stores)
	}
	want := map[int]bool{0: true, 1: true}
	if vs, ok := req.URL.Query()["state"]; ok {
		want = map[int]bool{}
		for _, v := range vs {
			var n int
			if _, err := fmt.Sscan(v, &n); err != nil {
				return jsonStatus(http.StatusBadRequest, err.Error())
			}
			want[n] = true
		}
	}
	var b strings.Builder
	n := 0
	b.WriteString(`{"count":COUNT,"stores":[`)
	for i, raw := range raws {
		if !want[objs[i].Store.State] {
			continue
		}
		if n > 0 {
			b.WriteByte(',')
		}
		b.Write(raw)
		n++
	}
	b.WriteString("]}")
	out := strings.Replace(b.String(), "COUNT", fmt.Sprint(n), 1)
	return response{status: http.StatusOK, raw: true, rawBody: []byte(out), contentType: contentJSON}
}

// oneStore answers GET /store/{id} from the latest /stores answer.
func (r *Replay) oneStore(idText string) response {
	var id uint64
	if _, err := fmt.Sscan(idText, &id); err != nil {
		return inputError(err)
	}
	raws, objs, _ := r.storeList()
	for i, o := range objs {
		if o.Store.ID == id {
			return response{status: http.StatusOK, raw: true, rawBody: raws[i], contentType: contentJSON}
		}
	}
	return jsonStatus(http.StatusNotFound, storeNotFound(id))
}

// oneOperator answers GET /operators/{region_id} when the latest
// /operators answer lists no operator of the region.
func (r *Replay) oneOperator(idText string) (response, bool) {
	var id uint64
	if _, err := fmt.Sscan(idText, &id); err != nil {
		return inputError(err), true
	}
	var ops []struct {
		RegionID uint64 `json:"region_id"`
	}
	if r.ops.Status != http.StatusOK || json.Unmarshal(r.ops.Body, &ops) != nil {
		return response{}, false
	}
	for _, o := range ops {
		if o.RegionID == id {
			return response{}, false // pending, but its status was not recorded
		}
	}
	return jsonStatus(http.StatusInternalServerError, "[PD:operator:ErrOperatorNotFound]operator not found"), true
}

// ReplayServer is a [Replay] served on a real loopback listener, for a
// test: [NewReplayServer].
type ReplayServer struct {
	*Replay
	// URL is PD's URL ("http://127.0.0.1:port"), for
	// pdclient.Config.Endpoints.
	URL string
}

// NewReplayServer opens the recording at path, replays it (cfg as for
// [NewReplay]) and serves it on 127.0.0.1, like httptest.NewServer; the
// server and the file are closed by t.Cleanup. A recording that cannot be
// opened or read fails the test at once (t.Fatal).
func NewReplayServer(t testing.TB, path string, cfg ReplayConfig) *ReplayServer {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("tikvtest: replay: %v", err)
		return nil
	}
	t.Cleanup(func() { _ = f.Close() })
	rd, err := record.NewReader(f)
	if err != nil {
		t.Fatalf("tikvtest: replay %s: %v", path, err)
		return nil
	}
	r, err := NewReplay(rd, cfg)
	if err != nil {
		t.Fatalf("tikvtest: replay %s: %v", path, err)
		return nil
	}
	srv := httptest.NewServer(r.Handler())
	t.Cleanup(srv.Close)
	return &ReplayServer{Replay: r, URL: srv.URL}
}

// ReadHistory reads the Series lines of a recording into a [History],
// for [BackfillPrometheus]: a Prometheus over it answers every query at
// the replay's time as the recorded Prometheus answered (the recorded
// series, within Prometheus' lookback). It reads the whole recording; a
// recording cut short is its reader's error (record.ErrTruncated), and
// series out of order are [ErrBadArgument].
func ReadHistory(rd *record.Reader) (*History, error) {
	h := &History{}
	for {
		e, err := rd.Next()
		if errors.Is(err, io.EOF) {
			return h, nil
		}
		if err != nil {
			return nil, fmt.Errorf("tikvtest: read history: %w", err)
		}
		if e.Series == nil {
			continue
		}
		s := Series{Labels: make(map[string]string, len(e.Series.Labels))}
		for k, v := range e.Series.Labels {
			if k == "__name__" {
				s.Name = v
				continue
			}
			s.Labels[k] = v
		}
		s.Samples = make([]Sample, len(e.Series.Samples))
		for i, smp := range e.Series.Samples {
			s.Samples[i] = Sample{At: smp.T, Value: smp.V}
		}
		if len(s.Samples) == 0 {
			continue
		}
		if err := h.Add(s); err != nil {
			return nil, err
		}
	}
}

// NewReplayPrometheus starts a real Prometheus holding the series of the
// recording at path ([ReadHistory], [BackfillPrometheus]) for a test,
// stopped by t.Cleanup. It skips the test when prometheus or promtool is
// missing, or fails it when CI is "true"; a recording that cannot be read
// fails it.
func NewReplayPrometheus(t testing.TB, path string) *Prometheus {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("tikvtest: replay: %v", err)
		return nil
	}
	defer f.Close()
	rd, err := record.NewReader(f)
	if err == nil {
		var h *History
		if h, err = ReadHistory(rd); err == nil {
			return NewBackfilledPrometheus(t, h)
		}
	}
	t.Fatalf("tikvtest: replay %s: %v", path, err)
	return nil
}
