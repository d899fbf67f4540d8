//go:build unix

package promtest

import (
	"syscall"
	"testing"
)

// RefusedAddr returns a loopback host:port where connections are refused
// and that nothing else can take while the test runs, for tests of an
// unreachable server. The port is held by a socket bound to it but never
// listening: the kernel refuses connections to it, no other socket can
// bind it (the holder does not set SO_REUSEADDR), and it is not handed
// out as an ephemeral port. t.Cleanup closes the socket.
//
// (A port found free and closed again, as promtest.FreeAddr did, can be
// taken by any process on the host before the test dials it: a test once
// got another process's 404 where it expected a refused connection.)
func RefusedAddr(t testing.TB) string {
	t.Helper()
	syscall.ForkLock.RLock() // no child may inherit the socket
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err == nil {
		syscall.CloseOnExec(fd)
	}
	syscall.ForkLock.RUnlock()
	if err != nil {
		t.Fatalf("promtest: socket: %v", err)
	}
	t.Cleanup(func() { _ = syscall.Close(fd) })
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatalf("promtest: bind 127.0.0.1:0: %v", err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		t.Fatalf("promtest: getsockname: %v", err)
	}
	in4, ok := sa.(*syscall.SockaddrInet4)
	if !ok {
		t.Fatalf("promtest: getsockname gave %T", sa)
	}
	return netAddr(in4.Port)
}
