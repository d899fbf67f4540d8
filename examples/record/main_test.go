package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"

	"github.com/kvops/operator/tikv/record"
)

func readFile(t *testing.T, path string) (record.Header, []record.Entry) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := record.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	var out []record.Entry
	for {
		e, err := r.Next()
		if errors.Is(err, io.EOF) {
			return r.Header(), out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, e)
	}
}

// TestRecordSimulation runs the program as a newcomer does, without
// -pd, then its cut and redact subcommands, and reads the files back:
// the faults are in PD's recorded answers, the cut starts at the PD
// election, the redacted file holds no loopback address.
func TestRecordSimulation(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	dir := t.TempDir()
	path := filepath.Join(dir, "incident.jsonl")
	var out bytes.Buffer
	if err := run(t.Context(), []string{"-o", path}, &out); err != nil {
		t.Fatalf("%v; output:\n%s", err, out.String())
	}
	h, entries := readFile(t, path)
	if time.Duration(h.Interval) != 15*time.Second || h.End.Sub(h.Start) != simDuration {
		t.Errorf("header %+v: want 15s evaluations over %v", h, simDuration)
	}
	// Store 2's states, in the order the stores answers said them, and
	// what PD answered at the election and while unreachable.
	var states []string
	var election, unreachable bool
	series := 0
	for _, e := range entries {
		switch {
		case e.Series != nil:
			series++
		case e.PD != nil && e.PD.Path == "/pd/api/v1/stores?state=0&state=1&state=2":
			switch e.PD.Status {
			case 200:
				var a struct {
					Stores []struct {
						Store struct {
							ID        int    `json:"id"`
							StateName string `json:"state_name"`
						} `json:"store"`
					} `json:"stores"`
				}
				if err := json.Unmarshal(e.PD.Body, &a); err != nil {
					t.Fatal(err)
				}
				for _, s := range a.Stores {
					if s.Store.ID == 2 && (len(states) == 0 || states[len(states)-1] != s.Store.StateName) {
						states = append(states, s.Store.StateName)
					}
				}
			case 500:
				election = election || e.PD.At.Sub(h.Start) >= 2*time.Minute && e.PD.Text
			case 0:
				unreachable = unreachable || e.PD.Error != "" && e.PD.At.Sub(h.Start) >= 3*time.Minute
			}
		}
	}
	if d := cmp.Diff([]string{"Up", "Disconnected", "Up"}, states); d != "" {
		t.Errorf("store 2's states (-want +got):\n%s", d)
	}
	if !election || !unreachable {
		t.Errorf("PD's election recorded: %v, PD unreachable recorded: %v; want both", election, unreachable)
	}
	if _, err := exec.LookPath("prometheus"); err == nil && series == 0 {
		t.Error("prometheus is installed, but the recording has no series")
	}

	cut := filepath.Join(dir, "cut.jsonl")
	if err := run(t.Context(), []string{"cut", "-from", "+2m", "-to", "+3m", "-o", cut, path}, &out); err != nil {
		t.Fatal(err)
	}
	ch, centries := readFile(t, cut)
	if ch.Start.Sub(h.Start) != 2*time.Minute || ch.End.Sub(h.Start) != 3*time.Minute || len(centries) == 0 {
		t.Errorf("cut from %v to %v with %d entries: want +2m to +3m", ch.Start.Sub(h.Start), ch.End.Sub(h.Start), len(centries))
	}

	red := filepath.Join(dir, "redacted.jsonl")
	if err := run(t.Context(), []string{"redact", "-o", red, path}, &out); err != nil {
		t.Fatal(err)
	}
	rh, _ := readFile(t, red)
	b, err := os.ReadFile(red)
	if err != nil {
		t.Fatal(err)
	}
	if !rh.Redacted || bytes.Contains(b, []byte("127.0.0.1")) {
		t.Errorf("redacted file: header redacted %v, loopback address left: %v", rh.Redacted, bytes.Contains(b, []byte("127.0.0.1")))
	}

	// Bad input: no file left behind, a clear error.
	if err := run(t.Context(), []string{"cut", "-from", "yesterday", "-o", filepath.Join(dir, "x"), path}, &out); err == nil || !strings.Contains(err.Error(), "-from") {
		t.Errorf("a bad -from: %v", err)
	}
	if err := run(t.Context(), []string{"redact", "-o", filepath.Join(dir, "y"), filepath.Join(dir, "none.jsonl")}, &out); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a missing recording: %v", err)
	}
	left, _ := filepath.Glob(filepath.Join(dir, ".*"))
	if len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}
}
