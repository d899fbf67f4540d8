package tikv_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/kvops/operator/subject"
	"github.com/kvops/operator/tikv"
)

// TestEvictionsSayWhoMadeThem: a store the eviction ledger lists was
// evicted by this operator; one evicted by hand is listed with nobody
// named. None is an empty list, not nil (JSON [], not null).
func TestEvictionsSayWhoMadeThem(t *testing.T) {
	rc := newRestartCluster(t)
	sub, ctx, _ := rc.process(t, 0, false)
	got, err := sub.Evictions(ctx)
	require.NoError(t, err)
	require.NotNil(t, got)
	require.Empty(t, got)

	_, err = sub.PrepareRestart(ctx, 2, tikv.RestartOptions{})
	require.NoError(t, err)
	require.NoError(t, sub.PD().EvictLeader(ctx, 4)) // pd-ctl, say
	got, err = sub.Evictions(ctx)
	require.NoError(t, err)
	want := []subject.Eviction{
		{Store: 2, Scheduler: "evict-leader-scheduler", By: subject.ByOperator},
		{Store: 4, Scheduler: "evict-leader-scheduler"},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("evictions (-want +got):\n%s", d)
	}
}
