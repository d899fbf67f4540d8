package tikvtest

import (
	"maps"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"
)

// scrapeURL GETs a metrics endpoint and parses the text format.
func scrapeURL(t *testing.T, cl *client, url string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := cl.hc.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	require.NoError(t, err)
	return fams
}

func readFixture(t *testing.T, name string) map[string]*dto.MetricFamily {
	t.Helper()
	f, err := os.Open("testdata/pd-metrics/" + name)
	require.NoError(t, err)
	defer f.Close()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(f)
	require.NoError(t, err)
	return fams
}

// familyShape is a family's type and the label names of its series, sorted:
// what a query's selectors and aggregations depend on.
type familyShape struct {
	Type   dto.MetricType
	Labels []string
}

func shapeOf(f *dto.MetricFamily) familyShape {
	var labels []string
	for _, m := range f.GetMetric() {
		var names []string
		for _, l := range m.GetLabel() {
			names = append(names, l.GetName())
		}
		slices.Sort(names)
		if k := strings.Join(names, ","); !slices.Contains(labels, k) {
			labels = append(labels, k)
		}
	}
	slices.Sort(labels)
	return familyShape{f.GetType(), labels}
}

// TestPDMetricsShapes: each PD member serves every family a real PD's
// /metrics recorded in testdata/pd-metrics (the series PD's alert rules
// read), with the same type and label names, and the label values the
// rules select on (pd_cluster_status' and pd_regions_status' types,
// pd_tso_events' "save"); a follower leaves out what a recorded follower
// leaves out.
func TestPDMetricsShapes(t *testing.T) {
	c, cl := newStarted(t)
	c.Advance(time.Minute)
	targets := c.PDScrapeTargets()
	require.Len(t, targets, 3)
	leader := scrapeURL(t, cl, "http://"+targets[0]+"/metrics")
	follower := scrapeURL(t, cl, "http://"+targets[1]+"/metrics")
	require.Equal(t, leader["pd_cluster_status"].String(), scrapeURL(t, cl, c.PDURL()+"/metrics")["pd_cluster_status"].String(),
		"the PD URL answers as its leader")

	for _, tt := range []struct {
		fixture string
		got     map[string]*dto.MetricFamily
	}{
		{"leader.prom", leader},
		{"leader-of-3.prom", leader},
		{"follower-of-3.prom", follower},
	} {
		for name, want := range readFixture(t, tt.fixture) {
			got := tt.got[name]
			require.NotNil(t, got, "%s: %s is not served", tt.fixture, name)
			if d := cmp.Diff(shapeOf(want), shapeOf(got)); d != "" {
				t.Errorf("%s: %s (-recorded +served):\n%s", tt.fixture, name, d)
			}
		}
	}
	_, ok := follower["service_member_role"]
	require.False(t, ok, "a recorded follower serves no service_member_role")
	_, ok = follower["pd_cluster_status"]
	require.False(t, ok, "a follower keeps no cluster statistics")

	types := func(f *dto.MetricFamily) []string {
		var out []string
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "type" && !slices.Contains(out, l.GetValue()) {
					out = append(out, l.GetValue())
				}
			}
		}
		slices.Sort(out)
		return out
	}
	rec := readFixture(t, "leader.prom")
	for _, name := range []string{"pd_cluster_status", "pd_regions_status"} {
		require.Equal(t, types(rec[name]), types(leader[name]), name)
	}
	require.Contains(t, types(leader["pd_tso_events"]), "save")
}

// pdValue returns the value of the series of name whose labels include
// want.
func pdValue(t *testing.T, fams map[string]*dto.MetricFamily, name string, want map[string]string) float64 {
	t.Helper()
	f := fams[name]
	require.NotNil(t, f, name)
	for _, m := range f.GetMetric() {
		got := map[string]string{}
		for _, l := range m.GetLabel() {
			got[l.GetName()] = l.GetValue()
		}
		match := true
		for k, v := range want {
			match = match && got[k] == v
		}
		if match {
			switch f.GetType() {
			case dto.MetricType_COUNTER:
				return m.GetCounter().GetValue()
			case dto.MetricType_HISTOGRAM:
				return float64(m.GetHistogram().GetSampleCount())
			}
			return m.GetGauge().GetValue()
		}
	}
	t.Fatalf("no %s%v in %v", name, want, slices.Collect(maps.Keys(fams)))
	return 0
}

// TestPDMetricsFollowTheCluster: the leader's statistics follow the
// stores as PD's do (a stopped store disconnected after 20 s, down after
// max-store-down-time, its regions then counted with a down peer; a full
// disk short of space), and a PD leader change moves the leader's series
// and TSO saves to the new leader.
func TestPDMetricsFollowTheCluster(t *testing.T) {
	c, cl := newStarted(t)
	c.Advance(10 * time.Second)
	leaderURL := "http://" + c.PDScrapeTargets()[0] + "/metrics"
	status := func(store, typ string) float64 {
		return pdValue(t, scrapeURL(t, cl, leaderURL), "pd_cluster_status", map[string]string{"store": store, "type": typ})
	}
	require.Equal(t, 1.0, status("2", "store_up_count"))

	require.NoError(t, c.StopStore(2))
	c.Advance(25 * time.Second)
	require.Equal(t, 0.0, status("2", "store_up_count"))
	require.Equal(t, 1.0, status("2", "store_disconnected_count"))
	require.Equal(t, 1.0, status("1", "store_up_count"))

	c.Advance(31 * time.Minute) // past the default max-store-down-time
	require.Equal(t, 1.0, status("2", "store_down_count"))
	down := pdValue(t, scrapeURL(t, cl, leaderURL), "pd_regions_status", map[string]string{"type": "down-peer-region-count"})
	require.Positive(t, down)

	require.NoError(t, c.SetDiskUsage(3, 0.95))
	c.Advance(time.Second)
	require.Equal(t, 1.0, status("3", "store_low_space_count"))

	targets := c.PDScrapeTargets()
	saves := func(i int) float64 {
		return pdValue(t, scrapeURL(t, cl, "http://"+targets[i]+"/metrics"), "pd_tso_events", map[string]string{"type": "save"})
	}
	before := []float64{saves(0), saves(1)}
	require.Positive(t, before[0])
	require.Zero(t, before[1])
	c.PDLeaderChange()
	c.Advance(time.Minute)
	require.Equal(t, before[0], saves(0), "the old leader saves no more")
	require.Positive(t, saves(1))
	require.Equal(t, 1.0, pdValue(t, scrapeURL(t, cl, "http://"+targets[1]+"/metrics"), "etcd_server_is_leader", nil))
	require.Equal(t, 0.0, pdValue(t, scrapeURL(t, cl, "http://"+targets[0]+"/metrics"), "etcd_server_is_leader", nil))
}
