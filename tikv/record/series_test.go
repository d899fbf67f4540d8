package record_test

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/kvops/operator/internal/promtest"
	"github.com/kvops/operator/promclient"
	"github.com/kvops/operator/subject"
	"github.com/kvops/operator/tikv"
	"github.com/kvops/operator/tikv/record"
	"github.com/kvops/operator/tikv/tikvtest"
)

// TestSeriesAndLogs drives a Recorder over a simulated cluster that keeps
// its metrics' history, then writes the series of the window from that
// history backfilled into a real Prometheus: chunks of SeriesEvery that
// tile the window at Step, with the values the cluster had; and the PD log
// lines of the store that went down.
func TestSeriesAndLogs(t *testing.T) {
	// Prometheus keeps 15 days: a recent past start.
	start := time.Now().Add(-time.Hour).Truncate(time.Minute).UTC()
	dir := t.TempDir()
	s := newSim(t, tikvtest.Config{Stores: 3, Regions: 12, Clock: fixed(start), RecordMetrics: 15 * time.Second, LogDir: dir})
	s.faults = []fault{{20 * time.Second, func() {
		if err := s.cl.StopStore(3); err != nil {
			t.Error(err)
		}
	}}}
	anyProm, err := promclient.New(promclient.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	queries, err := record.QueriesFromClient(anyProm)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	rec, err := record.New(&buf, record.Config{
		PD: s.pd, Clock: s, Duration: 3 * time.Minute, Queries: queries, SeriesEvery: time.Minute,
		Logs: []record.LogSource{tikv.NewFileLogSource(filepath.Join(dir, "pd.log"))},
	})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; ; i++ {
		if err := rec.Observe(t.Context()); err != nil {
			t.Fatal(err)
		}
		if i == 12 {
			break
		}
		if err := s.Sleep(t.Context(), 15*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	end := s.cl.Now()
	// Prometheus unreachable first: nothing written, every query asked
	// again from the start by the next call.
	dcfg := promclient.DefaultConfig()
	dcfg.Address = "http://" + promtest.RefusedAddr(t)
	down, err := promclient.New(dcfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := rec.WriteSeries(t.Context(), down, end); err != nil {
		t.Fatal(err)
	}
	prom := tikvtest.NewBackfilledPrometheus(t, s.cl.History())
	pcfg := promclient.DefaultConfig()
	pcfg.Address = prom.URL
	pc, err := promclient.New(pcfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := rec.WriteSeries(t.Context(), pc, end); err != nil {
		t.Fatal(err)
	}
	sum, err := rec.Close(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if sum.SeriesFailures != len(queries) || sum.Series == 0 {
		t.Fatalf("summary %+v: want series, and one failure per query while Prometheus was down", sum)
	}

	h, entries, err := readAll(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(queries, h.Queries); d != "" {
		t.Errorf("header's queries (-want +got):\n%s", d)
	}
	// Store 1's capacity: every step of the window, in chunks of a minute
	// that neither overlap nor leave a gap.
	var chunks [][2]time.Time
	var at []time.Time
	for _, e := range entries {
		if e.Series == nil || e.Series.Labels["__name__"] != "tikv_store_size_bytes" || e.Series.Labels["type"] != "capacity" ||
			!strings.HasSuffix(e.Series.Labels["instance"], mustStatus(t, s.cl, 1)) {
			continue
		}
		chunks = append(chunks, [2]time.Time{e.Series.From, e.Series.To})
		for _, smp := range e.Series.Samples {
			if smp.V != 100<<30 {
				t.Errorf("capacity at %v = %v, want 100 GiB", smp.T, smp.V)
			}
			at = append(at, smp.T)
		}
	}
	wantChunks := [][2]time.Time{
		{start, start.Add(time.Minute)},
		{start.Add(time.Minute + 15*time.Second), start.Add(2*time.Minute + 15*time.Second)},
		{start.Add(2*time.Minute + 30*time.Second), start.Add(3 * time.Minute)},
	}
	if d := cmp.Diff(wantChunks, chunks); d != "" {
		t.Errorf("chunks of store 1's capacity (-want +got):\n%s", d)
	}
	var wantAt []time.Time
	for t := start; !t.After(end); t = t.Add(15 * time.Second) {
		wantAt = append(wantAt, t)
	}
	if d := cmp.Diff(wantAt, at); d != "" {
		t.Errorf("sample times (-want +got):\n%s", d)
	}

	var logs []string
	for _, e := range entries {
		if e.Log != nil {
			logs = append(logs, e.Log.At.Sub(start).String()+" "+e.Log.Source+" "+msgOf(e.Log.Line))
		}
	}
	src := filepath.Join(dir, "pd.log")
	want := []string{
		"0s " + src + ` "campaign PD leader ok"`,
		// Store 3 stopped at 20s: the leaders of its 4 regions moved at
		// the next tick, and PD saw it disconnected 20s after its last
		// heartbeat.
		"21s " + src + ` "leader changed"`, "21s " + src + ` "leader changed"`,
		"21s " + src + ` "leader changed"`, "21s " + src + ` "leader changed"`,
		"37s " + src + ` "store disconnected"`,
	}
	if d := cmp.Diff(want, logs); d != "" {
		t.Errorf("log lines (-want +got):\n%s", d)
	}
}

func mustStatus(t *testing.T, cl *tikvtest.Cluster, id int) string {
	t.Helper()
	a, err := cl.StatusAddress(subjectStore(id))
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// msgOf returns the quoted message of a unified log line:
// [time] [LEVEL] [source] ["message"] ...
func msgOf(line string) string {
	parts := strings.SplitN(line, "] [", 4)
	if len(parts) < 4 {
		return line
	}
	msg, _, _ := strings.Cut(parts[3], "]")
	return msg
}

func subjectStore(id int) subject.StoreID { return subject.StoreID(id) }
