package tikvtest

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"
)

func TestRunTicksWithTheClock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, err := NewUnstartedCluster(Config{Regions: 20}) // the real clock, faked by the bubble
		require.NoError(t, err)
		defer func() { require.NoError(t, c.Close()) }()
		start := c.Now()
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- c.Run(ctx, time.Second) }()
		time.Sleep(3500 * time.Millisecond)
		synctest.Wait()
		require.Equal(t, start.Add(3*time.Second), c.Now())
		cancel()
		require.NoError(t, <-done)
		require.ErrorIs(t, c.Run(ctx, 0), ErrBadArgument)
	})
}

// TestRunScenarioRunsEachStepOnTime: each step runs once, at the first
// tick at least its At after the start, in order; a step that fails is
// reported and the next ones still run; steps out of order are refused.
func TestRunScenarioRunsEachStepOnTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, err := NewUnstartedCluster(Config{Regions: 20})
		require.NoError(t, err)
		defer func() { require.NoError(t, c.Close()) }()
		start := c.Now()
		type ran struct {
			What string
			At   time.Duration
			Err  bool
		}
		var got []ran
		s := Scenario{
			{At: 1500 * time.Millisecond, What: "store 2 stops", Do: func(c *Cluster) error { return c.StopStore(2) }},
			{At: 2 * time.Second, What: "store 9 stops", Do: func(c *Cluster) error { return c.StopStore(9) }},
			{At: 3 * time.Second, What: "store 2 starts", Do: func(c *Cluster) error { return c.StartStore(2) }},
		}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() {
			done <- c.RunScenario(ctx, time.Second, s, func(st Step, err error) {
				got = append(got, ran{st.What, c.Now().Sub(start), err != nil})
			})
		}()
		time.Sleep(3500 * time.Millisecond)
		synctest.Wait()
		cancel()
		require.NoError(t, <-done)
		want := []ran{{"store 2 stops", 2 * time.Second, false}, {"store 9 stops", 2 * time.Second, true}, {"store 2 starts", 3 * time.Second, false}}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("steps run (-want +got):\n%s", diff)
		}

		require.ErrorIs(t, c.RunScenario(t.Context(), 0, nil, nil), ErrBadArgument)
		require.ErrorIs(t, c.RunScenario(t.Context(), time.Second, Scenario{s[2], s[0]}, nil), ErrBadArgument)
	})
}

// TestDemoScenarioRunsOnFiveStores: every step of the demo's scenario
// applies to a five-store cluster, in order.
func TestDemoScenarioRunsOnFiveStores(t *testing.T) {
	c, err := NewUnstartedCluster(Config{Stores: 5, Regions: 20})
	require.NoError(t, err)
	defer func() { require.NoError(t, c.Close()) }()
	s := DemoScenario()
	require.NotEmpty(t, s)
	for i, st := range s {
		if i > 0 {
			require.GreaterOrEqual(t, st.At, s[i-1].At, "in order")
		}
		require.NotEmpty(t, st.What)
		require.NoError(t, st.Do(c), st.What)
	}
}
