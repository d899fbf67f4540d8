package pdclient

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"
)

func noSleep(ctx context.Context, _ time.Duration) error { return ctx.Err() }

// fixtureCase exercises one recorded exchange: call makes the request;
// for a 2xx exchange, what it returns is compared with the recorded body
// (see compareRecorded); for an error exchange, its error must be an
// *APIError of kind wantErr carrying PD's message verbatim.
type fixtureCase struct {
	call func(ctx context.Context, c *Client) (any, error)
	// project picks, from the recorded body, what call's result is
	// compared with; nil means the whole body.
	project func(t *testing.T, recorded any) any
	// subset: the recorded object may hold keys the result's type does
	// not model (PD's configuration has dozens).
	subset bool
	// wantErr is the sentinel of an error exchange.
	wantErr error
	// wantMsg is PD's message when it is not the recorded body itself (the
	// "msg" of an error object).
	wantMsg string
	// wantCode is the PD error code expected, if any.
	wantCode string
}

func regionsOf(t *testing.T, recorded any) any {
	m := recorded.(map[string]any)
	rs := m["regions"].([]any)
	require.Equal(t, json.Number(fmt.Sprint(len(rs))), m["count"], "recorded count matches its regions")
	return rs
}

func storesOf(t *testing.T, recorded any) any {
	m := recorded.(map[string]any)
	ss := m["stores"].([]any)
	require.Equal(t, json.Number(fmt.Sprint(len(ss))), m["count"])
	return ss
}

func field(name string) func(*testing.T, any) any {
	return func(_ *testing.T, recorded any) any { return recorded.(map[string]any)[name] }
}

func call[T any](f func(ctx context.Context, c *Client) (T, error)) func(context.Context, *Client) (any, error) {
	return func(ctx context.Context, c *Client) (any, error) { return f(ctx, c) }
}

func method[T any](f func(c *Client, ctx context.Context) (T, error)) func(context.Context, *Client) (any, error) {
	return func(ctx context.Context, c *Client) (any, error) { return f(c, ctx) }
}

func write(f func(ctx context.Context, c *Client) error) func(context.Context, *Client) (any, error) {
	return func(ctx context.Context, c *Client) (any, error) { return nil, f(ctx, c) }
}

var (
	stores      = call(func(ctx context.Context, c *Client) ([]Store, error) { return c.Stores(ctx) })
	health      = method((*Client).Health)
	leader      = method((*Client).Leader)
	members     = method((*Client).Members)
	clusterStat = method((*Client).ClusterStatus)
	schedConfig = method((*Client).ScheduleConfig)
	operators   = method((*Client).Operators)
	schedulers  = method((*Client).Schedulers)
	storesDown  = call(func(ctx context.Context, c *Client) ([]Store, error) { return c.StoresInState(ctx, "down") })
	storeByID   = func(id uint64) func(context.Context, *Client) (any, error) {
		return call(func(ctx context.Context, c *Client) (*Store, error) { return c.Store(ctx, id) })
	}
	check = func(k RegionCheck) func(context.Context, *Client) (any, error) {
		return call(func(ctx context.Context, c *Client) ([]Region, error) { return c.CheckRegions(ctx, k) })
	}
	evictLeader = func(id uint64) func(context.Context, *Client) (any, error) {
		return write(func(ctx context.Context, c *Client) error { return c.EvictLeader(ctx, id) })
	}
	topWrite3 = call(func(ctx context.Context, c *Client) ([]Region, error) { return c.TopRegions(ctx, TopWriteFlow, 3) })
	configSet = func(k string, v any) func(context.Context, *Client) (any, error) {
		return write(func(ctx context.Context, c *Client) error { return c.SetConfig(ctx, map[string]any{k: v}) })
	}
)

// pdCases covers every exchange in testdata/pd.
var pdCases = map[string]fixtureCase{
	"cluster-status-disconnected": {call: clusterStat},
	"cluster-status":              {call: clusterStat},
	"cluster":                     {call: method((*Client).Cluster)},
	"config-replicate":            {call: method((*Client).ReplicationConfig)},
	"config-schedule-after":       {call: schedConfig, subset: true},
	"config-schedule":             {call: schedConfig, subset: true},
	"config-set-bad-value":        {call: configSet("leader-schedule-limit", "abc"), wantErr: ErrBadRequest},
	"config-set-leader-limit": {call: write(func(ctx context.Context, c *Client) error {
		return c.SetLeaderScheduleLimit(ctx, 8)
	})},
	"config-set-low-space-invalid": {call: write(func(ctx context.Context, c *Client) error {
		return c.SetLowSpaceRatio(ctx, 0.5)
	}), wantErr: ErrBadRequest},
	"config-set-low-space": {call: write(func(ctx context.Context, c *Client) error {
		return c.SetLowSpaceRatio(ctx, 0.85)
	})},
	"config-set-max-down": {call: write(func(ctx context.Context, c *Client) error {
		return c.SetMaxStoreDownTime(ctx, 40*time.Second)
	})},
	"config-set-region-limit": {call: write(func(ctx context.Context, c *Client) error {
		return c.SetRegionScheduleLimit(ctx, 1024)
	})},
	"config-set-replica-limit": {call: write(func(ctx context.Context, c *Client) error {
		return c.SetReplicaScheduleLimit(ctx, 32)
	})},
	"config-set-unknown-key": {call: configSet("no-such-key", 1), wantErr: ErrBadRequest},
	"config": {call: call(func(ctx context.Context, c *Client) (any, error) {
		cfg, err := c.Config(ctx)
		if err != nil {
			return nil, err
		}
		// The typed sections, and every section kept raw.
		raw := map[string]any{}
		for k, v := range cfg.Raw {
			raw[k] = v
		}
		return map[string]any{"schedule": cfg.Schedule, "replication": cfg.Replication, "raw": raw}, nil
	}), project: func(_ *testing.T, recorded any) any {
		m := recorded.(map[string]any)
		return map[string]any{"schedule": m["schedule"], "replication": m["replication"], "raw": m}
	}, subset: true},
	"health":                   {call: health},
	"hotspot-read":             {call: method((*Client).HotReadRegions)},
	"hotspot-stores":           {call: method((*Client).HotStores)},
	"hotspot-write":            {call: method((*Client).HotWriteRegions)},
	"leader":                   {call: leader},
	"members":                  {call: members},
	"operator-delete-none":     {call: write(func(ctx context.Context, c *Client) error { return c.CancelOperator(ctx, 12345) }), wantErr: ErrNotFound, wantCode: "PD:operator:ErrOperatorNotFound"},
	"operator-delete-region-9": {call: write(func(ctx context.Context, c *Client) error { return c.CancelOperator(ctx, 9) })},
	"operator-malformed-json": {call: write(func(ctx context.Context, c *Client) error {
		return c.Do(ctx, http.MethodPost, "/operators", []byte(`{"name":`), nil)
	}), wantErr: ErrBadRequest, wantMsg: "unexpected end of JSON input", wantCode: "input"},
	"operator-missing-field": {call: write(func(ctx context.Context, c *Client) error {
		return c.CreateOperator(ctx, OperatorRequest{Name: "transfer-leader", RegionID: 9})
	}), wantErr: ErrBadRequest},
	"operator-records":  {call: call(func(ctx context.Context, c *Client) ([]string, error) { return c.OperatorRecords(ctx, time.Time{}) })},
	"operator-region-9": {call: call(func(ctx context.Context, c *Client) (string, error) { return c.Operator(ctx, 9) })},
	"operator-split-bad-policy": {call: write(func(ctx context.Context, c *Client) error {
		return c.CreateOperator(ctx, OperatorRequest{Name: "split-region", RegionID: 9, Policy: "nope"})
	}), wantErr: ErrBadRequest},
	"operator-split-region": {call: write(func(ctx context.Context, c *Client) error { return c.SplitRegion(ctx, 9, SplitApproximate) })},
	"operator-transfer-leader-bad-region": {call: write(func(ctx context.Context, c *Client) error { return c.TransferLeader(ctx, 999999, 1) }),
		wantErr: ErrNotFound, wantCode: "PD:region:ErrRegionNotFound"},
	"operator-transfer-leader-no-peer": {call: write(func(ctx context.Context, c *Client) error { return c.TransferLeader(ctx, 9, 4) }), wantErr: ErrPrecondition},
	"operator-transfer-leader":         {call: write(func(ctx context.Context, c *Client) error { return c.TransferLeader(ctx, 9, 5) })},
	"operator-unknown-name": {call: write(func(ctx context.Context, c *Client) error {
		return c.CreateOperator(ctx, OperatorRequest{Name: "no-such-operator", RegionID: 9})
	}), wantErr: ErrBadRequest},
	"operators-after-transfer": {call: operators},
	"operators-empty":          {call: operators},
	"ping":                     {call: write(func(ctx context.Context, c *Client) error { return c.Ping(ctx) })},
	"region-9-after-transfer":  {call: call(func(ctx context.Context, c *Client) (*Region, error) { return c.RegionByID(ctx, 9) })},
	"region-not-found": {call: call(func(ctx context.Context, c *Client) (*Region, error) { return c.RegionByID(ctx, 999999) }),
		wantErr: ErrNotFound, wantCode: "PD:region:ErrRegionNotFound"},
	"regions-all":                   {call: method((*Client).Regions), project: regionsOf},
	"regions-check-down-peer-after": {call: check(CheckDownPeer), project: regionsOf},
	"regions-check-down-peer":       {call: check(CheckDownPeer), project: regionsOf},
	"regions-check-miss-peer":       {call: check(CheckMissPeer), project: regionsOf},
	"regions-check-pending-peer":    {call: check(CheckPendingPeer), project: regionsOf},
	"regions-count":                 {call: method((*Client).RegionCount), project: field("count")},
	"regions-key-limit5": {call: call(func(ctx context.Context, c *Client) ([]Region, error) { return c.ScanRegions(ctx, "", "", 5) }),
		project: regionsOf},
	"regions-store-1-limit3": {call: call(func(ctx context.Context, c *Client) ([]Region, error) { return c.RegionsByStore(ctx, 1, 3) }),
		// PD ignored limit=3 and sent 1,002 regions; the client keeps 3.
		project: func(t *testing.T, recorded any) any { return regionsOf(t, recorded).([]any)[:3] }},
	"regions-writeflow-active":         {call: topWrite3, project: regionsOf},
	"regions-writeflow-top3":           {call: topWrite3, project: regionsOf},
	"scheduler-add-evict-leader-again": {call: evictLeader(1)},
	"scheduler-add-evict-leader-bad-store": {call: evictLeader(999), wantErr: ErrNotFound,
		wantCode: "PD:core:ErrStoreNotFound"},
	"scheduler-add-evict-leader":    {call: evictLeader(1)},
	"scheduler-config-evict-leader": {call: method((*Client).EvictLeaderConfig)},
	"scheduler-delete-evict-leader": {call: write(func(ctx context.Context, c *Client) error { return c.RemoveEvictLeader(ctx, 1) })},
	"scheduler-delete-missing":      {call: write(func(ctx context.Context, c *Client) error { return c.RemoveEvictLeader(ctx, 3) }), wantErr: ErrNotFound},
	"schedulers-with-evict":         {call: schedulers},
	"schedulers":                    {call: schedulers},
	"status":                        {call: method((*Client).Status)},
	"store-1-label": {call: write(func(ctx context.Context, c *Client) error {
		return c.SetStoreLabels(ctx, 1, map[string]string{"zone": "z1"})
	})},
	"store-1-weight":        {call: write(func(ctx context.Context, c *Client) error { return c.SetStoreWeight(ctx, 1, 2, 1) })},
	"store-1":               {call: storeByID(1)},
	"store-4-after-cancel":  {call: storeByID(4)},
	"store-4-cancel-delete": {call: write(func(ctx context.Context, c *Client) error { return c.CancelOffline(ctx, 4) })},
	"store-4-delete":        {call: write(func(ctx context.Context, c *Client) error { return c.DeleteStore(ctx, 4) })},
	"store-4-offline":       {call: storeByID(4)},
	"store-bad-id": {call: write(func(ctx context.Context, c *Client) error {
		return c.Do(ctx, http.MethodGet, "/store/abc", nil, new(Store))
	}),
		wantErr: ErrBadRequest, wantMsg: `strconv.ParseUint: parsing "abc": invalid syntax`, wantCode: "input"},
	"store-delete-missing": {call: write(func(ctx context.Context, c *Client) error { return c.DeleteStore(ctx, 999) }),
		wantErr: ErrNotFound, wantCode: "PD:core:ErrStoreNotFound"},
	"store-not-found":         {call: storeByID(999), wantErr: ErrNotFound, wantCode: "PD:core:ErrStoreNotFound"},
	"stores-check-down-after": {call: storesDown, project: storesOf},
	"stores-check-down":       {call: storesDown, project: storesOf},
	"stores-disconnected":     {call: stores, project: storesOf},
	"stores-down":             {call: stores, project: storesOf},
	"stores-evicting":         {call: stores, project: storesOf},
	"stores-limit":            {call: method((*Client).StoreLimits)},
	"stores":                  {call: stores, project: storesOf},
	"version":                 {call: method((*Client).Version)},
}

// clusterCases covers every exchange in testdata/pd-cluster.
var clusterCases = map[string]fixtureCase{
	"config-set-via-follower": {call: write(func(ctx context.Context, c *Client) error { return c.SetLeaderScheduleLimit(ctx, 6) })},
	"health-3":                {call: health},
	"health-leader-killed":    {call: health},
	"leader-after-election":   {call: leader},
	"leader-during-election":  {call: leader},
	"leader-from-follower":    {call: leader},
	"members-3":               {call: members},
	"members-leader-killed":   {call: members},
	"operator-via-follower": {call: write(func(ctx context.Context, c *Client) error { return c.TransferLeader(ctx, 9, 5) }),
		wantErr: ErrPrecondition},
	"stores-after-election":              {call: stores, project: storesOf},
	"stores-follower-leader-just-killed": {call: stores, project: storesOf},
	"stores-from-follower":               {call: stores, project: storesOf},
	"stores-from-leader":                 {call: stores, project: storesOf},
}

func TestFixtures(t *testing.T) {
	for _, set := range []struct {
		dir   string
		cases map[string]fixtureCase
	}{{"pd", pdCases}, {"pd-cluster", clusterCases}} {
		files, err := filepath.Glob(filepath.Join("testdata", set.dir, "*.json"))
		require.NoError(t, err)
		require.NotEmpty(t, files)
		var names []string
		for _, f := range files {
			names = append(names, strings.TrimSuffix(filepath.Base(f), ".json"))
		}
		slices.Sort(names)
		var caseNames []string
		for n := range set.cases {
			caseNames = append(caseNames, n)
		}
		slices.Sort(caseNames)
		// Every recorded exchange has a case, and every case a recording.
		require.Equal(t, names, caseNames, "cases for testdata/%s", set.dir)

		for _, name := range names {
			t.Run(set.dir+"/"+name, func(t *testing.T) {
				runFixture(t, loadExchange(t, set.dir, name), set.cases[name])
			})
		}
	}
}

func runFixture(t *testing.T, ex exchange, fc fixtureCase) {
	rs := newReplayServer(t, ex)
	c := newTestClient(t, rs.srv.URL)
	got, err := fc.call(t.Context(), c)
	require.Equal(t, 1, rs.count("", ""), "requests sent")

	if ex.Response.Status/100 != 2 {
		require.NotNil(t, fc.wantErr, "recorded status %d: the case must name the error", ex.Response.Status)
		require.Error(t, err)
		var ae *APIError
		require.ErrorAs(t, err, &ae)
		if !errors.Is(err, fc.wantErr) {
			t.Errorf("error %v (kind %v) does not match %v", err, ae.Kind(), fc.wantErr)
		}
		want := fc.wantMsg
		if want == "" {
			var s *string
			require.NoError(t, json.Unmarshal(ex.Response.Body, &s))
			if s != nil {
				want = *s
			}
		}
		if d := cmp.Diff(want, ae.Message); d != "" {
			t.Errorf("message not PD's verbatim (-want +got):\n%s", d)
		}
		if ae.Status != ex.Response.Status || ae.Method != ex.Request.Method || ae.Path != ex.Request.Path {
			t.Errorf("APIError %s %s %d, recorded %s %s %d", ae.Method, ae.Path, ae.Status,
				ex.Request.Method, ex.Request.Path, ex.Response.Status)
		}
		if ae.Code != fc.wantCode {
			t.Errorf("code %q, want %q", ae.Code, fc.wantCode)
		}
		return
	}
	require.Nil(t, fc.wantErr, "recorded status %d", ex.Response.Status)
	require.NoError(t, err)
	if got == nil {
		return // a write: the request check is the test
	}
	recorded := generic(t, responseBody(t, ex))
	if fc.project != nil {
		recorded = fc.project(t, recorded)
	}
	b, err := json.Marshal(got)
	require.NoError(t, err)
	var diffs []string
	diffJSON("", recorded, generic(t, b), fc.subset, &diffs)
	if len(diffs) > 0 {
		t.Errorf("decoded result differs from the recorded body:\n%s", strings.Join(diffs[:min(len(diffs), 20)], "\n"))
	}
}

// diffJSON compares a recorded JSON value with the client's result
// re-encoded, both decoded generically. Every key of the result must hold
// the recorded value; every recorded key must be in the result, unless
// subset is set (the type models only some of PD's keys).
func diffJSON(path string, want, got any, subset bool, diffs *[]string) {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			*diffs = append(*diffs, fmt.Sprintf("%s: recorded an object, got %T", path, got))
			return
		}
		for k, gv := range g {
			wv, ok := w[k]
			if !ok {
				*diffs = append(*diffs, fmt.Sprintf("%s.%s: not in the recording (got %v)", path, k, gv))
				continue
			}
			diffJSON(path+"."+k, wv, gv, subset, diffs)
		}
		if !subset {
			for k := range w {
				if _, ok := g[k]; !ok {
					*diffs = append(*diffs, fmt.Sprintf("%s.%s: recorded %v, missing from the result", path, k, w[k]))
				}
			}
		}
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			*diffs = append(*diffs, fmt.Sprintf("%s: recorded %d elements, got %v", path, len(w), summarize(got)))
			return
		}
		for i := range w {
			diffJSON(fmt.Sprintf("%s[%d]", path, i), w[i], g[i], subset, diffs)
		}
	default:
		if !cmp.Equal(want, got) {
			*diffs = append(*diffs, fmt.Sprintf("%s: recorded %v, got %v", path, want, got))
		}
	}
}

func summarize(v any) string {
	if a, ok := v.([]any); ok {
		return fmt.Sprintf("%d elements", len(a))
	}
	return fmt.Sprintf("%T", v)
}

// TestFixtureMeaning checks values the generic comparison cannot: sizes
// parsed to bytes and both heartbeat encodings, on recorded answers (the
// conversion to package subject is tikv's: tikv/convert_test.go).
func TestFixtureMeaning(t *testing.T) {
	ex := loadExchange(t, "pd", "stores-evicting")
	rs := newReplayServer(t, ex)
	c := newTestClient(t, rs.srv.URL)
	ss, err := c.Stores(t.Context())
	require.NoError(t, err)
	require.Len(t, ss, 5)
	s5 := ss[0]
	hb := time.Date(2026, 11, 27, 12, 36, 26, 563680990, time.UTC)
	want := Store{
		Meta: StoreMeta{ID: 5, Address: "mock:://tikv-5:5", Version: "v8.5.0", StateName: "Up", NodeState: 1,
			LastHeartbeat: hb},
		Status: StoreStatus{
			Capacity: 1 << 40, Available: 8365 << 30 / 10, UsedSize: 1875 << 30 / 10,
			CapacityText: "1TiB", AvailableText: "836.5GiB", UsedSizeText: "187.5GiB",
			LeaderCount: 738, LeaderWeight: 1, LeaderScore: 738, LeaderSize: 70848,
			RegionCount: 1988, RegionWeight: 1, RegionScore: 248835.81801064833, RegionSize: 190848,
			StartTS: time.Unix(0, 0).UTC(), LastHeartbeatTS: hb,
			Uptime: 498828*time.Hour + 36*time.Minute + 26563680990*time.Nanosecond,
		},
	}
	if d := cmp.Diff(want, s5); d != "" {
		t.Errorf("store 5 (-want +got):\n%s", d)
	}
	require.True(t, ss[3].Status.PauseLeaderTransferIn, "store 1 is evicting leaders")
}

// TestHotRegionsShape decodes a non-empty hot-region answer written by
// hand in the shape PD's source gives (the recorded ones are empty).
func TestHotRegionsShape(t *testing.T) {
	body := `{"as_peer":{"2":{"store_bytes":4194304,"store_keys":10,"store_query":5,"store_cpu":0,
	  "total_flow_bytes":4194304,"total_flow_keys":10,"total_flow_query":5,"total_flow_cpu":0,"regions_count":2,
	  "statistics":[
	    {"store_id":2,"stores":[2,3,4],"is_leader":true,"is_learner":false,"region_id":73,"hot_degree":5,
	     "flow_bytes":3145728,"flow_keys":7,"flow_query":3,"flow_cpu":0.5,"anti_count":2,
	     "last_update_time":"2026-11-27T12:40:00.5Z"},
	    {"store_id":2,"stores":[2,3,4],"is_leader":false,"is_learner":false,"region_id":53,"hot_degree":1,
	     "flow_bytes":1048576,"flow_keys":3,"flow_query":2,"flow_cpu":0,"anti_count":1,
	     "last_update_time":"2026-11-27T12:40:01Z"}]}},
	 "as_leader":{}}`
	srv := newRawServer(t, http.StatusOK, "application/json; charset=UTF-8", body)
	c := newTestClient(t, srv.URL)
	h, err := c.HotWriteRegions(t.Context())
	require.NoError(t, err)
	want := &HotRegions{
		AsPeer: map[uint64]HotStoreStats{2: {
			StoreBytes: 4194304, StoreKeys: 10, StoreQuery: 5, TotalFlowBytes: 4194304, TotalFlowKeys: 10,
			TotalFlowQuery: 5, RegionsCount: 2,
			Statistics: []HotPeerStat{
				{StoreID: 2, Stores: []uint64{2, 3, 4}, IsLeader: true, RegionID: 73, HotDegree: 5,
					FlowBytes: 3145728, FlowKeys: 7, FlowQuery: 3, FlowCPU: 0.5, AntiCount: 2,
					LastUpdateTime: time.Date(2026, 11, 27, 12, 40, 0, 5e8, time.UTC)},
				{StoreID: 2, Stores: []uint64{2, 3, 4}, RegionID: 53, HotDegree: 1,
					FlowBytes: 1048576, FlowKeys: 3, FlowQuery: 2, AntiCount: 1,
					LastUpdateTime: time.Date(2026, 11, 27, 12, 40, 1, 0, time.UTC)},
			},
		}},
		AsLeader: map[uint64]HotStoreStats{},
	}
	if d := cmp.Diff(want, h); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
}

func TestEvictLeaderConfigStores(t *testing.T) {
	ex := loadExchange(t, "pd", "scheduler-config-evict-leader")
	var e EvictLeaderConfig
	require.NoError(t, json.Unmarshal(ex.Response.Body, &e))
	require.Equal(t, []uint64{1}, e.Stores())
	require.Equal(t, 3, e.Batch)
}

func TestScheduleConfigTyped(t *testing.T) {
	ex := loadExchange(t, "pd", "config-schedule")
	var s ScheduleConfig
	require.NoError(t, json.Unmarshal(ex.Response.Body, &s))
	require.Equal(t, Duration(30*time.Minute), s.MaxStoreDownTime)
	require.Equal(t, uint64(4), s.LeaderScheduleLimit)
	require.Equal(t, 0.8, s.LowSpaceRatio)
	require.True(t, s.EnableRemoveDownReplica)
	require.Equal(t, StoreLimit{AddPeer: 15, RemovePeer: 15}, s.StoreLimit[3])
	require.True(t, json.Valid(s.Raw))
}

// newRawServer answers every request with the same status and body.
func newRawServer(t testing.TB, status int, contentType, body string) *rawServer {
	rs := &rawServer{}
	rs.Server = newHTTPServer(t, func(w http.ResponseWriter, r *http.Request) {
		rs.hits.Add(1)
		if contentType != "" {
			w.Header().Set("Content-Type", contentType)
		}
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	})
	return rs
}
