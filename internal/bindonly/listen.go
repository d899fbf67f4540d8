package bindonly

import (
	"context"
	"errors"
	"io"
	"net"
)

// Listen listens on addr with SO_REUSEPORT where the system has it, so
// that Hold can keep the port once the listener closes (a stopped server
// whose port must stay its own); elsewhere it listens plainly.
func Listen(addr string) (net.Listener, error) {
	lc := net.ListenConfig{Control: ReusePort}
	ln, err := lc.Listen(context.Background(), "tcp", addr)
	if errors.Is(err, ErrNotSupported) {
		return net.Listen("tcp", addr)
	}
	return ln, err
}

// Hold holds addr, a port a listener of Listen holds or held, until the
// returned socket is closed: bound beside the listener before it closes,
// so that the port is never free, and never listening, so that
// connections to it are refused, as by a dead server. Where the system
// cannot, it holds nothing and returns a Closer that does nothing.
func Hold(addr string) (io.Closer, error) {
	c, _, err := Bind(addr, true)
	if errors.Is(err, ErrNotSupported) {
		return nopCloser{}, nil
	}
	return c, err
}

type nopCloser struct{}

func (nopCloser) Close() error { return nil }
