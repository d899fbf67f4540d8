package record_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kvops/operator/pdclient"
	"github.com/kvops/operator/tikv/record"
	"github.com/kvops/operator/tikv/tikvtest"
)

// fixed is a tikvtest.TimeSource that starts the cluster at t0.
type fixed time.Time

func (f fixed) Now() time.Time { return time.Time(f) }

// sim is a simulated cluster whose PD is served through a front that can
// be made to drop every connection (PD unreachable), on a clock that
// applies faults as it passes their times.
type sim struct {
	cl     *tikvtest.Cluster
	front  *httptest.Server
	down   atomic.Bool
	pd     *pdclient.Client
	start  time.Time
	faults []fault
}

type fault struct {
	at time.Duration
	do func()
}

func newSim(t *testing.T, cfg tikvtest.Config) *sim {
	t.Helper()
	if cfg.Clock == nil {
		cfg.Clock = fixed(t0)
	}
	s := &sim{cl: tikvtest.NewCluster(t, cfg)}
	s.start = s.cl.Now()
	h := s.cl.PDHandler()
	s.front = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.down.Load() {
			panic(http.ErrAbortHandler) // the connection is dropped: no answer
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(s.front.Close)
	pc := pdclient.DefaultConfig()
	pc.Endpoints = []string{s.front.URL}
	pc.MembersRefreshInterval = -1 // the front, not the members' own URLs
	pc.MaxAttempts = 1
	var err error
	if s.pd, err = pdclient.New(pc); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.pd.CloseIdleConnections)
	return s
}

// Now and Sleep make sim a record.Clock: Sleep advances the cluster a
// second at a time, applying the faults whose time has come.
func (s *sim) Now() time.Time { return s.cl.Now() }

func (s *sim) Sleep(ctx context.Context, d time.Duration) error {
	for end := s.cl.Now().Add(d); s.cl.Now().Before(end); {
		if err := ctx.Err(); err != nil {
			return err
		}
		s.cl.Advance(min(time.Second, end.Sub(s.cl.Now())))
		for len(s.faults) > 0 && s.cl.Now().Sub(s.start) >= s.faults[0].at {
			s.faults[0].do()
			s.faults = s.faults[1:]
		}
	}
	return ctx.Err()
}

// storesAnswer is what the tests read of PD's stores answer.
type storesAnswer struct {
	Stores []struct {
		Store struct {
			ID        uint64 `json:"id"`
			StateName string `json:"state_name"`
		} `json:"store"`
	} `json:"stores"`
}

// stateOf returns each store's state_name in a stores answer.
func stateOf(t *testing.T, body json.RawMessage) map[uint64]string {
	t.Helper()
	var a storesAnswer
	if err := json.Unmarshal(body, &a); err != nil {
		t.Fatalf("stores answer: %v", err)
	}
	out := map[uint64]string{}
	for _, s := range a.Stores {
		out[s.Store.ID] = s.Store.StateName
	}
	return out
}

// regionsAt rebuilds the regions as the recording says they were after
// each whole read: id -> the region's raw object.
func regionsAt(t *testing.T, entries []record.Entry) []map[uint64]json.RawMessage {
	t.Helper()
	var out []map[uint64]json.RawMessage
	cur := map[uint64]json.RawMessage{}
	var pending map[uint64]json.RawMessage
	for _, e := range entries {
		rg := e.Regions
		if rg == nil {
			continue
		}
		if pending == nil {
			pending = map[uint64]json.RawMessage{}
			if !rg.Full {
				for id, r := range cur {
					pending[id] = r
				}
			}
		}
		if rg.Error != "" {
			pending = nil
			continue
		}
		for _, raw := range rg.Changed {
			var m struct {
				ID uint64 `json:"id"`
			}
			if err := json.Unmarshal(raw, &m); err != nil {
				t.Fatal(err)
			}
			pending[m.ID] = raw
		}
		for _, id := range rg.Removed {
			delete(pending, id)
		}
		if rg.Done {
			if len(pending) != rg.Count {
				t.Errorf("read at %v: %d regions rebuilt, the read counts %d", rg.At, len(pending), rg.Count)
			}
			cur, pending = pending, nil
			out = append(out, cur)
		}
	}
	return out
}
