package tikvtest_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/kvops/operator/pdclient"
	"github.com/kvops/operator/subject"
	"github.com/kvops/operator/tikv/record"
	"github.com/kvops/operator/tikv/tikvtest"
)

// sec is a time of the hand-written recordings: replayStart plus s seconds.
func sec(s int) time.Time { return replayStart.Add(time.Duration(s) * time.Second) }

const allStoresPath = "/pd/api/v1/stores?state=0&state=1&state=2"

// store is a store object of PD's stores answer: PD leaves "state" out for Up.
func store(id, state int, name string) string {
	st := ""
	if state != 0 {
		st = `"state":` + string(rune('0'+state)) + `,`
	}
	return `{"store":{"id":` + string(rune('0'+id)) + `,` + st + `"state_name":"` + name + `"},"status":{}}`
}

func storesBody(stores ...string) json.RawMessage {
	b := `{"count":` + string(rune('0'+len(stores))) + `,"stores":[`
	for i, s := range stores {
		if i > 0 {
			b += ","
		}
		b += s
	}
	return json.RawMessage(b + "]}")
}

func region(id int, start, end string) json.RawMessage {
	return json.RawMessage(`{"id":` + string(rune('0'+id)) + `,"start_key":"` + start + `","end_key":"` + end +
		`","epoch":{"conf_ver":1,"version":1},"peers":[{"id":1` + string(rune('0'+id)) + `,"store_id":1}],"leader":{"id":1` + string(rune('0'+id)) + `,"store_id":1}}`)
}

// writeRecording writes a recording of the entries, from replayStart to
// sec(100).
func writeRecording(t *testing.T, entries ...record.Entry) *tikvtest.Replay {
	t.Helper()
	var buf bytes.Buffer
	w, err := record.NewWriter(&buf, record.Header{Start: replayStart, End: sec(100), Interval: record.Duration(10 * time.Second)})
	require.NoError(t, err)
	for _, e := range entries {
		require.NoError(t, w.Write(e))
	}
	require.NoError(t, w.Close(sec(100)))
	rd, err := record.NewReader(bytes.NewReader(buf.Bytes()))
	require.NoError(t, err)
	r, err := tikvtest.NewReplay(rd, tikvtest.ReplayConfig{})
	require.NoError(t, err)
	return r
}

func pdLine(s int, path string, status int, ct string, body string) record.Entry {
	return record.Entry{Kind: record.KindPD, PD: &record.PD{At: sec(s), Path: path, Status: status, ContentType: ct, Body: json.RawMessage(body)}}
}

func textLine(s int, path string, status int, ct string, text string) record.Entry {
	b, _ := json.Marshal(text)
	return record.Entry{Kind: record.KindPD, PD: &record.PD{At: sec(s), Path: path, Status: status, ContentType: ct, Body: b, Text: true}}
}

func errorLine(s int, path string) record.Entry {
	return record.Entry{Kind: record.KindPD, PD: &record.PD{At: sec(s), Path: path, Error: "pdclient: GET http://pd:2379" + path + ": connection refused"}}
}

func regionsLine(s int, l record.Regions) record.Entry {
	l.At = sec(s)
	return record.Entry{Kind: record.KindRegions, Regions: &l}
}

// aborted serves req in-process and says whether the handler aborted it
// (panic(http.ErrAbortHandler)): PD gave no answer.
func aborted(h http.Handler, uri string) (ans answer, abort bool) {
	defer func() {
		if v := recover(); v != nil {
			if v != http.ErrAbortHandler {
				panic(v)
			}
			abort = true
		}
	}()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, uri, nil))
	return answer{rec.Code, rec.Header().Get("Content-Type"), rec.Body.String()}, false
}

// TestReplayRecordConventions: the recording's conventions, tick by tick:
// content types and text answers as recorded, an answer kept until the
// next one of its path, GET /stores and /store/{id} from the all-states
// answer (tombstones left out by default), an error line as no answer,
// derived answers with it while PD was down, and a read of the regions
// applied at its last line, a failed one ignored.
func TestReplayRecordConventions(t *testing.T) {
	jsonCT := "application/json; charset=UTF-8"
	up, tomb := store(1, 0, "Up"), store(2, 2, "Tombstone")
	r := writeRecording(t,
		pdLine(0, allStoresPath, 200, jsonCT, string(storesBody(up, tomb))),
		textLine(0, "/pd/api/v1/scheduler-config/evict-leader-scheduler/list", 404, "text/plain; charset=utf-8", "404 page not found\n"),
		pdLine(0, "/pd/api/v1/regions/count", 200, jsonCT, `{"count":2,"regions":null}`),
		regionsLine(0, record.Regions{Full: true, Count: 1, Changed: []json.RawMessage{region(1, "", "61")}}),
		regionsLine(0, record.Regions{Full: true, Count: 2, Changed: []json.RawMessage{region(2, "61", "")}, Done: true}),
		// 10 s: PD down; a read of the regions fails part way.
		errorLine(10, allStoresPath),
		errorLine(10, "/pd/api/v1/scheduler-config/evict-leader-scheduler/list"),
		errorLine(10, "/pd/api/v1/regions/count"),
		regionsLine(10, record.Regions{Count: 0, Error: "connection refused"}),
		// 20 s: PD back; only the stores answer changed since 0 s.
		pdLine(20, allStoresPath, 200, jsonCT, string(storesBody(store(1, 1, "Offline"), tomb))),
		textLine(20, "/pd/api/v1/scheduler-config/evict-leader-scheduler/list", 404, "text/plain; charset=utf-8", "404 page not found\n"),
		pdLine(20, "/pd/api/v1/regions/count", 200, jsonCT, `{"count":2,"regions":null}`),
		// 30 s: a read of what changed removes region 2, then fails: ignored.
		regionsLine(30, record.Regions{Count: 1, Removed: []uint64{2}}),
		regionsLine(30, record.Regions{Count: 1, Error: "PD's answer: unexpected EOF"}),
		// 40 s: one path fails (a timeout), the others answer: PD is up.
		errorLine(40, "/pd/api/v1/regions/count"),
		pdLine(40, "/pd/api/v1/operators", 200, jsonCT, `[]`),
		// 50 s: a read of what changed removes region 2.
		regionsLine(50, record.Regions{Count: 1, Removed: []uint64{2}, Done: true}),
	)
	h := r.Handler()
	notFound := answer{404, "text/plain; charset=utf-8", "404 page not found\n"}
	regionsCT := "application/octet-stream"
	for _, tc := range []struct {
		at   int
		uri  string
		want answer
		none bool // aborted: no answer
	}{
		{0, allStoresPath, answer{200, jsonCT, string(storesBody(up, tomb))}, false},
		{0, "/pd/api/v1/stores", answer{200, jsonCT, string(storesBody(up))}, false},
		{0, "/pd/api/v1/stores?state=2", answer{200, jsonCT, string(storesBody(tomb))}, false},
		{0, "/pd/api/v1/store/2", answer{200, jsonCT, tomb}, false},
		{0, "/pd/api/v1/store/3", answer{404, jsonCT, `"[PD:core:ErrStoreNotFound]store 3 not found"`}, false},
		{0, "/pd/api/v1/scheduler-config/evict-leader-scheduler/list", notFound, false},
		{0, "/pd/api/v1/regions/count", answer{200, jsonCT, `{"count":2,"regions":null}`}, false},
		{0, "/pd/api/v1/region/id/2", answer{200, regionsCT, string(region(2, "61", ""))}, false},
		{9, "/pd/api/v1/store/1", answer{200, jsonCT, up}, false},
		{10, allStoresPath, answer{}, true},
		{10, "/pd/api/v1/stores", answer{}, true},
		{10, "/pd/api/v1/store/1", answer{}, true},
		{10, "/pd/api/v1/regions/count", answer{}, true},
		{10, "/pd/api/v1/region/id/2", answer{}, true}, // derived, PD down
		{10, "/pd/api/v1/config", answer{}, true},      // never recorded, PD down
		{25, "/pd/api/v1/stores", answer{200, jsonCT, string(storesBody(store(1, 1, "Offline")))}, false},
		{25, "/pd/api/v1/region/id/2", answer{200, regionsCT, string(region(2, "61", ""))}, false},
		{35, "/pd/api/v1/region/id/2", answer{200, regionsCT, string(region(2, "61", ""))}, false}, // the failed read is ignored
		{35, "/pd/api/v1/regions/count", answer{200, jsonCT, `{"count":2,"regions":null}`}, false}, // kept from 20 s
		{40, "/pd/api/v1/regions/count", answer{}, true},
		{40, "/pd/api/v1/store/1", answer{200, jsonCT, store(1, 1, "Offline")}, false}, // PD up at 40 s
		{40, "/pd/api/v1/config", notFound, false},
		{50, "/pd/api/v1/region/id/2", answer{404, jsonCT, `"[PD:region:ErrRegionNotFound]region 2 not found"`}, false},
		{50, "/pd/api/v1/regions/key?key=&limit=10", answer{200, regionsCT, `{"count":1,"regions":[` + string(region(1, "", "61")) + `]}`}, false},
	} {
		require.NoError(t, r.SetTime(sec(tc.at)))
		got, none := aborted(h, tc.uri)
		require.Equal(t, tc.none, none, "at %ds GET %s aborted", tc.at, tc.uri)
		if diff := cmp.Diff(tc.want, got); !tc.none && diff != "" {
			t.Errorf("at %ds GET %s (-want +got):\n%s", tc.at, tc.uri, diff)
		}
	}
	require.NoError(t, r.Err())
}

// TestReplayUnreachableIsUnavailable: over a real listener, an error line
// is a broken connection, which pdclient reports as unavailable.
func TestReplayUnreachableIsUnavailable(t *testing.T) {
	r := writeRecording(t,
		pdLine(0, allStoresPath, 200, "application/json; charset=UTF-8", string(storesBody(store(1, 0, "Up")))),
		errorLine(10, allStoresPath))
	srv := httptest.NewServer(r.Handler())
	defer srv.Close()
	pc := pdclient.DefaultConfig()
	pc.Endpoints = []string{srv.URL}
	pc.MembersRefreshInterval = -1
	pc.MaxAttempts = 1
	pd, err := pdclient.New(pc)
	require.NoError(t, err)
	defer pd.CloseIdleConnections()
	st, err := pd.Store(t.Context(), 1)
	require.NoError(t, err)
	require.Equal(t, uint64(1), st.Meta.ID)
	require.NoError(t, r.SetTime(sec(10)))
	_, err = pd.Store(t.Context(), 1)
	require.ErrorIs(t, err, subject.ErrUnavailable)
	var te *pdclient.TransportError
	require.True(t, errors.As(err, &te), "%v", err)
}

// TestReplayRegionsDoNotAddUp: a whole read whose lines do not add up to
// its count is an error the replay stops at.
func TestReplayRegionsDoNotAddUp(t *testing.T) {
	var buf bytes.Buffer
	w, err := record.NewWriter(&buf, record.Header{Start: replayStart, End: sec(100)})
	require.NoError(t, err)
	require.NoError(t, w.Write(regionsLine(10, record.Regions{Full: true, Count: 3, Changed: []json.RawMessage{region(1, "", "")}, Done: true})))
	require.NoError(t, w.Close(sec(100)))
	rd, err := record.NewReader(&buf)
	require.NoError(t, err)
	r, err := tikvtest.NewReplay(rd, tikvtest.ReplayConfig{Start: replayStart})
	require.NoError(t, err)
	err = r.SetTime(sec(10))
	require.ErrorIs(t, err, tikvtest.ErrBadArgument)
	require.ErrorIs(t, r.Err(), subject.ErrInvalid)
}

// TestReplayRealPD: the recording record.Record made of a real PD whose
// stores stopped answers as PD did: the stores Up, then Down, GET /stores
// and /store/{id} derived from the all-states answer, PD's text 404 for a
// scheduler not running, the regions of its whole read.
func TestReplayRealPD(t *testing.T) {
	const path = "../record/testdata/realpd-stores-down.jsonl"
	if _, err := os.Stat(path); err != nil {
		t.Fatal(err)
	}
	srv := tikvtest.NewReplayServer(t, path, tikvtest.ReplayConfig{})
	pc := pdclient.DefaultConfig()
	pc.Endpoints = []string{srv.URL}
	pd, err := pdclient.New(pc)
	require.NoError(t, err)
	defer pd.CloseIdleConnections()
	states := func() map[uint64]string {
		ss, err := pd.Stores(t.Context())
		require.NoError(t, err)
		out := map[uint64]string{}
		for _, s := range ss {
			out[s.Meta.ID] = s.Meta.StateName
			one, err := pd.Store(t.Context(), s.Meta.ID)
			require.NoError(t, err)
			require.Equal(t, s.Meta.StateName, one.Meta.StateName)
		}
		return out
	}
	require.Equal(t, map[uint64]string{1: "Up", 2: "Up", 3: "Up"}, states())
	n, err := pd.RegionCount(t.Context())
	require.NoError(t, err)
	require.Equal(t, 30, n)
	rs, err := pd.Regions(t.Context())
	require.NoError(t, err)
	require.Len(t, rs, 30)
	got := get(t, srv.Handler(), http.MethodGet, "/pd/api/v1/scheduler-config/evict-leader-scheduler/list")
	require.Equal(t, answer{404, "text/plain; charset=utf-8", "404 page not found\n"}, got)
	require.NoError(t, srv.SetTime(srv.Header().End))
	require.Equal(t, map[uint64]string{1: "Down", 2: "Down", 3: "Down"}, states())
	require.NoError(t, srv.Err())
}

// TestReadHistoryWindow: ReadHistory keeps the samples of [from, to] and
// of Prometheus' lookback before from; a zero bound leaves that side
// open, and a window ending before it starts is refused.
func TestReadHistoryWindow(t *testing.T) {
	var buf bytes.Buffer
	w, err := record.NewWriter(&buf, record.Header{Start: replayStart, End: replayStart.Add(time.Hour)})
	require.NoError(t, err)
	var samples []record.Sample
	for m := 0; m <= 60; m++ {
		samples = append(samples, record.Sample{T: replayStart.Add(time.Duration(m) * time.Minute), V: float64(m)})
	}
	for i := 0; i < len(samples); i += 20 { // three chunks of 20 minutes
		part := samples[i:min(i+20, len(samples))]
		require.NoError(t, w.Write(record.Entry{Kind: record.KindSeries, Series: &record.Series{From: part[0].T, To: part[len(part)-1].T,
			Labels: map[string]string{"__name__": "up", "instance": "a"}, Samples: part}}))
	}
	require.NoError(t, w.Close(replayStart.Add(time.Hour)))
	minutes := func(from, to time.Duration) []float64 {
		rd, err := record.NewReader(bytes.NewReader(buf.Bytes()))
		require.NoError(t, err)
		var f, e time.Time
		if from >= 0 {
			f = replayStart.Add(from)
		}
		if to >= 0 {
			e = replayStart.Add(to)
		}
		h, err := tikvtest.ReadHistory(rd, f, e)
		require.NoError(t, err)
		var out []float64
		for _, s := range h.Series() {
			for _, smp := range s.Samples {
				out = append(out, smp.Value)
			}
		}
		return out
	}
	require.Equal(t, []float64{25, 26, 27, 28, 29, 30, 31, 32}, minutes(30*time.Minute, 32*time.Minute))
	require.Len(t, minutes(-1, -1), 61)
	require.Len(t, minutes(55*time.Minute, -1), 11)
	require.Len(t, minutes(-1, 3*time.Minute), 4)
	rd, err := record.NewReader(bytes.NewReader(buf.Bytes()))
	require.NoError(t, err)
	_, err = tikvtest.ReadHistory(rd, replayStart.Add(time.Minute), replayStart)
	require.ErrorIs(t, err, tikvtest.ErrBadArgument)
}
