package promclient_test

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// The backfilled scenario: five TiKV stores over the hour before now,
// one sample every 15 s.
//
//   - store 1: healthy; every write in (2 ms, 4 ms], so p99 = 3.98 ms.
//   - store 2: from now-20m, 12 of each 1000 writes take (256 ms, 512 ms],
//     so p99 = 256 ms + 256 ms/6 = 298.67 ms.
//   - store 3: disk 90 % used, restarted 2 minutes ago.
//   - store 4: no series at all.
//   - store 5: no writes (its write histogram never moves: p99 is NaN),
//     and a CPU quota of +Inf.
//
// Every store with series has gRPC messages in (4 ms, 8 ms] (p99 7.96 ms)
// and kv_gc messages above 1.024 s that the gRPC query must leave out.
const (
	step          = 15 * time.Second
	samples       = 241 // an hour and its end point
	slowFromIndex = 160 // the interval after sample 160 (now-20m) is the first slow one
)

var bounds = []float64{0.001, 0.002, 0.004, 0.008, 0.016, 0.032, 0.064, 0.128, 0.256, 0.512, 1.024} // +Inf follows

func inst(i int) string { return fmt.Sprintf("tikv-%d:20180", i) }

// scenarioStores are the stores that have series.
var scenarioStores = []int{1, 2, 3, 5}

type scenarioWriter struct {
	b     strings.Builder
	start time.Time
}

func (w *scenarioWriter) family(name, typ string) { fmt.Fprintf(&w.b, "# TYPE %s %s\n", name, typ) }

// series writes one series, value(k) at sample k.
func (w *scenarioWriter) series(name, labels string, value func(k int) float64) {
	for k := range samples {
		ts := w.start.Add(time.Duration(k) * step).Unix()
		fmt.Fprintf(&w.b, "%s{%s} %s %d\n", name, labels, strconv.FormatFloat(value(k), 'g', -1, 64), ts)
	}
}

// histogram writes a histogram's buckets and count; perInterval(k) gives
// how many observations fall in each bucket (len(bounds)+1 of them)
// between samples k-1 and k.
func (w *scenarioWriter) histogram(name, labels string, perInterval func(k int) []float64) {
	n := len(bounds) + 1
	cum := make([][]float64, samples) // cum[k][b]: observations in bucket b up to sample k
	for k := range samples {
		cum[k] = make([]float64, n)
		if k > 0 {
			inc := perInterval(k)
			for b := range n {
				cum[k][b] = cum[k-1][b] + inc[b]
			}
		}
	}
	le := func(k, upTo int) float64 {
		var s float64
		for b := 0; b <= upTo; b++ {
			s += cum[k][b]
		}
		return s
	}
	for b := range n {
		leStr := "+Inf"
		if b < len(bounds) {
			leStr = strconv.FormatFloat(bounds[b], 'g', -1, 64)
		}
		w.series(name+"_bucket", labels+`,le="`+leStr+`"`, func(k int) float64 { return le(k, b) })
	}
	w.series(name+"_count", labels, func(k int) float64 { return le(k, n-1) })
}

// only returns per-interval counts with c observations in bucket b.
func only(b int, c float64) []float64 {
	inc := make([]float64, len(bounds)+1)
	inc[b] = c
	return inc
}

func scenario(now time.Time) string {
	w := &scenarioWriter{start: now.Add(-time.Duration(samples-1) * step)}
	base := func(i int) string { return fmt.Sprintf(`instance="%s",job="tikv"`, inst(i)) }

	w.family("tikv_storage_engine_async_request_duration_seconds", "histogram")
	for _, i := range scenarioStores {
		w.histogram("tikv_storage_engine_async_request_duration_seconds", base(i)+`,type="write"`, func(k int) []float64 {
			switch {
			case i == 5:
				return only(0, 0)
			case i == 2 && k > slowFromIndex:
				inc := only(2, 988)
				inc[9] = 12
				return inc
			}
			return only(2, 1000)
		})
	}
	w.family("tikv_grpc_msg_duration_seconds", "histogram")
	for _, i := range scenarioStores {
		w.histogram("tikv_grpc_msg_duration_seconds", base(i)+`,type="kv_prewrite"`, func(int) []float64 { return only(3, 1000) })
		w.histogram("tikv_grpc_msg_duration_seconds", base(i)+`,type="kv_gc"`, func(int) []float64 { return only(len(bounds), 1000) })
	}
	w.family("tikv_store_size_bytes", "gauge")
	available := map[int]float64{1: 6e11, 2: 5e11, 3: 1e11, 5: 9e11}
	for _, i := range scenarioStores {
		w.series("tikv_store_size_bytes", base(i)+`,type="capacity"`, func(int) float64 { return 1e12 })
		w.series("tikv_store_size_bytes", base(i)+`,type="available"`, func(int) float64 { return available[i] })
	}
	w.family("process_cpu_seconds", "counter")
	cpu := map[int]float64{1: 1.5, 2: 2.5, 3: 3.5, 5: 0.1}
	for _, i := range scenarioStores {
		w.series("process_cpu_seconds_total", base(i), func(k int) float64 { return cpu[i] * step.Seconds() * float64(k) })
	}
	w.family("tikv_server_cpu_cores_quota", "gauge")
	for _, i := range scenarioStores {
		w.series("tikv_server_cpu_cores_quota", base(i), func(int) float64 {
			if i == 5 {
				return math.Inf(1) // a broken exporter: not a reading
			}
			return 8
		})
	}
	w.family("tikv_thread_cpu_seconds", "counter")
	threads := map[string]float64{"raftstore_0": 0.3, "rs_1": 0.2, "grpc_0": 1.0} // grpc_0 is no raftstore thread
	for _, i := range scenarioStores {
		for name, c := range threads {
			w.series("tikv_thread_cpu_seconds_total", base(i)+`,name="`+name+`"`, func(k int) float64 { return c * step.Seconds() * float64(k) })
		}
	}
	w.family("tikv_raftstore_region_count", "gauge")
	for _, i := range scenarioStores {
		w.series("tikv_raftstore_region_count", base(i)+`,type="leader"`, func(int) float64 { return float64(100 * i) })
		w.series("tikv_raftstore_region_count", base(i)+`,type="region"`, func(int) float64 { return 300 })
	}
	w.family("process_start_time_seconds", "gauge")
	for _, i := range scenarioStores {
		w.series("process_start_time_seconds", base(i), func(k int) float64 {
			if i == 3 && k >= samples-1-8 { // restarted 2 minutes ago
				return float64(now.Add(-2 * time.Minute).Unix())
			}
			return float64(now.Add(-2 * time.Hour).Unix())
		})
	}
	w.b.WriteString("# EOF\n")
	return w.b.String()
}
