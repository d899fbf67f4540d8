package tikvtest

import (
	"errors"
	"fmt"
	"io"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"github.com/kvops/operator/tikv/record"
)

// ReplayServer is a [Replay] served on a real loopback listener, for a
// test: [NewReplayServer].
type ReplayServer struct {
	*Replay
	// URL is PD's URL ("http://127.0.0.1:port"), for
	// pdclient.Config.Endpoints.
	URL string
}

// NewReplayServer opens the recording at path, replays it (cfg as for
// [NewReplay]) and serves it on 127.0.0.1, like httptest.NewServer; the
// server and the file are closed by t.Cleanup. A recording that cannot be
// opened or read fails the test at once (t.Fatal).
func NewReplayServer(t testing.TB, path string, cfg ReplayConfig) *ReplayServer {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("tikvtest: replay: %v", err)
		return nil
	}
	t.Cleanup(func() { _ = f.Close() })
	rd, err := record.NewReader(f)
	if err != nil {
		t.Fatalf("tikvtest: replay %s: %v", path, err)
		return nil
	}
	r, err := NewReplay(rd, cfg)
	if err != nil {
		t.Fatalf("tikvtest: replay %s: %v", path, err)
		return nil
	}
	srv := httptest.NewServer(r.Handler())
	t.Cleanup(srv.Close)
	return &ReplayServer{Replay: r, URL: srv.URL}
}

// Lookback is how far back Prometheus looks for a series' latest sample
// when it evaluates a query at a time (its --query.lookback-delta
// default): a replay of [from, to] needs the samples from from-Lookback.
const Lookback = 5 * time.Minute

// ReadHistory reads the Series lines of a recording into a [History],
// for [BackfillPrometheus]: a Prometheus over it answers every query at
// a replay's time in [from, to] as the recorded Prometheus answered (the
// recorded series, within Prometheus' lookback). It keeps the samples
// from from-[Lookback] to to, so that a replay of a part of a long
// recording holds and backfills that part only; a zero from or to leaves
// that side open. It reads the whole recording; a recording cut short is
// its reader's error (record.ErrTruncated), series out of order and a to
// before from are [ErrBadArgument].
func ReadHistory(rd *record.Reader, from, to time.Time) (*History, error) {
	if !from.IsZero() && !to.IsZero() && to.Before(from) {
		return nil, fmt.Errorf("%w: history window ends (%v) before it starts (%v)", ErrBadArgument, to, from)
	}
	if !from.IsZero() {
		from = from.Add(-Lookback)
	}
	in := func(t time.Time) bool { return (from.IsZero() || !t.Before(from)) && (to.IsZero() || !t.After(to)) }
	h := &History{}
	for {
		e, err := rd.Next()
		if errors.Is(err, io.EOF) {
			return h, nil
		}
		if err != nil {
			return nil, fmt.Errorf("tikvtest: read history: %w", err)
		}
		if e.Series == nil {
			continue
		}
		s := Series{Labels: make(map[string]string, len(e.Series.Labels))}
		for k, v := range e.Series.Labels {
			if k == "__name__" {
				s.Name = v
				continue
			}
			s.Labels[k] = v
		}
		for _, smp := range e.Series.Samples {
			if in(smp.T) {
				s.Samples = append(s.Samples, Sample{At: smp.T, Value: smp.V})
			}
		}
		if len(s.Samples) == 0 {
			continue
		}
		if err := h.Add(s); err != nil {
			return nil, err
		}
	}
}

// NewReplayPrometheus starts a real Prometheus holding the series of the
// recording at path ([ReadHistory] of its whole window,
// [BackfillPrometheus]) for a test, stopped by t.Cleanup. It skips the
// test when prometheus or promtool is missing, or fails it when CI is
// "true"; a recording that cannot be read fails it.
func NewReplayPrometheus(t testing.TB, path string) *Prometheus {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("tikvtest: replay: %v", err)
		return nil
	}
	defer f.Close()
	rd, err := record.NewReader(f)
	if err == nil {
		var h *History
		if h, err = ReadHistory(rd, time.Time{}, time.Time{}); err == nil {
			return NewBackfilledPrometheus(t, h)
		}
	}
	t.Fatalf("tikvtest: replay %s: %v", path, err)
	return nil
}
