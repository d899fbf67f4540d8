//go:build linux || darwin || freebsd || netbsd || openbsd

package bindonly

import (
	"fmt"
	"io"
	"net"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// Bind binds a TCP socket to addr, an IPv4 host:port (port 0 for one the
// kernel chooses), without listening, and returns it (close it to let the
// port go) and the address it holds. The kernel refuses connections to
// the port and does not hand it out as an ephemeral port.
//
// Without reusePort no other socket can bind the port. With reusePort the
// socket sets SO_REUSEPORT, so that a listener of the same user that sets
// it too can bind the port beside it (and it beside such a listener),
// which is how a port is handed from a listener to a holder and back
// without ever being free; sockets without SO_REUSEPORT still cannot.
func Bind(addr string, reusePort bool) (io.Closer, string, error) {
	ta, err := net.ResolveTCPAddr("tcp4", addr)
	if err != nil {
		return nil, "", fmt.Errorf("bindonly: %w", err)
	}
	syscall.ForkLock.RLock() // no child may inherit the socket
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err == nil {
		syscall.CloseOnExec(fd)
	}
	syscall.ForkLock.RUnlock()
	if err != nil {
		return nil, "", fmt.Errorf("bindonly: socket: %w", err)
	}
	fail := func(op string, err error) (io.Closer, string, error) {
		_ = syscall.Close(fd)
		return nil, "", fmt.Errorf("bindonly: %s %s: %w", op, addr, err)
	}
	if reusePort {
		if err := syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, unix.SO_REUSEPORT, 1); err != nil {
			return fail("SO_REUSEPORT", err)
		}
	}
	sa := &syscall.SockaddrInet4{Port: ta.Port}
	copy(sa.Addr[:], ta.IP.To4())
	if err := syscall.Bind(fd, sa); err != nil {
		return fail("bind", err)
	}
	got, err := syscall.Getsockname(fd)
	if err != nil {
		return fail("getsockname", err)
	}
	in4, ok := got.(*syscall.SockaddrInet4)
	if !ok {
		return fail("getsockname", fmt.Errorf("address %T", got))
	}
	held := net.TCPAddr{IP: net.IP(in4.Addr[:]), Port: in4.Port}
	return os.NewFile(uintptr(fd), "bound "+held.String()), held.String(), nil
}

// ReusePort is a net.ListenConfig Control that sets SO_REUSEPORT, for a
// listener that takes a port over from a socket Bind holds with
// reusePort, or hands it to one.
func ReusePort(_, _ string, c syscall.RawConn) error {
	var serr error
	if err := c.Control(func(fd uintptr) {
		serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, unix.SO_REUSEPORT, 1)
	}); err != nil {
		return err
	}
	return serr
}
