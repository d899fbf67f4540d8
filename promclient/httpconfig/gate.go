package httpconfig

import (
	"net/http"
	"sync/atomic"
)

// serialGate lets one request at a time through to next until one has
// succeeded, then every request at once; with always set it never opens.
//
// It exists for prometheus/common's oauth2RoundTripper (v0.74.0): on first
// use, and whenever its secret changes, it writes lastRT.Source under its
// lock but reads it in lastRT.RoundTrip without, so two concurrent first
// requests race (seen by the race detector in promclient's concurrent
// queries) and each fetches its own token.
type serialGate struct {
	next   http.RoundTripper
	always bool
	open   atomic.Bool
	turn   chan struct{} // holds a value while a request is inside
}

func newSerialGate(next http.RoundTripper, always bool) *serialGate {
	return &serialGate{next: next, always: always, turn: make(chan struct{}, 1)}
}

// RoundTrip waits for its turn, or for the request's context to end.
func (g *serialGate) RoundTrip(req *http.Request) (*http.Response, error) {
	if g.open.Load() {
		return g.next.RoundTrip(req)
	}
	select {
	case g.turn <- struct{}{}:
	case <-req.Context().Done():
		return nil, req.Context().Err()
	}
	defer func() { <-g.turn }()
	resp, err := g.next.RoundTrip(req)
	if err == nil && !g.always {
		g.open.Store(true)
	}
	return resp, err
}

// CloseIdleConnections closes next's idle connections when it can.
func (g *serialGate) CloseIdleConnections() { closeIdle(g.next) }
