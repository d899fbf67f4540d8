package tikvtest

import (
	"context"
	"errors"
	"io"
	"net"

	"github.com/kvops/operator/internal/bindonly"
)

// A stopped store keeps its address, so that Prometheus scrapes it again
// once it starts. Closing its listener and listening again later left the
// port free in between, and another process's socket could take it (a
// test failed with "address already in use" on StartStore). So store
// listeners set SO_REUSEPORT, and while a store is stopped its port is
// held by a socket bound with SO_REUSEPORT but not listening (package
// bindonly): connections are refused, as by a dead TiKV; no socket without
// SO_REUSEPORT can bind the port (other programs' listeners, outgoing
// connections' ephemeral ports); and the store's next listener binds
// beside it before it is closed, so the port is never free. Where the
// system has no SO_REUSEPORT, the port is free while the store is
// stopped, as it used to be.

// listenReusable listens on addr with SO_REUSEPORT where the system has it.
func listenReusable(addr string) (net.Listener, error) {
	lc := net.ListenConfig{Control: bindonly.ReusePort}
	ln, err := lc.Listen(context.Background(), "tcp", addr)
	if errors.Is(err, bindonly.ErrNotSupported) {
		return net.Listen("tcp", addr)
	}
	return ln, err
}

// holdPort holds addr, a port a listener of listenReusable holds or held,
// until the returned socket is closed; it holds nothing where the system
// cannot.
func holdPort(addr string) (io.Closer, error) {
	c, _, err := bindonly.Bind(addr, true)
	if errors.Is(err, bindonly.ErrNotSupported) {
		return nopCloser{}, nil
	}
	return c, err
}

type nopCloser struct{}

func (nopCloser) Close() error { return nil }
