//go:build linux || darwin || freebsd || netbsd || openbsd

package tikvtest

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// A stopped store keeps its address, so that Prometheus scrapes it again
// once it starts. Closing its listener and listening again later left the
// port free in between, and another process's socket could take it (a
// test failed with "address already in use" on StartStore). So store
// listeners set SO_REUSEPORT, and while a store is stopped its port is
// held by a socket bound with SO_REUSEPORT but not listening: connections
// are refused, as by a dead TiKV; no socket without SO_REUSEPORT can bind
// the port (other programs' listeners, outgoing connections' ephemeral
// ports); and the store's next listener binds beside it before it is
// closed, so the port is never free.

// listenReusable listens on addr with SO_REUSEPORT.
func listenReusable(addr string) (net.Listener, error) {
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		if err := c.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, unix.SO_REUSEPORT, 1)
		}); err != nil {
			return err
		}
		return serr
	}}
	return lc.Listen(context.Background(), "tcp", addr)
}

// holdPort binds a socket with SO_REUSEPORT to addr (an IPv4 host:port
// that a listener of listenReusable holds or held) without listening, and
// returns it, to be closed once the port is listened on again.
func holdPort(addr string) (io.Closer, error) {
	ta, err := net.ResolveTCPAddr("tcp4", addr)
	if err != nil {
		return nil, fmt.Errorf("tikvtest: hold %s: %w", addr, err)
	}
	syscall.ForkLock.RLock() // no child may inherit the socket
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err == nil {
		syscall.CloseOnExec(fd)
	}
	syscall.ForkLock.RUnlock()
	if err != nil {
		return nil, fmt.Errorf("tikvtest: hold %s: socket: %w", addr, err)
	}
	sa := &syscall.SockaddrInet4{Port: ta.Port}
	copy(sa.Addr[:], ta.IP.To4())
	if err := syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, unix.SO_REUSEPORT, 1); err != nil {
		_ = syscall.Close(fd)
		return nil, fmt.Errorf("tikvtest: hold %s: SO_REUSEPORT: %w", addr, err)
	}
	if err := syscall.Bind(fd, sa); err != nil {
		_ = syscall.Close(fd)
		return nil, fmt.Errorf("tikvtest: hold %s: bind: %w", addr, err)
	}
	return os.NewFile(uintptr(fd), "held "+addr), nil
}
