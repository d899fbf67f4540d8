package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/kvops/operator/tikv/tikvtest"
)

// readyLine is simpd's first line on stdout: where everything listens.
type readyLine struct {
	Event string `json:"event"` // "ready"
	// PD is PD's API base URL, for -pd, pdclient and curl.
	PD string `json:"pd"`
	// Prometheus is the base URL of the Prometheus scraping the stores
	// (job "tikv") and PD's members (job "pd"); empty when none runs.
	Prometheus string `json:"prometheus,omitempty"`
	// Stores maps each store's id to its metrics endpoint (host:port),
	// its status_address in PD's answers.
	Stores map[uint64]string `json:"stores"`
	// PDMetrics are PD's members' metrics endpoints (host:port).
	PDMetrics []string `json:"pd_metrics"`
	Speed     float64  `json:"speed"`
	// Scenario is the faults injected, "recording" with -recording.
	Scenario string `json:"scenario"`
	// Recording is -recording's file; ReplayStart the replay's time when
	// simpd started reading it (its clock runs on from there at Speed),
	// RecordingEnd the end of its window.
	Recording    string `json:"recording,omitempty"`
	ReplayStart  string `json:"replay_start,omitempty"`
	RecordingEnd string `json:"recording_end,omitempty"`
}

// faultLine is a fault of the scenario, injected.
type faultLine struct {
	Event string `json:"event"` // "fault"
	At    string `json:"at"`    // from the start, in the cluster's time
	What  string `json:"what"`
	Error string `json:"error,omitempty"`
}

// events writes JSON lines, one at a time.
type events struct {
	mu  sync.Mutex
	enc *json.Encoder
}

func newEvents(w io.Writer) *events { return &events{enc: json.NewEncoder(w)} }

// write writes v as one line. A reader that went away loses the line;
// the cluster carries on.
func (e *events) write(v any) {
	e.mu.Lock()
	defer e.mu.Unlock()
	_ = e.enc.Encode(v)
}

// server is the running cluster, its Prometheus and its ticking.
type server struct {
	cl    *tikvtest.Cluster
	prom  *tikvtest.Prometheus // nil when none runs
	mu    sync.Mutex           // guards ready, which requests read
	ready readyLine
	stop  context.CancelFunc // nil until tick
	done  chan struct{}      // closed once the ticking has ended
}

// scaledClock runs speed times as fast as real time from base.
type scaledClock struct {
	base  time.Time
	speed float64
}

func (c scaledClock) Now() time.Time {
	return c.base.Add(time.Duration(float64(time.Since(c.base)) * c.speed))
}

// startCluster listens on o.addr, starts the cluster and its Prometheus,
// which do not tick until [server.tick].
func startCluster(ctx context.Context, o options, out *events, stderr io.Writer) (*server, error) {
	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return nil, err
	}
	cfg := tikvtest.Config{Stores: o.stores, Regions: o.regions, Seed: o.seed, PDListener: ln}
	if o.speed != 1 {
		cfg.Clock = scaledClock{base: time.Now(), speed: o.speed}
	}
	s := &server{done: make(chan struct{})}
	cfg.WrapPD = func(pd http.Handler) http.Handler { return s.handler(pd, out) }
	cl, err := tikvtest.NewUnstartedCluster(cfg)
	if err != nil {
		_ = ln.Close()
		return nil, fmt.Errorf("%w: %w", errUsage, err)
	}
	s.cl = cl // before Start serves a request, which reads it
	if err := cl.Start(ctx); err != nil {
		return nil, errors.Join(err, cl.Close())
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ready = readyLine{Event: "ready", PD: cl.PDURL(), Stores: map[uint64]string{}, PDMetrics: cl.PDScrapeTargets(),
		Speed: o.speed, Scenario: o.scenario}
	for i, addr := range cl.ScrapeTargets() {
		s.ready.Stores[uint64(i+1)] = addr
	}
	if !o.noPrometheus {
		prom, err := cl.StartPrometheus(ctx, o.scrape)
		switch {
		case errors.Is(err, tikvtest.ErrNoPrometheus):
			fmt.Fprintln(stderr, "simpd: no prometheus on PATH, so none scrapes the stores (apt-get install prometheus)")
		case err != nil:
			return nil, errors.Join(err, cl.Close())
		default:
			s.prom, s.ready.Prometheus = prom, prom.URL
		}
	}
	return s, nil
}

// tick starts ticking the cluster, with the scenario's faults: after the
// ready line, which is the first.
func (s *server) tick(o options, out *events) {
	var scenario tikvtest.Scenario
	if o.scenario == "demo" {
		scenario = tikvtest.DemoScenario()
	}
	runCtx, stop := context.WithCancel(context.Background())
	s.stop = stop
	go func() {
		defer close(s.done)
		// Only a tick not positive or a scenario out of order fails, and
		// neither can.
		_ = s.cl.RunScenario(runCtx, o.tick, scenario, func(st tikvtest.Step, err error) {
			l := faultLine{Event: "fault", At: st.At.String(), What: st.What}
			if err != nil {
				l.Error = err.Error()
			}
			out.write(l)
		})
	}()
}

// close stops the ticking, Prometheus, then the cluster.
func (s *server) close() {
	if s.stop != nil {
		s.stop()
		<-s.done
	}
	if s.prom != nil {
		s.prom.Stop()
	}
	_ = s.cl.Close()
}
