package tikvtest

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

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
