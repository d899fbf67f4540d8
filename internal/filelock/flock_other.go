//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package filelock

import (
	"fmt"
	"os"
	"runtime"

	"github.com/kvops/operator/subject"
)

func tryLock(*os.File) (bool, error) {
	return false, fmt.Errorf("one writer per record needs flock(2), which this library does not use on %s: %w", runtime.GOOS, subject.ErrNotSupported)
}

func unlock(*os.File) error { return nil }

// syncDir does nothing: on Windows a directory cannot be opened for
// syncing, and its entries are durable once the file's are.
func syncDir(*os.File) error { return nil }
