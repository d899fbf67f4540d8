// Package bindonly binds TCP sockets that never listen: a loopback port
// held so that connections to it are refused and no other socket can take
// it. Tests use it for an address nothing answers at (internal/promtest),
// and tikvtest to keep a stopped store's port.
package bindonly

import "errors"

// ErrNotSupported is returned by Bind where the system has no socket
// calls it knows (outside unix).
var ErrNotSupported = errors.New("bindonly: not supported on this system")
