//go:build unix

package main

import (
	"errors"
	"os"
	"syscall"
)

// lock takes f's exclusive lock without waiting; the kernel releases it
// when the process dies.
func lock(f *os.File) error {
	err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	if errors.Is(err, syscall.EWOULDBLOCK) {
		return errLocked
	}
	return err
}
