package tikvtest_test

import (
	"bytes"
	"context"
	"math"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/kvops/operator/subject"
	"github.com/kvops/operator/tikv/tikvtest"
)

var h0 = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

func at(d time.Duration, v float64) tikvtest.Sample { return tikvtest.Sample{At: h0.Add(d), Value: v} }

func TestHistoryAddRefuses(t *testing.T) {
	var h tikvtest.History
	require.NoError(t, h.Add(tikvtest.Series{Name: "q", Samples: []tikvtest.Sample{at(time.Minute, 1)}}))
	for _, tt := range []struct {
		name string
		s    tikvtest.Series
	}{
		{"bad name", tikvtest.Series{Name: "my-metric", Samples: []tikvtest.Sample{at(0, 1)}}},
		{"bad label", tikvtest.Series{Name: "m", Labels: map[string]string{"a-b": "x"}, Samples: []tikvtest.Sample{at(0, 1)}}},
		{"__name__", tikvtest.Series{Name: "m", Labels: map[string]string{"__name__": "x"}, Samples: []tikvtest.Sample{at(0, 1)}}},
		{"no samples", tikvtest.Series{Name: "m"}},
		{"out of order", tikvtest.Series{Name: "m", Samples: []tikvtest.Sample{at(time.Second, 1), at(0, 2)}}},
		{"same time", tikvtest.Series{Name: "m", Samples: []tikvtest.Sample{at(0, 1), at(0, 2)}}},
		{"before what it holds", tikvtest.Series{Name: "q", Samples: []tikvtest.Sample{at(0, 1)}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			require.ErrorIs(t, h.Add(tt.s), subject.ErrInvalid)
		})
	}
	// A refused series adds nothing, even its good samples.
	require.Equal(t, []tikvtest.Series{{Name: "q", Labels: nil, Samples: []tikvtest.Sample{at(time.Minute, 1)}}}, h.Series())
}

// TestHistoryOpenMetrics: the text promtool reads: one family of type
// unknown per name (so each is stored under its own name), labels sorted
// and escaped, timestamps in seconds to the millisecond, special values.
func TestHistoryOpenMetrics(t *testing.T) {
	var h tikvtest.History
	require.NoError(t, h.Add(tikvtest.Series{Name: "lat_bucket", Labels: map[string]string{"le": "0.1", "instance": `a"b`},
		Samples: []tikvtest.Sample{at(0, 1), at(1500*time.Millisecond, 2)}}))
	require.NoError(t, h.Add(tikvtest.Series{Name: "lat_bucket", Labels: map[string]string{"le": "+Inf", "instance": `a"b`},
		Samples: []tikvtest.Sample{at(0, 3)}}))
	require.NoError(t, h.Add(tikvtest.Series{Name: "pd_tso_events", Labels: map[string]string{"type": "save"},
		Samples: []tikvtest.Sample{at(0, math.NaN()), at(time.Second, math.Inf(1))}}))
	// Adding to a series appends.
	require.NoError(t, h.Add(tikvtest.Series{Name: "pd_tso_events", Labels: map[string]string{"type": "save"},
		Samples: []tikvtest.Sample{at(2*time.Second, -0.5)}}))
	var b bytes.Buffer
	require.NoError(t, h.WriteOpenMetrics(&b))
	want := `# TYPE lat_bucket unknown
lat_bucket{instance="a\"b",le="+Inf"} 3 1796126400.000
lat_bucket{instance="a\"b",le="0.1"} 1 1796126400.000
lat_bucket{instance="a\"b",le="0.1"} 2 1796126401.500
# TYPE pd_tso_events unknown
pd_tso_events{type="save"} NaN 1796126400.000
pd_tso_events{type="save"} +Inf 1796126401.000
pd_tso_events{type="save"} -0.5 1796126402.000
# EOF
`
	if d := cmp.Diff(want, b.String()); d != "" {
		t.Errorf("OpenMetrics (-want +got):\n%s", d)
	}
}

// TestRecordMetrics: a cluster made with RecordMetrics records, at Start
// and then at the first tick at least the interval after the previous
// recording, what Prometheus would scrape: every store's series under job
// tikv with its status address, up (0 once a store stopped, and nothing
// else of it), and each PD member's series under job pd.
func TestRecordMetrics(t *testing.T) {
	c, err := tikvtest.NewUnstartedCluster(tikvtest.Config{Stores: 3, Regions: 30, Seed: 1,
		Clock: fixedClock{h0}, RecordMetrics: 15 * time.Second})
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.Start(context.Background()))
	for range 3 {
		c.Advance(15 * time.Second)
	}
	c.Advance(5 * time.Second) // not due
	require.NoError(t, c.StopStore(2))
	c.Advance(10 * time.Second)

	addr1, err := c.StatusAddress(1)
	require.NoError(t, err)
	addr2, err := c.StatusAddress(2)
	require.NoError(t, err)
	pd1 := c.PDScrapeTargets()[0]
	times := func(vs ...float64) []tikvtest.Sample {
		out := make([]tikvtest.Sample, len(vs))
		for i, v := range vs {
			out[i] = at(time.Duration(i)*15*time.Second, v)
		}
		return out
	}
	find := func(name string, labels map[string]string) []tikvtest.Sample {
		for _, s := range c.History().Series() {
			if s.Name == name && cmp.Equal(s.Labels, labels) {
				return s.Samples
			}
		}
		t.Fatalf("no %s%v recorded", name, labels)
		return nil
	}
	require.Equal(t, times(1, 1, 1, 1, 0), find("up", map[string]string{"job": "tikv", "instance": addr2}))
	require.Equal(t, times(1, 1, 1, 1, 1), find("up", map[string]string{"job": "tikv", "instance": addr1}))
	require.Len(t, find("tikv_store_size_bytes", map[string]string{"job": "tikv", "instance": addr2, "type": "capacity"}), 4,
		"a stopped store is not scraped")
	require.Equal(t, times(100<<30, 100<<30, 100<<30, 100<<30, 100<<30),
		find("tikv_store_size_bytes", map[string]string{"job": "tikv", "instance": addr1, "type": "capacity"}))
	require.Len(t, find("tikv_storage_engine_async_request_duration_seconds_bucket",
		map[string]string{"job": "tikv", "instance": addr1, "type": "write", "le": "+Inf"}), 5)
	require.Equal(t, times(1, 1, 1, 1, 1), find("etcd_server_is_leader", map[string]string{"job": "pd", "instance": pd1}))

	_, err = tikvtest.NewUnstartedCluster(tikvtest.Config{RecordMetrics: -time.Second})
	require.ErrorIs(t, err, subject.ErrInvalid)
	empty := tikvtest.NewCluster(t, tikvtest.Config{Stores: 1, Regions: 1})
	require.Empty(t, empty.History().Series(), "nothing recorded without RecordMetrics")
}
