package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/kvops/operator/internal/promrun"
	"github.com/kvops/operator/subject"
)

// The backfilled metrics: every store's TiKV series that promclient's
// default queries read, for the 6 minutes before the end time (the
// restart window is 5 minutes), one sample every 15 s, as Prometheus
// scraping a healthy cluster would have stored them.
const (
	sampleStep = 15 * time.Second
	samples    = 25
)

// latencyBounds are the histogram buckets written (+Inf follows).
var latencyBounds = []float64{0.001, 0.002, 0.004, 0.008, 0.016, 0.064, 0.256, 1.024}

// writeBackfill writes the OpenMetrics text for the stores, instance
// label from instance(store), to file.
func writeBackfill(file string, stores []subject.Store, instance func(subject.Store) string, end time.Time) error {
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	start := end.Add(-(samples - 1) * sampleStep)
	series := func(name, labels string, value func(k int) float64) {
		for k := range samples {
			ts := start.Add(time.Duration(k) * sampleStep).Unix()
			w.WriteString(name)
			w.WriteByte('{')
			w.WriteString(labels)
			w.WriteString("} ")
			w.WriteString(strconv.FormatFloat(value(k), 'g', -1, 64))
			w.WriteByte(' ')
			w.WriteString(strconv.FormatInt(ts, 10))
			w.WriteByte('\n')
		}
	}
	// histogram writes cumulative buckets: perSample observations a
	// sample interval, all in bucket b.
	histogram := func(name, labels string, b int, perSample float64) {
		for i := 0; i <= len(latencyBounds); i++ {
			le := "+Inf"
			if i < len(latencyBounds) {
				le = strconv.FormatFloat(latencyBounds[i], 'g', -1, 64)
			}
			in := 0.0
			if i >= b {
				in = perSample
			}
			series(name+"_bucket", labels+`,le="`+le+`"`, func(k int) float64 { return in * float64(k) })
		}
		series(name+"_count", labels, func(k int) float64 { return perSample * float64(k) })
	}
	labels := make([]string, len(stores))
	for i, s := range stores {
		labels[i] = `instance="` + instance(s) + `",job="tikv"`
	}
	family := func(name, typ string) { fmt.Fprintf(w, "# TYPE %s %s\n", name, typ) }
	family("tikv_storage_engine_async_request_duration_seconds", "histogram")
	for _, l := range labels {
		histogram("tikv_storage_engine_async_request_duration_seconds", l+`,type="write"`, 2, 750) // (2ms, 4ms]
	}
	family("tikv_grpc_msg_duration_seconds", "histogram")
	for _, l := range labels {
		histogram("tikv_grpc_msg_duration_seconds", l+`,type="kv_prewrite"`, 3, 750) // (4ms, 8ms]
	}
	family("tikv_store_size_bytes", "gauge")
	for i, l := range labels {
		s := stores[i]
		series("tikv_store_size_bytes", l+`,type="capacity"`, func(int) float64 { return float64(s.Capacity) })
		series("tikv_store_size_bytes", l+`,type="available"`, func(int) float64 { return float64(s.Available) })
	}
	family("process_cpu_seconds", "counter")
	for _, l := range labels {
		series("process_cpu_seconds_total", l, func(k int) float64 { return 1.5 * sampleStep.Seconds() * float64(k) })
	}
	family("tikv_server_cpu_cores_quota", "gauge")
	for _, l := range labels {
		series("tikv_server_cpu_cores_quota", l, func(int) float64 { return 8 })
	}
	family("tikv_thread_cpu_seconds", "counter")
	for _, l := range labels {
		series("tikv_thread_cpu_seconds_total", l+`,name="raftstore_0",tid="1"`, func(k int) float64 { return 0.3 * sampleStep.Seconds() * float64(k) })
	}
	family("tikv_raftstore_region_count", "gauge")
	for i, l := range labels {
		s := stores[i]
		series("tikv_raftstore_region_count", l+`,type="leader"`, func(int) float64 { return float64(s.LeaderCount) })
		series("tikv_raftstore_region_count", l+`,type="region"`, func(int) float64 { return float64(s.RegionCount) })
	}
	family("process_start_time_seconds", "gauge")
	for _, l := range labels {
		series("process_start_time_seconds", l, func(int) float64 { return float64(end.Add(-time.Hour).Unix()) })
	}
	w.WriteString("# EOF\n")
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// startPrometheus backfills the stores' metrics into a new TSDB and starts
// a real Prometheus on it. The caller stops it.
func startPrometheus(ctx context.Context, dir string, stores []subject.Store, instance func(subject.Store) string, end time.Time) (*promrun.Server, error) {
	in := filepath.Join(dir, "backfill.om")
	if err := writeBackfill(in, stores, instance, end); err != nil {
		return nil, fmt.Errorf("write backfill: %w", err)
	}
	data := filepath.Join(dir, "data")
	if err := promrun.Backfill(ctx, in, data); err != nil {
		return nil, err
	}
	if err := os.Remove(in); err != nil {
		return nil, err
	}
	return promrun.Start(ctx, promrun.Config{DataDir: data})
}
