//go:build !(linux || darwin || freebsd || netbsd || openbsd)

package bindonly

import (
	"io"
	"syscall"
)

// Bind returns ErrNotSupported here.
func Bind(string, bool) (io.Closer, string, error) { return nil, "", ErrNotSupported }

// ReusePort returns ErrNotSupported here.
func ReusePort(_, _ string, _ syscall.RawConn) error { return ErrNotSupported }
