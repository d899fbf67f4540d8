//go:build !linux

package realpd

import (
	"fmt"
	"runtime"
	"syscall"
)

// The binaries are built for Linux; elsewhere nothing is started.
func sysProcAttr() *syscall.SysProcAttr { return nil }

func signalGroup(pid int, sig syscall.Signal) error {
	return fmt.Errorf("realpd: process groups are not supported on %s", runtime.GOOS)
}

// supportedOS: the binaries are Linux programs.
const supportedOS = false
