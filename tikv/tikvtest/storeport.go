package tikvtest

import (
	"net"
	"sync"
)

// storePort is a store's metrics port, held from Start to Close whether
// the store runs or not: a stopped store closes every connection at once,
// as a dead TiKV's port refuses them, and a started one serves on the same
// port again. Closing the port and listening on it again instead would
// fail by chance whenever another program took the port in between (the
// system hands out the same range to outgoing connections).
type storePort struct {
	ln net.Listener
	mu sync.Mutex
	// cur takes the connections while the store runs; nil while it is
	// stopped.
	cur *connListener
}

// run accepts connections until the port is closed, handing each to the
// running store's server or closing it.
func (p *storePort) run() {
	for {
		conn, err := p.ln.Accept()
		if err != nil {
			return // the port was closed
		}
		p.mu.Lock()
		cur := p.cur
		p.mu.Unlock()
		if cur == nil || !cur.deliver(conn) {
			_ = conn.Close()
		}
	}
}

// serve makes the port hand its connections to a new listener, for the
// server of a store's process that starts.
func (p *storePort) serve() *connListener {
	cl := &connListener{addr: p.ln.Addr(), conns: make(chan net.Conn), done: make(chan struct{})}
	p.mu.Lock()
	p.cur = cl
	p.mu.Unlock()
	return cl
}

// stop makes the port close the connections it accepts from now on.
func (p *storePort) stop() {
	p.mu.Lock()
	p.cur = nil
	p.mu.Unlock()
}

// connListener is a net.Listener fed by a storePort.
type connListener struct {
	addr  net.Addr
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

// deliver hands conn to the listener's Accept, reporting false when the
// listener is closed.
func (l *connListener) deliver(conn net.Conn) bool {
	select {
	case l.conns <- conn:
		return true
	case <-l.done:
		return false
	}
}

func (l *connListener) Accept() (net.Conn, error) {
	select {
	case conn := <-l.conns:
		return conn, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *connListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *connListener) Addr() net.Addr { return l.addr }
