package tikv

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/kvops/operator/pdclient"
	"github.com/kvops/operator/subject"
)

func TestConfigCache(t *testing.T) {
	reads := 0
	var fail bool
	errDown := errors.New("pd down")
	c := &configCache{read: func(context.Context) (*pdclient.ScheduleConfig, error) {
		if fail {
			return nil, errDown
		}
		reads++
		return &pdclient.ScheduleConfig{LowSpaceRatio: float64(reads) / 10}, nil
	}}
	t0 := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	steps := []struct {
		at        time.Duration
		fail      bool
		wantRatio float64
		wantErr   bool
	}{
		{0, false, 0.1, false},
		{59 * time.Second, false, 0.1, false},
		{time.Minute, false, 0.2, false},              // max age reached
		{-time.Hour, false, 0.3, false},               // clock set back
		{-time.Hour, true, 0.3, false},                // fresh: no read
		{-time.Hour + time.Minute, true, 0, true},     // stale and PD down
		{-time.Hour + time.Minute, false, 0.4, false}, // a failure is not kept
	}
	for i, s := range steps {
		fail = s.fail
		cfg, err := c.get(t.Context(), t0.Add(s.at))
		if s.wantErr {
			if !errors.Is(err, errDown) {
				t.Fatalf("step %d: err = %v, want %v", i, err, errDown)
			}
			continue
		}
		if err != nil || cfg.LowSpaceRatio != s.wantRatio {
			t.Fatalf("step %d: got %v, %v; want ratio %v", i, cfg, err, s.wantRatio)
		}
	}
}

func TestAnyPendingAndUnreported(t *testing.T) {
	up := subject.Store{ID: 1, State: subject.StateUp, Capacity: 10, Available: 5, UsedSize: 5}
	pending := up
	pending.PendingPeerCount = 2
	tomb := pending
	tomb.State = subject.StateTombstone
	silent := subject.Store{ID: 2, State: subject.StateDisconnected, LastHeartbeat: t0}
	silentDown := silent
	silentDown.State = subject.StateDown
	starting := subject.Store{ID: 3, State: subject.StateDown} // never heartbeated
	tests := []struct {
		name                   string
		stores                 []subject.Store
		wantPending, wantQuiet bool
	}{
		{"healthy", []subject.Store{up}, false, false},
		{"a pending peer", []subject.Store{up, pending}, true, false},
		{"tombstones do not count", []subject.Store{up, tomb}, false, false},
		{"an unreported store", []subject.Store{up, silent}, false, true},
		{"an unreported store Down by PD's stored heartbeat", []subject.Store{up, silentDown}, false, true},
		{"a starting store is not unreported", []subject.Store{up, starting}, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := []bool{anyPending(tt.stores), anyUnreported(tt.stores)}
			if diff := cmp.Diff([]bool{tt.wantPending, tt.wantQuiet}, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}
