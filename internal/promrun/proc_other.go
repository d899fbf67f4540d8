//go:build !linux

package promrun

import "syscall"

// sysProcAttr: elsewhere Prometheus outlives a parent killed with SIGKILL.
func sysProcAttr() *syscall.SysProcAttr { return nil }
