package tikvtest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/kvops/operator/subject"
)

// network holds the cluster's listeners once Start has run.
type network struct {
	ctx    context.Context
	pdURL  string
	pd     *http.Server
	wg     sync.WaitGroup
	closed bool
}

// Start listens on 127.0.0.1 with free ports: one PD API server and one
// metrics server per running store. It returns once everything listens.
// ctx is the base context of every request the servers handle.
func (c *Cluster) Start(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.net != nil {
		return ErrStarted
	}
	n := &network{ctx: ctx}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("tikvtest: listen for PD: %w", err)
	}
	n.pdURL = "http://" + ln.Addr().String()
	n.pd = &http.Server{Handler: c.PDHandler(), BaseContext: func(net.Listener) context.Context { return ctx }, ReadHeaderTimeout: 10 * time.Second}
	c.net = n
	n.serve(n.pd, ln)
	for _, s := range c.stores {
		if !s.running {
			continue
		}
		if err := c.listenStore(s); err != nil {
			c.mu.Unlock()
			cerr := c.Close()
			c.mu.Lock()
			return errors.Join(err, cerr)
		}
	}
	return nil
}

func (n *network) serve(srv *http.Server, ln net.Listener) {
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		_ = srv.Serve(ln) // always ErrServerClosed or a listener error after Close
	}()
}

// listenStore starts a store's metrics server, on the store's port, which
// it keeps from the first start to Close: the store keeps its
// status_address across restarts. c.mu is held.
func (c *Cluster) listenStore(s *store) error {
	if c.net == nil || c.net.closed || s.srv != nil {
		return nil
	}
	if s.port == nil {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return fmt.Errorf("tikvtest: listen for store %d metrics: %w", s.id, err)
		}
		s.statusAddress = ln.Addr().String()
		s.port = &storePort{ln: ln}
		c.net.wg.Add(1)
		go func() {
			defer c.net.wg.Done()
			s.port.run()
		}()
	}
	h := http.NewServeMux()
	h.Handle("GET /metrics", c.metricsHandler(s.id))
	ctx := c.net.ctx
	srv := &http.Server{Handler: h, BaseContext: func(net.Listener) context.Context { return ctx }, ReadHeaderTimeout: 10 * time.Second}
	s.srv = &storeServer{srv: srv}
	c.net.serve(srv, s.port.serve())
	return nil
}

// PDURL returns the PD API's base URL ("http://127.0.0.1:port"), or "" before
// Start.
func (c *Cluster) PDURL() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.net == nil {
		return ""
	}
	return c.net.pdURL
}

// StatusAddress returns the host:port of a store's metrics endpoint, as PD
// reports it in status_address; it is empty before Start.
func (c *Cluster) StatusAddress(id subject.StoreID) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s, err := c.store(id)
	if err != nil {
		return "", err
	}
	return s.statusAddress, nil
}

// ScrapeTargets returns the host:port of every store's metrics endpoint, in
// store order, for a Prometheus scrape configuration (use a job name that
// contains "tikv"). Empty before Start.
func (c *Cluster) ScrapeTargets() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, s := range c.stores {
		if s.statusAddress != "" {
			out = append(out, s.statusAddress)
		}
	}
	return out
}

// Close stops every server, waits for their goroutines and closes the log
// files. The cluster's state stays readable.
func (c *Cluster) Close() error {
	c.mu.Lock()
	var srvs []*http.Server
	var ports []net.Listener
	n := c.net
	if n != nil && !n.closed {
		n.closed = true
		srvs = append(srvs, n.pd)
		for _, s := range c.stores {
			if s.srv != nil {
				srvs = append(srvs, s.srv.srv)
				s.srv = nil
			}
			if s.port != nil {
				ports = append(ports, s.port.ln)
			}
		}
	}
	if n == nil {
		c.net = &network{closed: true}
	}
	c.mu.Unlock()
	var errs []error
	for _, srv := range srvs {
		errs = append(errs, srv.Close())
	}
	for _, ln := range ports {
		errs = append(errs, ln.Close())
	}
	if n != nil {
		n.wg.Wait()
	}
	errs = append(errs, c.closeLogs())
	return errors.Join(errs...)
}
