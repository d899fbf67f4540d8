package tikv_test

import (
	"context"
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/kvops/operator/pdclient"
	"github.com/kvops/operator/subject"
	"github.com/kvops/operator/tikv"
)

// writeCounter counts the requests to PD that could change it (any method
// but GET).
type writeCounter struct {
	next   http.RoundTripper
	writes atomic.Int64
}

func (w *writeCounter) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method != http.MethodGet {
		w.writes.Add(1)
	}
	return w.next.RoundTrip(req)
}

// TestNothingToDoSetsNoChange: an action that finds the cluster already as
// it would leave it says so with NoChange, in a dry run and in the real
// call alike, and sends PD nothing.
func TestNothingToDoSetsNoChange(t *testing.T) {
	type call func(ctx context.Context, s *tikv.Subject) (subject.Result, error)
	tests := []struct {
		name  string
		setup call // brings the cluster to the state; nil: as it starts
		act   call
	}{
		{"transfer to the current leader", nil, func(ctx context.Context, s *tikv.Subject) (subject.Result, error) {
			return s.TransferLeader(ctx, region9, 1)
		}},
		{"restore on a never-evicted store", nil, func(ctx context.Context, s *tikv.Subject) (subject.Result, error) {
			return s.RestoreLeaders(ctx, 1)
		}},
		{"evict on an evicted store leading none", func(ctx context.Context, s *tikv.Subject) (subject.Result, error) {
			return s.EvictLeaders(ctx, 2)
		}, func(ctx context.Context, s *tikv.Subject) (subject.Result, error) {
			return s.EvictLeaders(ctx, 2)
		}},
		{"prepare_restart on an evicted store leading none", func(ctx context.Context, s *tikv.Subject) (subject.Result, error) {
			return s.EvictLeaders(ctx, 2)
		}, func(ctx context.Context, s *tikv.Subject) (subject.Result, error) {
			return s.PrepareRestart(ctx, 2, tikv.RestartOptions{})
		}},
		{"finish_restart on a store back already", nil, func(ctx context.Context, s *tikv.Subject) (subject.Result, error) {
			return s.FinishRestart(ctx, 3, tikv.RestartOptions{})
		}},
		{"schedule limit already at the value", func(ctx context.Context, s *tikv.Subject) (subject.Result, error) {
			return s.SetScheduleLimit(ctx, subject.LeaderLimit, 7)
		}, func(ctx context.Context, s *tikv.Subject) (subject.Result, error) {
			return s.SetScheduleLimit(ctx, subject.LeaderLimit, 7)
		}},
		{"low-space threshold already at the value", func(ctx context.Context, s *tikv.Subject) (subject.Result, error) {
			return s.SetLowSpaceThreshold(ctx, 85)
		}, func(ctx context.Context, s *tikv.Subject) (subject.Result, error) {
			return s.SetLowSpaceThreshold(ctx, 85)
		}},
		{"drain of an Offline store", func(ctx context.Context, s *tikv.Subject) (subject.Result, error) {
			return s.DrainStore(ctx, 4)
		}, func(ctx context.Context, s *tikv.Subject) (subject.Result, error) {
			return s.DrainStore(ctx, 4)
		}},
		{"undrain of an Up store", nil, func(ctx context.Context, s *tikv.Subject) (subject.Result, error) {
			return s.UndrainStore(ctx, 3)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := &writeCounter{next: http.DefaultTransport}
			c := newCluster(t, func(cfg *tikv.Config) {
				cfg.PD = pdclient.Config{Endpoints: cfg.PD.Endpoints, HTTPClient: &http.Client{Transport: w}}
			})
			ctx := t.Context()
			if tt.setup != nil {
				res, err := tt.setup(ctx, c.sub)
				require.NoError(t, err)
				require.False(t, res.NoChange, "the setup changed the cluster: %s", res.Summary)
			}
			before := w.writes.Load()
			dry, err := tt.act(subject.WithDryRun(ctx), c.sub)
			require.NoError(t, err)
			require.True(t, dry.DryRun)
			require.True(t, dry.NoChange, "dry run: %s", dry.Summary)
			real, err := tt.act(ctx, c.sub)
			require.NoError(t, err)
			require.False(t, real.DryRun)
			require.True(t, real.NoChange, "real call: %s", real.Summary)
			require.Equal(t, dry.Summary, real.Summary)
			require.Contains(t, real.Summary, "nothing to do")
			require.Equal(t, before, w.writes.Load(), "a call with nothing to do sent PD a change")
		})
	}
}

// TestChangeLeavesNoChangeUnset: an action that has something to do does
// not claim NoChange, in a dry run or in the real call.
func TestChangeLeavesNoChangeUnset(t *testing.T) {
	c := newCluster(t, nil)
	ctx := t.Context()
	dry, err := c.sub.TransferLeader(subject.WithDryRun(ctx), region9, 2)
	require.NoError(t, err)
	require.False(t, dry.NoChange, dry.Summary)
	real, err := c.sub.TransferLeader(ctx, region9, 2)
	require.NoError(t, err)
	require.False(t, real.NoChange, real.Summary)
}
