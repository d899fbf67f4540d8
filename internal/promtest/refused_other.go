//go:build !unix

package promtest

import "testing"

// RefusedAddr returns a loopback host:port where connections are refused
// and that nothing else can take while the test runs. It needs a socket
// bound but not listening, which only the unix build makes: elsewhere it
// skips the test.
func RefusedAddr(t testing.TB) string {
	t.Helper()
	t.Skip("promtest: RefusedAddr needs a unix system")
	return ""
}
