package promrun

import "syscall"

// sysProcAttr has the kernel kill Prometheus when the process that
// started it dies, so that a program killed with SIGKILL (examples/simpd)
// or a test binary that panics leaves no Prometheus behind.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
