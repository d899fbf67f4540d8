package main

import (
	"bytes"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestRefusedCommandLines: a command line simpd cannot run is refused
// with errUsage (exit status 2) before anything listens, and writes no
// line.
func TestRefusedCommandLines(t *testing.T) {
	good := options{addr: "127.0.0.1:0", stores: 3, regions: 10, speed: 1, tick: 100 * time.Millisecond, scenario: "none", noPrometheus: true, scrape: time.Second}
	for _, tc := range []struct {
		name string
		edit func(*options)
	}{
		{"missing recording", func(o *options) { o.recording = "testdata/none.jsonl" }},
		{"not a recording", func(o *options) { o.recording = "main.go" }},
		{"start without recording", func(o *options) { o.start = "1m" }},
		{"bad start", func(o *options) {
			o.recording = "../../tikv/record/testdata/realpd-stores-down.jsonl"
			o.start = "soon"
		}},
		{"start before the recording", func(o *options) { o.recording = "../../tikv/record/testdata/realpd-stores-down.jsonl"; o.start = "-1m" }},
		{"speed 0", func(o *options) { o.speed = 0 }},
		{"speed negative", func(o *options) { o.speed = -1 }},
		{"tick 0", func(o *options) { o.tick = 0 }},
		{"scrape 0", func(o *options) { o.scrape = 0 }},
		{"unknown scenario", func(o *options) { o.scenario = "chaos" }},
		{"no stores", func(o *options) { o.stores = -1 }},
		{"too many regions", func(o *options) { o.regions = 2_000_000 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := good
			tc.edit(&o)
			var out, errOut bytes.Buffer
			err := run(t.Context(), o, &out, &errOut)
			require.ErrorIs(t, err, errUsage)
			require.Empty(t, out.String())
		})
	}
}

// TestAddressInUse: -addr on a port another socket listens on fails at
// once with the listener's error, which is not a usage error.
func TestAddressInUse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	o := options{addr: ln.Addr().String(), stores: 3, regions: 10, speed: 1, tick: 100 * time.Millisecond, scenario: "none", noPrometheus: true, scrape: time.Second}
	var out, errOut bytes.Buffer
	err = run(t.Context(), o, &out, &errOut)
	var opErr *net.OpError
	require.True(t, errors.As(err, &opErr), "%v", err)
	require.NotErrorIs(t, err, errUsage)
	require.Empty(t, out.String())
}
