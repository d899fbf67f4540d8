//go:build !(linux || darwin || freebsd || netbsd || openbsd)

package tikvtest

import (
	"io"
	"net"
)

// listenReusable listens on addr. Without SO_REUSEPORT a stopped store's
// port is free until the store starts again, and another socket may take
// it (see port_hold.go).
func listenReusable(addr string) (net.Listener, error) { return net.Listen("tcp", addr) }

// holdPort holds nothing here.
func holdPort(string) (io.Closer, error) { return nopCloser{}, nil }

type nopCloser struct{}

func (nopCloser) Close() error { return nil }
