package main

import (
	"io"
	"net/http"
	"sync/atomic"
)

// counter is an http.RoundTripper that counts the requests it carries and
// the response body bytes read through it.
type counter struct {
	next     http.RoundTripper
	requests atomic.Int64
	bytesIn  atomic.Int64
}

func newCounter() *counter {
	return &counter{next: http.DefaultTransport.(*http.Transport).Clone()}
}

// RoundTrip sends the request and counts it and its answer's body.
func (c *counter) RoundTrip(r *http.Request) (*http.Response, error) {
	c.requests.Add(1)
	resp, err := c.next.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	resp.Body = &countedBody{ReadCloser: resp.Body, n: &c.bytesIn}
	return resp, nil
}

// closeIdle closes the transport's idle connections.
func (c *counter) closeIdle() {
	if t, ok := c.next.(*http.Transport); ok {
		t.CloseIdleConnections()
	}
}

// reading is what a counter has counted so far.
type reading struct{ requests, bytesIn int64 }

func (c *counter) read() reading { return reading{c.requests.Load(), c.bytesIn.Load()} }

func (r reading) sub(o reading) reading {
	return reading{r.requests - o.requests, r.bytesIn - o.bytesIn}
}

type countedBody struct {
	io.ReadCloser
	n *atomic.Int64
}

func (b *countedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n.Add(int64(n))
	return n, err
}
