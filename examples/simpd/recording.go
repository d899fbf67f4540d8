package main

import (
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/kvops/operator/tikv/record"
	"github.com/kvops/operator/tikv/tikvtest"
)

// replayed is a recording served as PD: the replay, its clock and its
// Prometheus.
type replayed struct {
	rp    *tikvtest.Replay
	f     io.Closer
	start time.Time // the replay clock's at base
	base  time.Time // the real time the replay started
	speed float64
	prom  *tikvtest.Prometheus // nil when none runs
	out   *events

	mu       sync.Mutex
	reported bool // the recording's error was written
}

// now is the replay clock: from start, speed times as fast as real time.
func (r *replayed) now() time.Time {
	return r.start.Add(time.Duration(float64(time.Since(r.base)) * r.speed))
}

// real is the real time at which the replay clock reads t.
func (r *replayed) real(t time.Time) time.Time {
	return r.base.Add(time.Duration(float64(t.Sub(r.start)) / r.speed))
}

// replayStart parses -start: a time (RFC 3339) or a duration from the
// recording's start; "" is the replay's default.
func replayStart(s string, h record.Header) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%w: -start %q: want a time (RFC 3339) or a duration from the recording's start", errUsage, s)
	}
	return h.Start.Add(d), nil
}

// runRecording serves the recording at o.recording until ctx ends.
func runRecording(ctx context.Context, o options, stdout, stderr io.Writer) error {
	out := newEvents(stdout)
	r, err := openRecording(o, out)
	if err != nil {
		return err
	}
	defer r.f.Close()
	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return err
	}
	if !o.noPrometheus {
		if err := r.backfill(ctx, o.recording, stderr); err != nil {
			_ = ln.Close()
			return err
		}
	}
	if r.prom != nil {
		defer r.prom.Stop()
	}
	h := r.rp.Header()
	ready := readyLine{Event: "ready", PD: "http://" + ln.Addr().String(), Stores: map[uint64]string{}, PDMetrics: []string{},
		Speed: o.speed, Scenario: "recording", Recording: o.recording, ReplayStart: r.start.UTC().Format(time.RFC3339Nano),
		RecordingEnd: h.End.UTC().Format(time.RFC3339Nano)}
	if r.prom != nil {
		ready.Prometheus = r.prom.URL
	}
	srv := &http.Server{Handler: r.handler(ready), ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	out.write(ready)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case <-ctx.Done():
	case err := <-errc:
		return err
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	return srv.Shutdown(sctx)
}

// openRecording opens the recording and starts its replay at -start.
func openRecording(o options, out *events) (*replayed, error) {
	f, err := openFile(o.recording)
	if err != nil {
		return nil, fmt.Errorf("%w: -recording: %w", errUsage, err)
	}
	rd, err := record.NewReader(f)
	if err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("%w: -recording %s: %w", errUsage, o.recording, err)
	}
	start, err := replayStart(o.start, rd.Header())
	if err == nil {
		var rp *tikvtest.Replay
		if rp, err = tikvtest.NewReplay(rd, tikvtest.ReplayConfig{Start: start}); err == nil {
			return &replayed{rp: rp, f: f, start: rp.Now(), base: time.Now(), speed: o.speed, out: out}, nil
		}
		err = fmt.Errorf("%w: -recording %s: %w", errUsage, o.recording, err)
	}
	_ = f.Close()
	return nil, err
}

// backfill starts a Prometheus holding the recording's series from the
// replay's start on, each sample moved to the real time at which the
// replay's clock reads its time, so that a program querying at its own
// (real) time reads what the recorded Prometheus answered at the replay's
// time. None runs when the recording has no series there, or no
// prometheus is installed (stderr says so).
func (r *replayed) backfill(ctx context.Context, path string, stderr io.Writer) error {
	f, err := openFile(path)
	if err != nil {
		return err
	}
	defer f.Close()
	rd, err := record.NewReader(f)
	if err != nil {
		return err
	}
	hist, err := tikvtest.ReadHistory(rd, r.start, time.Time{})
	if err != nil {
		return fmt.Errorf("%w: -recording %s: %w", errUsage, path, err)
	}
	shifted := &tikvtest.History{}
	for _, s := range hist.Series() {
		for i := range s.Samples {
			s.Samples[i].At = r.real(s.Samples[i].At)
		}
		if err := shifted.Add(s); err != nil {
			return err
		}
	}
	if len(shifted.Series()) == 0 {
		fmt.Fprintln(stderr, "simpd: the recording has no series from its start on: no Prometheus")
		return nil
	}
	prom, err := tikvtest.BackfillPrometheus(ctx, shifted)
	switch {
	case errors.Is(err, tikvtest.ErrNoPrometheus):
		fmt.Fprintln(stderr, "simpd: no prometheus or promtool on PATH, so the recording's series are not served (apt-get install prometheus)")
		return nil
	case err != nil:
		return err
	}
	r.prom = prom
	return nil
}

// openFile opens a recording, gunzipped when its name ends in .gz.
func openFile(path string) (io.ReadCloser, error) {
	f, err := os.Open(path)
	if err != nil || !strings.HasSuffix(path, ".gz") {
		return f, err
	}
	z, err := gzip.NewReader(f)
	if err != nil {
		_ = f.Close()
		return nil, err
	}
	return struct {
		io.Reader
		io.Closer
	}{z, f}, nil
}

// recordingError is the line written once when the recording cannot be
// read further (cut short, a line that does not decode): PD's answers
// stay as they were read before it.
type recordingError struct {
	Event string `json:"event"` // "recording_error"
	At    string `json:"at"`    // the replay's time
	Error string `json:"error"`
}

// handler serves PD's API from the replay at its clock, and GET
// /simpd/v1/status; the control API's other requests have no cluster to
// act on (404).
func (r *replayed) handler(ready readyLine) http.Handler {
	pd := r.rp.Handler()
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		now := r.now()
		if err := r.rp.SetTime(now); err != nil {
			r.mu.Lock()
			if !r.reported {
				r.reported = true
				r.out.write(recordingError{Event: "recording_error", At: now.UTC().Format(time.RFC3339Nano), Error: err.Error()})
			}
			r.mu.Unlock()
		}
		switch {
		case req.Method == http.MethodGet && req.URL.Path == controlPrefix+"status":
			st := struct {
				readyLine
				Now string `json:"now"` // the replay's time
			}{ready, r.rp.Now().Format("2006-01-02T15:04:05.000Z07:00")}
			st.Event = "status"
			answer(w, http.StatusOK, st)
		case strings.HasPrefix(req.URL.Path, controlPrefix):
			answer(w, http.StatusNotFound, fmt.Errorf("no control %s %s: simpd serves a recording", req.Method, req.URL.Path))
		default:
			pd.ServeHTTP(w, req)
		}
	})
}
