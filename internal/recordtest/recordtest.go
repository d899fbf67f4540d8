// Package recordtest records a simulated cluster (tikvtest) into the
// recording format of tikv/record, tick by tick, for the tests and the
// benchmark of the replay: the PD answers a tikv.Subject reads, the
// regions as a snapshot then deltas, and, at the end, the Prometheus
// series its invariants query, from the cluster's own History.
package recordtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"time"

	"github.com/kvops/operator/tikv/record"
	"github.com/kvops/operator/tikv/tikvtest"
)

// Paths are the GET requests recorded at each tick: what a tikv.Subject
// reads to judge its invariants and dry-run its actions.
var Paths = []string{
	"/pd/api/v1/stores?state=0&state=1&state=2",
	"/pd/api/v1/stores",
	"/pd/api/v1/members",
	"/pd/api/v1/config/schedule",
	"/pd/api/v1/schedulers",
	"/pd/api/v1/scheduler-config/evict-leader-scheduler/list",
	"/pd/api/v1/scheduler-config/evict-slow-store-scheduler/list",
	"/pd/api/v1/scheduler-config/evict-stopping-store-scheduler/list",
	"/pd/api/v1/operators",
	"/pd/api/v2/maintenance",
}

// Families are the series names recorded: those tikv's invariants query
// (promclient's families) and up.
var Families = map[string]bool{
	"up": true,
	"tikv_storage_engine_async_request_duration_seconds_bucket": true,
	"tikv_grpc_msg_duration_seconds_bucket":                     true,
	"tikv_store_size_bytes":                                     true,
	"process_cpu_seconds_total":                                 true,
	"tikv_server_cpu_cores_quota":                               true,
	"tikv_thread_cpu_seconds_total":                             true,
	"tikv_raftstore_region_count":                               true,
	"process_start_time_seconds":                                true,
}

// Recorder writes a recording of a cluster. Call Tick after each
// advance of the cluster's clock, then Close.
type Recorder struct {
	c    *tikvtest.Cluster
	h    http.Handler
	w    *record.Writer
	prev map[uint64][]byte // region objects of the previous tick
}

// New starts a recording of c (which records its metrics:
// tikvtest.Config.RecordMetrics) on out, with hdr's window and interval,
// and records the cluster as it is now.
func New(c *tikvtest.Cluster, out io.Writer, hdr record.Header) (*Recorder, error) {
	w, err := record.NewWriter(out, hdr)
	if err != nil {
		return nil, err
	}
	r := &Recorder{c: c, h: c.PDHandler(), w: w}
	return r, r.Tick()
}

// Tick records PD's answers and the regions' changes at the cluster's
// time.
func (r *Recorder) Tick() error {
	at := r.c.Now()
	for _, p := range Paths {
		rec := httptest.NewRecorder()
		r.h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, p, nil))
		body := bytes.TrimSpace(rec.Body.Bytes())
		if len(body) > 0 && !json.Valid(body) {
			b, _ := json.Marshal(rec.Body.String())
			body = b
		}
		if err := r.w.Write(record.Entry{Kind: record.KindPD, PD: &record.PD{At: at, Path: p, Status: rec.Code, Body: body}}); err != nil {
			return err
		}
	}
	return r.regions(at)
}

func (r *Recorder) regions(at time.Time) error {
	rec := httptest.NewRecorder()
	r.h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/pd/api/v1/regions", nil))
	var list struct {
		Regions []json.RawMessage `json:"regions"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &list); err != nil {
		return fmt.Errorf("recordtest: regions: %w", err)
	}
	cur := make(map[uint64][]byte, len(list.Regions))
	var changed []json.RawMessage
	for _, raw := range list.Regions {
		var o struct {
			ID uint64 `json:"id"`
		}
		if err := json.Unmarshal(raw, &o); err != nil {
			return err
		}
		cur[o.ID] = raw
		if old, ok := r.prev[o.ID]; !ok || !bytes.Equal(old, raw) {
			changed = append(changed, raw)
		}
	}
	full := r.prev == nil
	var removed []uint64
	for id := range r.prev {
		if _, ok := cur[id]; !ok {
			removed = append(removed, id)
		}
	}
	slices.Sort(removed)
	r.prev = cur
	if !full && len(changed) == 0 && len(removed) == 0 {
		return nil
	}
	const chunk = 5000
	for i := 0; i == 0 || i < len(changed); i += chunk {
		part := changed[i:min(i+chunk, len(changed))]
		e := &record.Regions{At: at, Full: full, Count: len(cur), Changed: part}
		if i == 0 {
			e.Removed = removed
		}
		if err := r.w.Write(record.Entry{Kind: record.KindRegions, Regions: e}); err != nil {
			return err
		}
	}
	return nil
}

// Write writes an entry of the caller's (series it made, say).
func (r *Recorder) Write(e record.Entry) error { return r.w.Write(e) }

// Close writes the cluster's recorded series of Families, one line each
// over the whole window, and the end line.
func (r *Recorder) Close() error {
	for _, s := range r.c.History().Series() {
		if !Families[s.Name] || len(s.Samples) == 0 {
			continue
		}
		labels := maps.Clone(s.Labels)
		if labels == nil {
			labels = map[string]string{}
		}
		labels["__name__"] = s.Name
		e := &record.Series{From: s.Samples[0].At, To: s.Samples[len(s.Samples)-1].At, Labels: labels}
		for _, smp := range s.Samples {
			e.Samples = append(e.Samples, record.Sample{T: smp.At, V: smp.Value})
		}
		if err := r.w.Write(record.Entry{Kind: record.KindSeries, Series: e}); err != nil {
			return err
		}
	}
	return r.w.Close(r.c.Now())
}
