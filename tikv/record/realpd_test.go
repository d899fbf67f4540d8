package record_test

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/kvops/operator/internal/realpd"
	"github.com/kvops/operator/pdclient"
	"github.com/kvops/operator/tikv/record"
)

var update = flag.Bool("update", false, "rewrite testdata/realpd-stores-down.jsonl from a real PD (needs KVOPS_REALPD_DIR)")

const realPDRecording = "testdata/realpd-stores-down.jsonl"

// TestRecordRealPD records a real PD and its pd-simulator's 3 stores,
// stops the simulator (its stores stop heartbeating), and records on
// until PD lists every store Down: the recording shows each store going
// Up, Disconnected, Down. With -update, its redacted form is kept as
// testdata/realpd-stores-down.jsonl.
func TestRecordRealPD(t *testing.T) {
	c := realpd.Start(t, realpd.Config{Stores: 3, Regions: 30, MaxStoreDownTime: 30 * time.Second})
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	pc := pdclient.DefaultConfig()
	pc.Endpoints = c.Endpoints()
	pd, err := pdclient.New(pc)
	if err != nil {
		t.Fatal(err)
	}
	defer pd.CloseIdleConnections()
	var buf bytes.Buffer
	rec, err := record.New(&buf, record.Config{PD: pd, Interval: 2 * time.Second, Duration: 2 * time.Minute,
		RegionsEvery: 10 * time.Second, Labels: map[string]string{"case": "pd-simulator stopped"}})
	if err != nil {
		t.Fatal(err)
	}
	clock := time.NewTicker(2 * time.Second)
	defer clock.Stop()
	stopped, downSeen := false, 0
	for i := 0; downSeen < 2; i++ {
		if err := rec.Observe(ctx); err != nil {
			t.Fatal(err)
		}
		if i == 2 {
			if err := c.StopStores(); err != nil {
				t.Fatal(err)
			}
			stopped = true
		}
		if stopped {
			// Bounded polling of the real PD: record until it lists every
			// store Down, and once more.
			if st, err := c.Stores(ctx); err == nil && realpd.AllIn("Down")(st) {
				downSeen++
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("the stores were not all Down within the time: %v", ctx.Err())
		case <-clock.C:
		}
	}
	if _, err := rec.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.StartStores(); err != nil {
		t.Fatal(err)
	}
	_, entries, err := readAll(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	checkStoresDown(t, entries)

	if *update {
		var red bytes.Buffer
		r, err := record.NewReader(bytes.NewReader(buf.Bytes()))
		if err != nil {
			t.Fatal(err)
		}
		if err := record.Redact(&red, r, record.RedactConfig{}); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.FromSlash(realPDRecording), red.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s: %d bytes", realPDRecording, red.Len())
	}
}

// TestRealPDRecording reads the recording a real PD gave (see
// TestRecordRealPD): it is whole, redacted, and shows the three stores go
// Up, Disconnected, Down, and the regions read whole first.
func TestRealPDRecording(t *testing.T) {
	b, err := os.ReadFile(filepath.FromSlash(realPDRecording))
	if err != nil {
		t.Fatal(err)
	}
	if len(b) > 1<<20 {
		t.Errorf("%s is %d bytes: keep it under a megabyte", realPDRecording, len(b))
	}
	h, entries, err := readAll(b)
	if err != nil {
		t.Fatal(err)
	}
	if !h.Redacted || bytes.Contains(b, []byte("127.0.0.1")) {
		t.Errorf("the kept recording is not redacted")
	}
	checkStoresDown(t, entries)
	var first *record.Regions
	for _, e := range entries {
		if e.Regions != nil {
			first = e.Regions
			break
		}
	}
	if first == nil || !first.Full || !first.Done || first.Count != 30 || len(first.Changed) != 30 {
		t.Errorf("first regions line %+v: want a whole read of 30 regions", first)
	}
}

// checkStoresDown checks that each of the three stores went Up,
// Disconnected, then Down in PD's recorded answers.
func checkStoresDown(t *testing.T, entries []record.Entry) {
	t.Helper()
	states := map[uint64][]string{}
	for _, e := range entries {
		if e.PD == nil || e.PD.Path != storesPath || e.PD.Status != 200 {
			continue
		}
		for id, st := range stateOf(t, e.PD.Body) {
			if s := states[id]; len(s) == 0 || s[len(s)-1] != st {
				states[id] = append(s, st)
			}
		}
	}
	want := map[uint64][]string{}
	for id := range uint64(3) {
		want[id+1] = []string{"Up", "Disconnected", "Down"}
	}
	if d := cmp.Diff(want, states); d != "" {
		t.Errorf("the stores' states in PD's recorded answers (-want +got):\n%s", d)
	}
}
