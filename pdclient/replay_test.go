package pdclient

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/kvops/operator/internal/bindonly"
	"github.com/kvops/operator/internal/pdfixture"
	"github.com/stretchr/testify/require"
)

// exchange is one recorded PD exchange: the request sent and the response
// PD gave.
type exchange struct{ pdfixture.Exchange }

// loadExchange reads testdata/<dir>/<name>.json.
func loadExchange(t testing.TB, dir, name string) exchange {
	t.Helper()
	ex, err := pdfixture.Read(filepath.Join("testdata", dir, name+".json"))
	require.NoError(t, err)
	return exchange{ex}
}

// responseBody returns the bytes PD sent.
func responseBody(t testing.TB, ex exchange) []byte {
	t.Helper()
	b, err := ex.ResponseBody()
	require.NoError(t, err)
	return b
}

// generic decodes JSON keeping numbers exact.
func generic(t testing.TB, b []byte) any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	require.NoError(t, dec.Decode(&v))
	return v
}

// checkRequest compares a request with the recorded one: method, path,
// query (as values) and body (as JSON; a recorded string that the client
// sent as raw bytes, like a malformed body, compares as text).
func (ex exchange) checkRequest(t testing.TB, r *http.Request, body []byte) bool {
	t.Helper()
	ok := true
	want, err := url.Parse(ex.Request.Path)
	require.NoError(t, err)
	if r.Method != ex.Request.Method || r.URL.Path != want.Path {
		t.Errorf("%s: request %s %s, recorded %s %s", ex.Name, r.Method, r.URL.Path, ex.Request.Method, want.Path)
		ok = false
	}
	if d := cmp.Diff(want.Query(), r.URL.Query(), cmpEmptyValues); d != "" {
		t.Errorf("%s: query differs (-recorded +sent):\n%s", ex.Name, d)
		ok = false
	}
	if r.Header.Get(callerIDHeader) == "" {
		t.Errorf("%s: no %s header", ex.Name, callerIDHeader)
		ok = false
	}
	recorded := bytes.TrimSpace(ex.Request.Body)
	switch {
	case len(recorded) == 0 || string(recorded) == "null":
		if len(body) != 0 {
			t.Errorf("%s: sent body %q, recorded none", ex.Name, body)
			ok = false
		}
	case recorded[0] == '"' && !json.Valid(body):
		var s string
		require.NoError(t, json.Unmarshal(recorded, &s))
		if s != string(body) {
			t.Errorf("%s: sent raw body %q, recorded %q", ex.Name, body, s)
			ok = false
		}
	default:
		if !json.Valid(body) {
			t.Errorf("%s: sent body %q is not JSON", ex.Name, body)
			return false
		}
		if d := cmp.Diff(generic(t, recorded), generic(t, body)); d != "" {
			t.Errorf("%s: body differs (-recorded +sent):\n%s", ex.Name, d)
			ok = false
		}
	}
	return ok
}

var cmpEmptyValues = cmp.Transformer("nilValues", func(v url.Values) url.Values {
	if len(v) == 0 {
		return nil
	}
	return v
})

// respond writes the recorded response.
func (ex exchange) respond(t testing.TB, w http.ResponseWriter) {
	if ex.Response.ContentType != "" {
		w.Header().Set("Content-Type", ex.Response.ContentType)
	}
	w.WriteHeader(ex.Response.Status)
	_, _ = w.Write(responseBody(t, ex))
}

// replayServer serves recorded exchanges: each request must match the
// exchange registered for its method and path (query excluded), and gets
// that exchange's response. It counts the requests it served.
type replayServer struct {
	t   testing.TB
	srv *httptest.Server

	mu     sync.Mutex
	routes map[string]exchange
	hits   map[string]int
	total  int
}

func newReplayServer(t testing.TB, exs ...exchange) *replayServer {
	t.Helper()
	rs := &replayServer{t: t, routes: map[string]exchange{}, hits: map[string]int{}}
	for _, ex := range exs {
		rs.set(ex)
	}
	rs.srv = httptest.NewUnstartedServer(http.HandlerFunc(rs.serve))
	// A listener whose port stop can hold (see stop).
	ln, err := bindonly.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	rs.srv.Listener.Close()
	rs.srv.Listener = ln
	rs.srv.Start()
	t.Cleanup(rs.srv.Close)
	return rs
}

func routeKey(method, path string) string {
	if i := strings.IndexByte(path, '?'); i >= 0 {
		path = path[:i]
	}
	return method + " " + path
}

// set registers (or replaces) the exchange for its method and path.
func (rs *replayServer) set(ex exchange) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	rs.routes[routeKey(ex.Request.Method, ex.Request.Path)] = ex
}

func (rs *replayServer) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		rs.t.Errorf("reading request body: %v", err)
		return
	}
	key := routeKey(r.Method, r.URL.Path)
	rs.mu.Lock()
	ex, ok := rs.routes[key]
	rs.hits[key]++
	rs.total++
	rs.mu.Unlock()
	if !ok {
		rs.t.Errorf("unexpected request %s %s", r.Method, r.URL.RequestURI())
		http.Error(w, "no recorded exchange", http.StatusTeapot)
		return
	}
	if !ex.checkRequest(rs.t, r, body) {
		http.Error(w, "request differs from the recording", http.StatusTeapot)
		return
	}
	ex.respond(rs.t, w)
}

// count returns how many requests the server got for method and path,
// or in total when method is "".
func (rs *replayServer) count(method, path string) int {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if method == "" {
		return rs.total
	}
	return rs.hits[routeKey(method, path)]
}

// newTestClient returns a client for the given endpoints whose backoff
// never sleeps and which does not ask for the member list before its first
// request (TestDiscovery covers that).
func newTestClient(t testing.TB, endpoints ...string) *Client {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Endpoints = endpoints
	c, err := New(cfg)
	require.NoError(t, err)
	c.sleep = noSleep
	c.jitter = noJitter
	c.membersEvery = -1 // the tests that count requests ask for members themselves
	return c
}

// stop takes the server down for the rest of the test, its port held
// (bound, never listening) until the test ends: connections are refused,
// as by a dead PD, and no other program's listener can take the port and
// answer in its place.
func (rs *replayServer) stop() {
	rs.t.Helper()
	hold, err := bindonly.Hold(rs.srv.Listener.Addr().String())
	if err != nil {
		rs.t.Fatal(err)
	}
	rs.t.Cleanup(func() { hold.Close() })
	rs.srv.Close()
}
