package tikvtest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kvops/operator/subject"
)

// fakeClock is a settable clock.
type fakeClock struct{ t time.Time }

func (c *fakeClock) Now() time.Time { return c.t }

var t0 = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

// newStarted returns a started cluster with 5 stores and 200 regions at
// t0, closed when the test ends, and an HTTP client for it.
func newStarted(t *testing.T) (*Cluster, *client) {
	t.Helper()
	return newStartedWith(t, Config{Seed: 1})
}

// newStartedWith is newStarted with another configuration; its clock is
// t0's.
func newStartedWith(t *testing.T, cfg Config) (*Cluster, *client) {
	t.Helper()
	cfg.Clock = &fakeClock{t0}
	c, err := NewUnstartedCluster(cfg)
	require.NoError(t, err)
	require.NoError(t, c.Start(context.Background()))
	tr := &http.Transport{}
	t.Cleanup(func() {
		tr.CloseIdleConnections()
		require.NoError(t, c.Close())
	})
	return c, &client{t: t, base: c.PDURL(), hc: &http.Client{Transport: tr, Timeout: 10 * time.Second}}
}

type client struct {
	t    *testing.T
	base string
	hc   *http.Client
}

// do sends a request to the PD API; body is sent as is when it is a
// []byte, as JSON otherwise.
func (cl *client) do(method, path string, body any) (int, http.Header, []byte) {
	cl.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		require.NoError(cl.t, err)
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, cl.base+path, rd)
	require.NoError(cl.t, err)
	resp, err := cl.hc.Do(req)
	require.NoError(cl.t, err)
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	require.NoError(cl.t, err)
	return resp.StatusCode, resp.Header, out
}

// mustOK sends a request that must answer 200 and returns the body.
func (cl *client) mustOK(method, path string, body any) []byte {
	cl.t.Helper()
	code, _, out := cl.do(method, path, body)
	require.Equal(cl.t, http.StatusOK, code, "%s %s: %s", method, path, out)
	return out
}

// get decodes a 200 answer into v.
func (cl *client) get(path string, v any) {
	cl.t.Helper()
	require.NoError(cl.t, json.Unmarshal(cl.mustOK("GET", path, nil), v), path)
}

// storeView is what the tests read of PD's store answer.
type storeView struct {
	Store struct {
		ID            uint64 `json:"id"`
		StateName     string `json:"state_name"`
		StatusAddress string `json:"status_address"`
		LastHeartbeat int64  `json:"last_heartbeat"`
		NodeState     int    `json:"node_state"`
	} `json:"store"`
	Status struct {
		Capacity     string `json:"capacity"`
		Available    string `json:"available"`
		UsedSize     string `json:"used_size"`
		LeaderCount  int    `json:"leader_count"`
		RegionCount  int    `json:"region_count"`
		LearnerCount int    `json:"learner_count"`
	} `json:"status"`
}

func (cl *client) stores() map[uint64]storeView {
	cl.t.Helper()
	var out struct {
		Stores []storeView `json:"stores"`
	}
	cl.get("/pd/api/v1/stores", &out)
	m := map[uint64]storeView{}
	for _, s := range out.Stores {
		m[s.Store.ID] = s
	}
	return m
}

func (cl *client) stateNames() map[uint64]string {
	cl.t.Helper()
	m := map[uint64]string{}
	for id, s := range cl.stores() {
		m[id] = s.Store.StateName
	}
	return m
}

type regionView struct {
	ID    uint64 `json:"id"`
	Epoch struct {
		ConfVer uint64 `json:"conf_ver"`
		Version uint64 `json:"version"`
	} `json:"epoch"`
	StartKey string `json:"start_key"`
	EndKey   string `json:"end_key"`
	Peers    []struct {
		ID      uint64 `json:"id"`
		StoreID uint64 `json:"store_id"`
	} `json:"peers"`
	Leader struct {
		StoreID uint64 `json:"store_id"`
	} `json:"leader"`
	DownPeers []struct {
		DownSeconds uint64 `json:"down_seconds"`
	} `json:"down_peers"`
}

func (cl *client) region(id uint64) regionView {
	cl.t.Helper()
	var r regionView
	cl.get("/pd/api/v1/region/id/"+subject.RegionID(id).String(), &r)
	return r
}

func storeID(i int) subject.StoreID { return subject.StoreID(i) }

var osReadFile = os.ReadFile

func newRecorder() *httptest.ResponseRecorder { return httptest.NewRecorder() }

func mustRequest(t *testing.T, method, path string) *http.Request {
	t.Helper()
	return httptest.NewRequest(method, path, nil)
}
