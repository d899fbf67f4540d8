package tikvtest

import (
	"net"
	"net/http"
)

// storeServer is a store's metrics listener while the store runs.
type storeServer struct {
	srv *http.Server
	// ln is srv's listener. Stopping a store closes it directly: an
	// http.Server closes only the listeners its Serve has registered, and
	// one that has not run yet closes it later, so that a store stopped
	// right after it started went on accepting connections for a moment.
	ln net.Listener
}
