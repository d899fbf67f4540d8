package main

import (
	"context"
	"fmt"
	"math"
	"os"
	"strconv"
	"time"

	"github.com/kvops/operator/internal/recordtest"
	"github.com/kvops/operator/subject"
	"github.com/kvops/operator/tikv/record"
	"github.com/kvops/operator/tikv/tikvtest"
)

type fixedClock struct{ t time.Time }

func (c *fixedClock) Now() time.Time { return c.t }

var start = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

const interval = 15 * time.Second

// makeRecording records the cluster into path and returns its size.
func makeRecording(ctx context.Context, path string, stores, regions int, window time.Duration, buckets int) (int64, error) {
	c, err := tikvtest.NewUnstartedCluster(tikvtest.Config{Stores: stores, Regions: regions, Seed: 1, Clock: &fixedClock{start}})
	if err != nil {
		return 0, err
	}
	defer c.Close()
	if err := c.Start(ctx); err != nil {
		return 0, err
	}
	f, err := os.Create(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	rec, err := recordtest.New(c, f, record.Header{Start: start, End: start.Add(window), Interval: record.Duration(interval)})
	if err != nil {
		return 0, err
	}
	sr, err := newSeries(c, stores, buckets)
	if err != nil {
		return 0, err
	}
	stopped := subject.StoreID(stores/2 + 1)
	sr.sample(c.Now(), 0)
	ticks := int(window / interval)
	for n := 1; n <= ticks; n++ {
		if n == ticks/3 {
			if err := c.StopStore(stopped); err != nil {
				return 0, err
			}
			sr.down[stopped-1] = true
		}
		c.Advance(interval)
		if err := rec.Tick(); err != nil {
			return 0, err
		}
		sr.sample(c.Now(), n)
		if n%40 == 0 { // every 10 minutes, the series so far
			if err := sr.flush(rec); err != nil {
				return 0, err
			}
		}
	}
	if err := sr.flush(rec); err != nil {
		return 0, err
	}
	if err := rec.Close(); err != nil {
		return 0, err
	}
	if err := f.Sync(); err != nil {
		return 0, err
	}
	st, err := f.Stat()
	if err != nil {
		return 0, err
	}
	return st.Size(), nil
}

// seriesMaker makes up each store's series, a chunk at a time.
type seriesMaker struct {
	series []*record.Series
	down   []bool
	// owner[i] is the store of series[i], kind[i] what it holds.
	owner []int
	kind  []string
	le    []float64
}

func newSeries(c *tikvtest.Cluster, stores, buckets int) (*seriesMaker, error) {
	m := &seriesMaker{down: make([]bool, stores)}
	add := func(store int, kind string, le float64, labels map[string]string) {
		m.series = append(m.series, &record.Series{Labels: labels})
		m.owner, m.kind, m.le = append(m.owner, store), append(m.kind, kind), append(m.le, le)
	}
	for i := range stores {
		addr, err := c.StatusAddress(subject.StoreID(i + 1))
		if err != nil {
			return nil, err
		}
		l := func(name string, kv ...string) map[string]string {
			out := map[string]string{"__name__": name, "job": "tikv", "instance": addr}
			for j := 0; j+1 < len(kv); j += 2 {
				out[kv[j]] = kv[j+1]
			}
			return out
		}
		add(i, "up", 0, l("up"))
		add(i, "capacity", 0, l("tikv_store_size_bytes", "type", "capacity"))
		add(i, "available", 0, l("tikv_store_size_bytes", "type", "available"))
		add(i, "cpu", 0, l("process_cpu_seconds_total"))
		add(i, "quota", 0, l("tikv_server_cpu_cores_quota"))
		add(i, "raftstore", 0, l("tikv_thread_cpu_seconds_total", "name", "raftstore_0"))
		add(i, "leaders", 0, l("tikv_raftstore_region_count", "type", "leader"))
		add(i, "regions", 0, l("tikv_raftstore_region_count", "type", "region"))
		add(i, "start", 0, l("process_start_time_seconds"))
		for b := range buckets {
			le := 0.001 * math.Pow(4, float64(b))
			s := strconv.FormatFloat(le, 'g', -1, 64)
			if b == buckets-1 {
				le, s = math.Inf(1), "+Inf"
			}
			add(i, "bucket", le, l("tikv_storage_engine_async_request_duration_seconds_bucket", "type", "write", "le", s))
		}
	}
	return m, nil
}

// sample adds tick n's samples at at: a stopped store has up 0 and no
// other sample.
func (m *seriesMaker) sample(at time.Time, n int) {
	for i, s := range m.series {
		st := m.owner[i]
		if m.down[st] && m.kind[i] != "up" {
			continue
		}
		var v float64
		t := float64(n) * interval.Seconds()
		switch m.kind[i] {
		case "up":
			v = 1
			if m.down[st] {
				v = 0
			}
		case "capacity":
			v = 100 << 30
		case "available":
			v = 97 << 30
		case "cpu":
			v = 0.5 * t
		case "quota":
			v = 8
		case "raftstore":
			v = 0.1 * t
		case "leaders":
			v = 10
		case "regions":
			v = 30
		case "start":
			v = float64(start.Add(-time.Hour).Unix())
		case "bucket":
			// 1000 writes a second, all under 16 ms.
			if m.le[i] >= 0.016 {
				v = 1000 * t
			}
		}
		if len(s.Samples) == 0 {
			s.From = at
		}
		s.To = at
		s.Samples = append(s.Samples, record.Sample{T: at, V: v})
	}
}

func (m *seriesMaker) flush(rec *recordtest.Recorder) error {
	for _, s := range m.series {
		if len(s.Samples) == 0 {
			continue
		}
		if err := rec.Write(record.Entry{Kind: record.KindSeries, Series: s}); err != nil {
			return fmt.Errorf("series: %w", err)
		}
		s.Samples = s.Samples[:0]
	}
	return nil
}
