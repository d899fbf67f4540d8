package realpd

import "syscall"

// sysProcAttr puts the child in a process group of its own, so that Stop
// kills whatever it forks too, and has the kernel kill it when the test
// binary dies, so that a panic or go test's -timeout leaves nothing behind.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

func signalGroup(pid int, sig syscall.Signal) error { return syscall.Kill(-pid, sig) }

// supportedOS: the binaries are Linux programs.
const supportedOS = true
