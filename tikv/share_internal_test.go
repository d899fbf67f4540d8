package tikv

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"
)

func TestShared(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		reads := 0
		var fail error
		sh := newShared(func(context.Context) (int, error) {
			reads++
			return reads, fail
		})
		get := func(consumer string) int {
			t.Helper()
			v, err := sh.get(t.Context(), consumer)
			require.Equal(t, fail, err)
			return v
		}
		// One evaluation: a reads, b and c reuse.
		require.Equal(t, []int{1, 1, 1}, []int{get("a"), get("b"), get("c")})
		// The next: whoever asks again reads anew; the others reuse that.
		require.Equal(t, []int{2, 2, 2}, []int{get("a"), get("b"), get("c")})
		require.Equal(t, []int{3, 3}, []int{get("b"), get("a")})
		// A reading older than shareMaxAge is not reused.
		time.Sleep(shareMaxAge + time.Second)
		require.Equal(t, 4, get("c"))
		// Errors are shared as readings are.
		fail = errors.New("down")
		require.Equal(t, 5, get("c"))
		require.Equal(t, 5, get("a"))
		require.Equal(t, 5, reads)
	})
}
