package filelock_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/kvops/operator/internal/filelock"
	"github.com/kvops/operator/subject"
)

// TestSecondAcquireIsRefused: a second Acquire of the same lock, in the
// same process, is refused at once with a *subject.LockedError naming the
// holder; once released, the lock can be taken again. The second process
// is drilled by the guard's and the ledger's tests.
func TestSecondAcquireIsRefused(t *testing.T) {
	dir := t.TempDir()
	lockPath, record := filepath.Join(dir, "j.lock"), filepath.Join(dir, "j")
	l, err := filelock.Acquire(lockPath, record, "first")
	require.NoError(t, err)

	_, err = filelock.Acquire(lockPath, record, "second")
	var le *subject.LockedError
	require.True(t, errors.As(err, &le), "%v", err)
	require.ErrorIs(t, err, subject.ErrPrecondition)
	host, _ := os.Hostname()
	require.Equal(t, os.Getpid(), le.Holder.PID)
	require.Equal(t, host, le.Holder.Host)
	require.Equal(t, "first", le.Holder.Identity)
	require.False(t, le.Holder.Since.IsZero())
	require.Equal(t, record, le.Path)
	require.Equal(t, lockPath, le.Lock)

	require.NoError(t, l.Release())
	require.NoError(t, l.Release(), "a second release does nothing")
	again, err := filelock.Acquire(lockPath, record, "")
	require.NoError(t, err)
	require.NoError(t, again.Release())
}

func TestHolderString(t *testing.T) {
	require.Equal(t, "a holder that has not written its name yet", subject.LockHolder{}.String())
	require.Equal(t, `pid 7 on h ("mcp")`, subject.LockHolder{PID: 7, Host: "h", Identity: "mcp"}.String())
}
