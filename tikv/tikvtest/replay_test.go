package tikvtest_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/kvops/operator/subject"
	"github.com/kvops/operator/tikv/record"
	"github.com/kvops/operator/tikv/tikvtest"
)

type settable struct{ t time.Time }

func (s *settable) Now() time.Time { return s.t }

var replayStart = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

// answer is one HTTP answer, as a test compares them.
type answer struct {
	Status      int
	ContentType string
	Body        string
}

func get(t *testing.T, h http.Handler, method, uri string) answer {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, uri, nil))
	return answer{rec.Code, rec.Header().Get("Content-Type"), rec.Body.String()}
}

// replayProbes are requests whose replayed answers must be the live
// cluster's: recorded ones, and those rebuilt from the regions or the
// stores.
var replayProbes = []string{
	"/pd/api/v1/stores?state=0&state=1&state=2",
	"/pd/api/v1/stores?state=2&state=1&state=0", // another order
	"/pd/api/v1/stores?state=0&state=1",         // not recorded: filtered
	"/pd/api/v1/config/schedule",
	"/pd/api/v1/schedulers",
	"/pd/api/v1/store/3",
	"/pd/api/v1/store/99",
	"/pd/api/v1/regions",
	"/pd/api/v1/regions/count",
	"/pd/api/v1/regions/store/2",
	"/pd/api/v1/region/id/9",
	"/pd/api/v1/region/id/1",
	"/pd/api/v1/regions/key?key=&limit=3",
	"/pd/api/v1/regions/key?key=7480000000000000FF015F728000000000FF0000050000000000FB&format=hex&limit=4",
	"/pd/api/v1/regions/key?key=&end_key=7480000000000000FF015F728000000000FF0000050000000000FB&format=hex&limit=-1",
	"/pd/api/v1/regions/check/down-peer",
	"/pd/api/v1/regions/check/pending-peer",
	"/pd/api/v1/regions/check/miss-peer",
	"/pd/api/v1/operators/9",
}

// recordScenario records a 5-store cluster with record.Recorder for ten
// minutes, store 3 stopped at 2m and started at 8m, store 2's leaders
// evicted at 4m; it returns the recording's path and the live answers to
// replayProbes at each tick. With series, the recording holds the
// cluster's series too (the test skips without Prometheus).
func recordScenario(t *testing.T, series bool) (string, [][]answer) {
	t.Helper()
	clk := &settable{replayStart}
	c := tikvtest.NewCluster(t, tikvtest.Config{Stores: 5, Regions: 40, Seed: 1, Clock: clk, RecordMetrics: 15 * time.Second})
	path := filepath.Join(t.TempDir(), "incident.jsonl")
	f, err := os.Create(path)
	require.NoError(t, err)
	defer f.Close()
	rec := newClusterRecorder(t, c, f, 10*time.Minute)
	require.NoError(t, rec.Observe(t.Context()))
	h := c.PDHandler()
	var live [][]answer
	probe := func() {
		var as []answer
		for _, p := range replayProbes {
			as = append(as, get(t, h, http.MethodGet, p))
		}
		live = append(live, as)
	}
	probe()
	for i := 1; i <= 40; i++ {
		c.Advance(15 * time.Second)
		switch i {
		case 8:
			require.NoError(t, c.StopStore(3))
		case 16:
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/pd/api/v1/schedulers", strings.NewReader(`{"name":"evict-leader-scheduler","store_id":2}`)))
			require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
		case 32:
			require.NoError(t, c.StartStore(3))
		}
		require.NoError(t, rec.Observe(t.Context()))
		probe()
	}
	if series {
		writeClusterSeries(t, c, rec)
	}
	_, err = rec.Close(t.Context())
	require.NoError(t, err)
	require.NoError(t, f.Sync())
	return path, live
}

// TestReplayAnswersAsRecorded: at each recorded tick, the replay answers
// every probe with the live cluster's status, content type and body:
// recorded answers, stores filtered and picked from the recorded list,
// and the regions rebuilt from the snapshot and its deltas.
func TestReplayAnswersAsRecorded(t *testing.T) {
	path, live := recordScenario(t, false)
	srv := tikvtest.NewReplayServer(t, path, tikvtest.ReplayConfig{})
	h := srv.Handler()
	for i, want := range live {
		if i > 0 {
			require.NoError(t, srv.Advance(15*time.Second))
		}
		for j, p := range replayProbes {
			got := get(t, h, http.MethodGet, p)
			if diff := cmp.Diff(want[j], got); diff != "" {
				t.Fatalf("tick %d, GET %s (-live +replay):\n%s", i, p, diff)
			}
		}
	}
	require.NoError(t, srv.Err())
}

// TestReplayBetweenTicks: between two recorded times the replay answers
// as at the earlier one; a clock set back is refused and changes nothing.
func TestReplayBetweenTicks(t *testing.T) {
	path, live := recordScenario(t, false)
	srv := tikvtest.NewReplayServer(t, path, tikvtest.ReplayConfig{Start: replayStart.Add(2*time.Minute + 14*time.Second)})
	h := srv.Handler()
	require.Equal(t, live[8][0], get(t, h, http.MethodGet, replayProbes[0]))
	err := srv.SetTime(replayStart)
	require.ErrorIs(t, err, tikvtest.ErrBadArgument)
	require.ErrorIs(t, err, subject.ErrInvalid)
	require.Equal(t, replayStart.Add(2*time.Minute+14*time.Second), srv.Now())
	require.Error(t, srv.Advance(-time.Second))
	require.NoError(t, srv.Advance(time.Second))
	require.Equal(t, live[9][0], get(t, h, http.MethodGet, replayProbes[0]))
}

// TestReplayReadOnly: every write is refused with 403 and changes no
// answer; an unrecorded path answers PD's 404 for a path it does not
// serve.
func TestReplayReadOnly(t *testing.T) {
	path, _ := recordScenario(t, false)
	srv := tikvtest.NewReplayServer(t, path, tikvtest.ReplayConfig{})
	h := srv.Handler()
	before := get(t, h, http.MethodGet, "/pd/api/v1/schedulers")
	for _, w := range []struct{ method, path string }{
		{http.MethodPost, "/pd/api/v1/schedulers"},
		{http.MethodDelete, "/pd/api/v1/schedulers/balance-leader-scheduler"},
		{http.MethodPost, "/pd/api/v1/operators"},
		{http.MethodPut, "/pd/api/v2/maintenance/restart/x"},
		{http.MethodPost, "/pd/api/v1/config"},
	} {
		got := get(t, h, w.method, w.path)
		require.Equal(t, http.StatusForbidden, got.Status, w)
		require.Contains(t, got.Body, "read-only")
	}
	require.Equal(t, before, get(t, h, http.MethodGet, "/pd/api/v1/schedulers"))
	nf := get(t, h, http.MethodGet, "/pd/api/v1/hotspot/stores")
	require.Equal(t, answer{http.StatusNotFound, "text/plain; charset=utf-8", "404 page not found\n"}, nf)
}

// TestReplayMembersPointHome: the recorded members' client URLs are
// rewritten to the replay's own, so that a client learning the members
// never leaves it.
func TestReplayMembersPointHome(t *testing.T) {
	path, _ := recordScenario(t, false)
	srv := tikvtest.NewReplayServer(t, path, tikvtest.ReplayConfig{})
	resp, err := http.Get(srv.URL + "/pd/api/v1/members")
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, 5, strings.Count(string(b), `"client_urls":["`+srv.URL+`"]`), string(b)) // 3 members, the leader, the etcd leader
	require.Contains(t, string(b), `"member_id":3474484975246189105`, "64-bit ids kept whole")
}

// TestReplayTruncated: a recording cut short serves what came before
// the cut, and moving past it says ErrTruncated.
func TestReplayTruncated(t *testing.T) {
	path, live := recordScenario(t, false)
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	cut := b[:len(b)*2/3]
	rd, err := record.NewReader(bytes.NewReader(cut))
	require.NoError(t, err)
	r, err := tikvtest.NewReplay(rd, tikvtest.ReplayConfig{})
	require.NoError(t, err)
	require.Equal(t, live[0][0], get(t, r.Handler(), http.MethodGet, replayProbes[0]))
	var last error
	for range 40 {
		if last = r.Advance(15 * time.Second); last != nil {
			break
		}
	}
	require.ErrorIs(t, last, record.ErrTruncated)
	require.ErrorIs(t, r.Err(), record.ErrTruncated)
	require.Equal(t, http.StatusOK, get(t, r.Handler(), http.MethodGet, replayProbes[0]).Status)
}

// TestReplayStartBeforeRecording is refused.
func TestReplayStartBeforeRecording(t *testing.T) {
	path, _ := recordScenario(t, false)
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	rd, err := record.NewReader(f)
	require.NoError(t, err)
	_, err = tikvtest.NewReplay(rd, tikvtest.ReplayConfig{Start: replayStart.Add(-time.Second)})
	require.True(t, errors.Is(err, tikvtest.ErrBadArgument))
}

// TestReplayPrometheus: the recording's series, backfilled, answer as the
// cluster's history does.
func TestReplayPrometheus(t *testing.T) {
	path, _ := recordScenario(t, true)
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	rd, err := record.NewReader(f)
	require.NoError(t, err)
	h, err := tikvtest.ReadHistory(rd, time.Time{}, time.Time{})
	require.NoError(t, err)
	var ups int
	for _, s := range h.Series() {
		if s.Name == "up" && s.Labels["job"] == "tikv" {
			ups++
			require.Len(t, s.Samples, 41)
		}
	}
	require.Equal(t, 5, ups)
	p := tikvtest.NewReplayPrometheus(t, path)
	addr, err := recordedStatusAddress(t, path, 3)
	require.NoError(t, err)
	for _, tc := range []struct {
		at   time.Duration
		want string
	}{{time.Minute, "1"}, {3 * time.Minute, "0"}, {9 * time.Minute, "1"}} {
		q := url.Values{"query": {`up{job="tikv",instance="` + addr + `"}`}, "time": {strconv.FormatInt(replayStart.Add(tc.at).Unix(), 10)}}
		resp, err := http.Get(p.URL + "/api/v1/query?" + q.Encode())
		require.NoError(t, err)
		var out struct {
			Data struct {
				Result []struct {
					Value [2]any `json:"value"`
				} `json:"result"`
			} `json:"data"`
		}
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
		resp.Body.Close()
		require.Len(t, out.Data.Result, 1)
		require.Equal(t, tc.want, out.Data.Result[0].Value[1], "up of store 3 at %v", tc.at)
	}
}

// recordedStatusAddress reads a store's status address from the first
// recorded /stores answer.
func recordedStatusAddress(t *testing.T, path string, id uint64) (string, error) {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	rd, err := record.NewReader(f)
	require.NoError(t, err)
	for {
		e, err := rd.Next()
		if err != nil {
			return "", err
		}
		if e.PD == nil || e.PD.Path != record.DefaultPaths[0] {
			continue
		}
		var list struct {
			Stores []struct {
				Store struct {
					ID            uint64 `json:"id"`
					StatusAddress string `json:"status_address"`
				} `json:"store"`
			} `json:"stores"`
		}
		require.NoError(t, json.Unmarshal(e.PD.Body, &list))
		for _, s := range list.Stores {
			if s.Store.ID == id {
				return s.Store.StatusAddress, nil
			}
		}
	}
}
