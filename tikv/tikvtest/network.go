package tikvtest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"time"

	"github.com/kvops/operator/internal/bindonly"
	"github.com/kvops/operator/subject"
)

// network holds the cluster's listeners once Start has run.
type network struct {
	ctx   context.Context
	pdURL string
	// anyHost: PD listens on a wildcard address, and its members
	// advertise the address a request came in on.
	anyHost bool
	pd      *http.Server
	wg      sync.WaitGroup
	closed  bool
	// members serve each PD member's metrics, at memberAddrs.
	members     []*http.Server
	memberAddrs []string
}

// Start listens on 127.0.0.1 with free ports: one PD API server (on
// [Config].PDListener instead, when set), one metrics server per PD
// member and one per running store. It returns once
// everything listens. ctx is the base context of every request the
// servers handle.
func (c *Cluster) Start(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.net != nil {
		return ErrStarted
	}
	n := &network{ctx: ctx}
	ln := c.pdListener
	if ln == nil {
		var err error
		if ln, err = bindonly.Listen("127.0.0.1:0"); err != nil {
			return fmt.Errorf("tikvtest: listen for PD: %w", err)
		}
	}
	n.pdURL = "http://" + ln.Addr().String()
	if ap, err := netip.ParseAddrPort(ln.Addr().String()); err == nil && ap.Addr().IsUnspecified() {
		n.anyHost = true
	}
	h := c.PDHandler()
	if c.wrapPD != nil {
		h = c.wrapPD(h)
	}
	n.pd = &http.Server{Handler: h, BaseContext: func(net.Listener) context.Context { return ctx }, ReadHeaderTimeout: 10 * time.Second}
	c.net = n
	n.serve(n.pd, ln)
	if err := c.listenPDMembers(); err != nil {
		c.mu.Unlock()
		cerr := c.Close()
		c.mu.Lock()
		return errors.Join(err, cerr)
	}
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
	c.recordMetrics()
	return nil
}

func (n *network) serve(srv *http.Server, ln net.Listener) {
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		_ = srv.Serve(ln) // always ErrServerClosed or a listener error after Close
	}()
}

// listenStore starts a store's metrics server, on its old address when it
// had one, so that the store keeps its status_address across restarts:
// the port was held while the store was stopped (see port_hold.go), and
// is let go once listened on again. c.mu is held.
func (c *Cluster) listenStore(s *store) error {
	if c.net == nil || c.net.closed || s.srv != nil {
		return nil
	}
	addr := s.statusAddress
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := bindonly.Listen(addr)
	if err != nil {
		return fmt.Errorf("tikvtest: listen for store %d metrics: %w", s.id, err)
	}
	s.statusAddress = ln.Addr().String()
	if s.hold != nil {
		_ = s.hold.Close()
		s.hold = nil
	}
	h := http.NewServeMux()
	h.Handle("GET /metrics", c.metricsHandler(s.id))
	ctx := c.net.ctx
	srv := &http.Server{Handler: h, BaseContext: func(net.Listener) context.Context { return ctx }, ReadHeaderTimeout: 10 * time.Second}
	s.srv = &storeServer{srv: srv, ln: ln}
	c.net.serve(srv, ln)
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
	n := c.net
	if n != nil && !n.closed {
		n.closed = true
		srvs = append(srvs, n.pd)
		srvs = append(srvs, n.members...)
		for _, s := range c.stores {
			if s.srv != nil {
				srvs = append(srvs, s.srv.srv)
				s.srv = nil
			}
			if s.hold != nil {
				_ = s.hold.Close()
				s.hold = nil
			}
		}
	}
	var unserved net.Listener
	if n == nil {
		c.net = &network{closed: true}
		unserved = c.pdListener // Config.PDListener, never served
	}
	c.mu.Unlock()
	var errs []error
	if unserved != nil {
		errs = append(errs, unserved.Close())
	}
	for _, srv := range srvs {
		errs = append(errs, srv.Close())
	}
	if n != nil {
		n.wg.Wait()
	}
	errs = append(errs, c.closeLogs())
	return errors.Join(errs...)
}
