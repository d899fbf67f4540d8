package promtest

import (
	"errors"
	"testing"

	"github.com/kvops/operator/internal/bindonly"
)

// RefusedAddr returns a loopback host:port where connections are refused
// and that nothing else can take while the test runs, for tests of an
// unreachable server. The port is held by a socket bound to it but never
// listening (package bindonly): the kernel refuses connections to it, no
// other socket can bind it, and it is not handed out as an ephemeral
// port. t.Cleanup closes the socket. Where the system cannot hold a port
// so, it skips the test.
//
// (A port found free and closed again, as promtest.FreeAddr did, can be
// taken by any process on the host before the test dials it: a test once
// got another process's 404 where it expected a refused connection.)
func RefusedAddr(t testing.TB) string {
	t.Helper()
	c, addr, err := bindonly.Bind("127.0.0.1:0", false)
	if errors.Is(err, bindonly.ErrNotSupported) {
		t.Skipf("promtest: RefusedAddr: %v", err)
	}
	if err != nil {
		t.Fatalf("promtest: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return addr
}
