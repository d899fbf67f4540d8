package record_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/kvops/operator/subject"
	"github.com/kvops/operator/tikv/record"
	"github.com/kvops/operator/tikv/tikvtest"
)

const storesPath = "/pd/api/v1/stores?state=0&state=1&state=2"

// TestRecordThroughFaults records a simulated cluster for five minutes
// through a stopped store, a PD leader change and PD unreachable, and
// reads the recording back: what PD answered (errors included) at each
// evaluation, and regions that rebuild to the cluster's own.
func TestRecordThroughFaults(t *testing.T) {
	s, buf, sum := recordFaults(t)
	h, entries, err := readAll(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	wantHeader := record.Header{Format: record.Format, Version: record.Version, Start: t0, End: t0.Add(5 * time.Minute),
		Interval: record.Duration(15 * time.Second), PD: s.front.URL, Labels: map[string]string{"incident": "test"}}
	if d := cmp.Diff(wantHeader, h); d != "" {
		t.Errorf("header (-want +got):\n%s", d)
	}
	// Pages of 25: a full read is three lines.
	if sum.Evaluations != 21 || !sum.Start.Equal(t0) || !sum.End.Equal(t0.Add(5*time.Minute)) || sum.Entries != int64(len(entries))+1 {
		t.Errorf("summary %+v: want 21 evaluations from %v to %v, %d entries", sum, t0, t0.Add(5*time.Minute), len(entries)+1)
	}

	// What PD answered, path by path.
	var states []string
	byPath := map[string][]*record.PD{}
	for _, e := range entries {
		if e.PD == nil {
			continue
		}
		byPath[e.PD.Path] = append(byPath[e.PD.Path], e.PD)
		if e.PD.Path == storesPath && e.PD.Status == 200 {
			st := stateOf(t, e.PD.Body)[2]
			if len(states) == 0 || states[len(states)-1] != st {
				states = append(states, st)
			}
		}
	}
	if d := cmp.Diff([]string{"Up", "Disconnected"}, states); d != "" {
		t.Errorf("store 2's states in the recorded answers (-want +got):\n%s", d)
	}
	for _, path := range record.DefaultPaths {
		got := byPath[path]
		if len(got) == 0 {
			t.Errorf("%s: never recorded", path)
			continue
		}
		var election, unreachable bool
		for _, p := range got {
			at := p.At.Sub(t0)
			switch {
			case at >= 2*time.Minute && at < 2*time.Minute+12*time.Second && p.Status == 500:
				election = p.Text && json.Valid(p.Body)
			case at >= 3*time.Minute && at < 3*time.Minute+30*time.Second:
				unreachable = p.Status == 0 && p.Error != "" && p.Body == nil
			}
		}
		if !unreachable {
			t.Errorf("%s: no unreachable answer while PD was down: %+v", path, got)
		}
		if path != "/pd/api/v1/ping" && !election && path != "/pd/api/v2/maintenance" {
			t.Errorf("%s: no 500 text answer during PD's election", path)
		}
		if first, last := got[0], got[len(got)-1]; first.Status == 0 || last.Status != first.Status {
			t.Errorf("%s: first answer %d, last %d %s: want PD answering again as before", path, first.Status, last.Status, last.Body)
		}
	}
	// An answer that does not change is written once per change.
	if n := len(byPath["/pd/api/v1/cluster"]); n > 6 {
		t.Errorf("/cluster written %d times over 21 evaluations: unchanged answers must be left out", n)
	}

	// The regions: a full read in pages of 25, reads that failed while PD
	// could not answer, then a full read again, and deltas that rebuild
	// the cluster's regions.
	var lines []string
	firstRead := 0
	for _, e := range entries {
		if rg := e.Regions; rg != nil {
			if len(rg.Changed) > 25 {
				t.Errorf("a regions line of %d regions, more than a page of 25", len(rg.Changed))
			}
			if rg.At.Equal(t0) {
				firstRead++
			}
			kind := "delta"
			switch {
			case rg.Error != "":
				kind = "error"
			case rg.Full:
				kind = "full"
			}
			line := rg.At.Sub(t0).String() + " " + kind + fmtDone(rg)
			if len(lines) == 0 || lines[len(lines)-1] != line {
				lines = append(lines, line) // pages of one read said once
			}
		}
	}
	want := []string{
		"0s full", "0s full done 60",
		"1m0s delta", "1m0s delta done 60", // store 2's leaders moved
		"2m0s error", "3m0s error",
		"4m0s full", "4m0s full done 60",
		"5m0s delta done 60",
	}
	if firstRead != 3 {
		t.Errorf("the first read of 60 regions in pages of 25 took %d lines, want 3", firstRead)
	}
	if d := cmp.Diff(want, lines); d != "" {
		t.Errorf("regions lines (-want +got):\n%s", d)
	}
	reads := regionsAt(t, entries)
	if len(reads) == 0 {
		t.Fatal("no whole read of the regions")
	}
	live, err := s.pd.Raw(t.Context(), "/regions")
	if err != nil {
		t.Fatal(err)
	}
	var page struct {
		Regions []json.RawMessage `json:"regions"`
	}
	if err := json.Unmarshal(live.Body, &page); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(leaders(t, page.Regions), leadersOf(t, reads[len(reads)-1])); d != "" {
		t.Errorf("regions rebuilt from the recording vs the cluster's (-live +recorded):\n%s", d)
	}
}

func fmtDone(rg *record.Regions) string {
	if !rg.Done {
		return ""
	}
	return " done " + itoa(rg.Count)
}

func itoa(n int) string { return string(json.Number(jsonInt(n))) }

func jsonInt(n int) string { b, _ := json.Marshal(n); return string(b) }

type regionLeader struct {
	Leader  uint64
	Version uint64
	ConfVer uint64
}

func leaderOf(t *testing.T, raw json.RawMessage) (uint64, regionLeader) {
	t.Helper()
	var r struct {
		ID     uint64 `json:"id"`
		Leader struct {
			StoreID uint64 `json:"store_id"`
		} `json:"leader"`
		Epoch struct {
			Version uint64 `json:"version"`
			ConfVer uint64 `json:"conf_ver"`
		} `json:"epoch"`
	}
	if err := json.Unmarshal(raw, &r); err != nil {
		t.Fatal(err)
	}
	return r.ID, regionLeader{r.Leader.StoreID, r.Epoch.Version, r.Epoch.ConfVer}
}

func leaders(t *testing.T, rs []json.RawMessage) map[uint64]regionLeader {
	out := map[uint64]regionLeader{}
	for _, raw := range rs {
		id, l := leaderOf(t, raw)
		out[id] = l
	}
	return out
}

func leadersOf(t *testing.T, m map[uint64]json.RawMessage) map[uint64]regionLeader {
	out := map[uint64]regionLeader{}
	for id, raw := range m {
		_, l := leaderOf(t, raw)
		out[id] = l
	}
	return out
}

// recordFaults records five minutes of a simulated cluster of 5 stores
// and 60 regions (read in pages of 25): store 2 stops at 30s, PD's leader
// changes at 2m (12s of election), PD cannot be reached from 3m to 3m30s.
func recordFaults(t *testing.T) (*sim, bytes.Buffer, record.Summary) {
	t.Helper()
	s := newSim(t, tikvtest.Config{Stores: 5, Regions: 60})
	s.faults = []fault{
		{30 * time.Second, func() {
			if err := s.cl.StopStore(2); err != nil {
				t.Error(err)
			}
		}},
		{2 * time.Minute, s.cl.PDLeaderChange},
		{3 * time.Minute, func() { s.down.Store(true) }},
		{3*time.Minute + 30*time.Second, func() { s.down.Store(false) }},
	}
	var buf bytes.Buffer
	sum, err := record.Record(t.Context(), &buf, record.Config{
		PD: s.pd, Clock: s, Duration: 5 * time.Minute, RegionsPage: 25,
		Labels: map[string]string{"incident": "test"},
	})
	if err != nil {
		t.Fatal(err)
	}
	return s, buf, sum
}

// TestConfigRefused checks the configuration errors.
func TestConfigRefused(t *testing.T) {
	s := newSim(t, tikvtest.Config{Stores: 3, Regions: 3})
	for _, cfg := range []record.Config{
		{},
		{PD: s.pd, Interval: -time.Second},
		{PD: s.pd, Duration: -time.Second},
		{PD: s.pd, Paths: []string{"/stores"}},
	} {
		if _, err := record.New(&bytes.Buffer{}, cfg); !errors.Is(err, subject.ErrInvalid) {
			t.Errorf("New(%+v) = %v, want ErrInvalid", cfg, err)
		}
	}
}
