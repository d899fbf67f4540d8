package main

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http/httptest"
	"os"
	"strconv"
	"time"

	"github.com/kvops/operator/pdclient"
	"github.com/kvops/operator/promclient"
	"github.com/kvops/operator/subject"
	"github.com/kvops/operator/tikv/record"
	"github.com/kvops/operator/tikv/tikvtest"
)

type fixedClock struct{ t time.Time }

func (c *fixedClock) Now() time.Time { return c.t }

var start = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

const interval = 15 * time.Second

// makeRecording records the cluster into path with record.Recorder, as
// record.Record records a live cluster (PD's record.DefaultPaths every
// interval, every region every minute), then the made-up series: added
// to a tikvtest.History, backfilled into a real Prometheus and read back
// by the recorder's range queries (none without Prometheus). It returns
// what it recorded.
func makeRecording(ctx context.Context, path string, stores, regions int, window time.Duration, buckets int) (recorded, error) {
	out := recorded{began: time.Now()}
	c, err := tikvtest.NewUnstartedCluster(tikvtest.Config{Stores: stores, Regions: regions, Seed: 1, Clock: &fixedClock{start}})
	if err != nil {
		return out, err
	}
	defer c.Close()
	if err := c.Start(ctx); err != nil {
		return out, err
	}
	srv := httptest.NewServer(c.PDHandler())
	defer srv.Close()
	pc := pdclient.DefaultConfig()
	pc.Endpoints = []string{srv.URL}
	pc.MembersRefreshInterval = -1
	pc.MaxAttempts = 1
	pd, err := pdclient.New(pc)
	if err != nil {
		return out, err
	}
	defer pd.CloseIdleConnections()
	anyProm, err := promclient.New(promclient.DefaultConfig())
	if err != nil {
		return out, err
	}
	qs, err := record.QueriesFromClient(anyProm)
	if err != nil {
		return out, err
	}
	f, err := os.Create(path)
	if err != nil {
		return out, err
	}
	defer f.Close()
	rec, err := record.New(f, record.Config{PD: pd, Clock: record.Advancing(c), Interval: interval, Duration: window, Queries: qs})
	if err != nil {
		return out, err
	}
	sr, err := newSeries(c, stores, buckets)
	if err != nil {
		return out, err
	}
	hist := &tikvtest.History{}
	stopped := subject.StoreID(stores/2 + 1)
	sr.sample(c.Now(), 0)
	if err := rec.Observe(ctx); err != nil {
		return out, err
	}
	ticks := int(window / interval)
	for n := 1; n <= ticks; n++ {
		if n == ticks/3 {
			if err := c.StopStore(stopped); err != nil {
				return out, err
			}
			sr.down[stopped-1] = true
		}
		c.Advance(interval)
		if err := rec.Observe(ctx); err != nil {
			return out, err
		}
		sr.sample(c.Now(), n)
		if n%40 == 0 { // every 10 minutes, the series so far
			if err := sr.flush(hist); err != nil {
				return out, err
			}
		}
	}
	if err := sr.flush(hist); err != nil {
		return out, err
	}
	out.pdMs = time.Since(out.began).Milliseconds()
	t0 := time.Now()
	prom, err := tikvtest.BackfillPrometheus(ctx, hist)
	switch {
	case errors.Is(err, tikvtest.ErrNoPrometheus):
		fmt.Println("no prometheus or promtool on PATH: the recording has no series")
	case err != nil:
		return out, err
	default:
		defer prom.Stop()
		prc := promclient.DefaultConfig()
		prc.Address = prom.URL
		pcl, err := promclient.New(prc)
		if err != nil {
			return out, err
		}
		if err := rec.WriteSeries(ctx, pcl, c.Now()); err != nil {
			return out, err
		}
	}
	sum, err := rec.Close(ctx)
	if err != nil {
		return out, err
	}
	out.seriesMs = time.Since(t0).Milliseconds()
	if err := f.Sync(); err != nil {
		return out, err
	}
	st, err := f.Stat()
	if err != nil {
		return out, err
	}
	out.sum, out.bytes = sum, st.Size()
	return out, nil
}

// recorded is what makeRecording recorded.
type recorded struct {
	sum   record.Summary
	bytes int64
	began time.Time
	// pdMs is the time recording PD took (the simulated cluster's ticks
	// included), seriesMs the backfill and the range queries.
	pdMs, seriesMs int64
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

// flush adds the samples made so far to h.
func (m *seriesMaker) flush(h *tikvtest.History) error {
	for _, s := range m.series {
		if len(s.Samples) == 0 {
			continue
		}
		ts := tikvtest.Series{Labels: map[string]string{}}
		for k, v := range s.Labels {
			if k == "__name__" {
				ts.Name = v
				continue
			}
			ts.Labels[k] = v
		}
		for _, smp := range s.Samples {
			ts.Samples = append(ts.Samples, tikvtest.Sample{At: smp.T, Value: smp.V})
		}
		if err := h.Add(ts); err != nil {
			return fmt.Errorf("series: %w", err)
		}
		s.Samples = s.Samples[:0]
	}
	return nil
}
