package bindonly

import (
	"context"
	"errors"
	"net"
	"syscall"
	"testing"
)

// TestHandOver: a port goes from a listener to a held socket and back
// without ever being free: while held, connections are refused and a
// socket without SO_REUSEPORT cannot bind it.
func TestHandOver(t *testing.T) {
	lc := net.ListenConfig{Control: ReusePort}
	ln, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:0")
	if errors.Is(err, ErrNotSupported) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	held, got, err := Bind(addr, true)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	if got != addr {
		t.Fatalf("Bind(%s) holds %s", addr, got)
	}
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := net.Dial("tcp", addr); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("dial while held: %v, want ECONNREFUSED", err)
	}
	if l, err := net.Listen("tcp", addr); !errors.Is(err, syscall.EADDRINUSE) {
		if l != nil {
			l.Close()
		}
		t.Errorf("a plain listener while held: %v, want EADDRINUSE", err)
	}
	again, err := lc.Listen(context.Background(), "tcp", addr)
	if err != nil {
		t.Fatalf("the next listener could not bind beside the holder: %v", err)
	}
	defer again.Close()
	if err := held.Close(); err != nil {
		t.Fatal(err)
	}
	go func() {
		if c, err := again.Accept(); err == nil {
			c.Close()
		}
	}()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial the next listener: %v", err)
	}
	c.Close()
}
