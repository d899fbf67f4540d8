// Command churn does to a machine what other programs on a shared host do
// while the test suite runs, so that scripts/stress finds the tests that
// fail by chance there: it takes loopback ports, answers whatever connects
// to them with HTTP 404 (as another test's server once did on a port a
// test had closed and taken for free), connects to them, and opens and
// closes files and pipes.
//
//	churn [-listeners 64] [-life 200ms] [-dials 100] [-files 256]
//
// It runs until it is sent SIGINT or SIGTERM, or until the process that
// started it is gone, then prints what it did on one line ("churn:
// ports=N answered=N dials=N files=N") and exits.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// stats counts what the churn did.
type stats struct {
	ports, answered, dials, files atomic.Int64
}

func main() {
	listeners := flag.Int("listeners", 64, "loopback listeners kept open at once, each on a port of the kernel's choosing")
	life := flag.Duration("life", 200*time.Millisecond, "longest life of a listener (each lives a random time up to it)")
	dials := flag.Int("dials", 100, "connections a second to the churn's own listeners")
	files := flag.Int("files", 256, "files and pipes kept open at once, rotated")
	flag.Parse()
	if *listeners < 1 || *life <= 0 || *dials < 0 || *files < 0 {
		fmt.Fprintln(os.Stderr, "churn: -listeners must be positive, -life positive, -dials and -files at least 0")
		os.Exit(2)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithCancel(ctx)
	go func() { // the script that started it went away without a word
		parent := os.Getppid()
		for os.Getppid() == parent {
			sleep(ctx, time.Second)
		}
		cancel()
	}()

	var st stats
	var wg sync.WaitGroup
	addrs := &addrSet{}
	for range *listeners {
		wg.Go(func() { listenLoop(ctx, *life, addrs, &st) })
	}
	if *dials > 0 {
		wg.Go(func() { dialLoop(ctx, *dials, addrs, &st) })
	}
	if *files > 0 {
		wg.Go(func() { fileLoop(ctx, *files, &st) })
	}
	wg.Wait()
	fmt.Printf("churn: ports=%d answered=%d dials=%d files=%d\n", st.ports.Load(), st.answered.Load(), st.dials.Load(), st.files.Load())
}

// addrSet holds the addresses of the open listeners, for the dialer.
type addrSet struct {
	mu sync.Mutex
	m  map[string]bool
}

func (s *addrSet) add(a string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[string]bool{}
	}
	s.m[a] = true
}

func (s *addrSet) remove(a string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, a)
}

func (s *addrSet) any() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	for a := range s.m {
		return a
	}
	return ""
}

// listenLoop opens a listener on a port the kernel chooses, answers every
// connection to it with 404 for a random time up to life, closes it and
// opens the next, until ctx ends.
func listenLoop(ctx context.Context, life time.Duration, addrs *addrSet, st *stats) {
	for ctx.Err() == nil {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			sleep(ctx, 10*time.Millisecond) // out of ports or fds: others are too
			continue
		}
		st.ports.Add(1)
		addr := ln.Addr().String()
		addrs.add(addr)
		done := make(chan struct{})
		go func() {
			defer close(done)
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				go answer(c, st)
			}
		}()
		sleep(ctx, time.Duration(rand.Int64N(int64(life)))+time.Millisecond)
		addrs.remove(addr)
		_ = ln.Close()
		<-done
	}
}

// answer reads a request's head and answers 404, closing first (so that
// TIME_WAIT stays on the churn's side, not on an ephemeral port).
func answer(c net.Conn, st *stats) {
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	r := bufio.NewReader(c)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		if line == "\r\n" || line == "\n" {
			break
		}
	}
	if _, err := io.WriteString(c, "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: 10\r\nConnection: close\r\n\r\nnot here\r\n"); err == nil {
		st.answered.Add(1)
	}
}

// dialLoop connects to the churn's listeners perSecond times a second and
// sends a request, until ctx ends.
func dialLoop(ctx context.Context, perSecond int, addrs *addrSet, st *stats) {
	t := time.NewTicker(time.Second / time.Duration(perSecond))
	defer t.Stop()
	d := net.Dialer{Timeout: time.Second}
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		a := addrs.any()
		if a == "" {
			continue
		}
		c, err := d.DialContext(ctx, "tcp", a)
		if err != nil {
			continue // the listener just closed
		}
		st.dials.Add(1)
		_ = c.SetDeadline(time.Now().Add(time.Second))
		_, _ = io.WriteString(c, "GET / HTTP/1.1\r\nHost: churn\r\n\r\n")
		_, _ = io.Copy(io.Discard, c)
		_ = c.Close()
	}
}

// fileLoop keeps n files and pipes open, closing the oldest and opening a
// new one a thousand times a second, until ctx ends.
func fileLoop(ctx context.Context, n int, st *stats) {
	dir, err := os.MkdirTemp("", "churn-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "churn:", err)
		return
	}
	defer os.RemoveAll(dir)
	open := make([]io.Closer, 0, n)
	defer func() {
		for _, f := range open {
			_ = f.Close()
		}
	}()
	t := time.NewTicker(time.Millisecond)
	defer t.Stop()
	for i := 0; ; i++ {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if len(open) == n {
			_ = open[0].Close()
			open = append(open[:0], open[1:]...)
		}
		var c io.Closer
		if i%2 == 0 {
			f, err := os.CreateTemp(dir, "f")
			if err != nil {
				continue
			}
			_, _ = f.WriteString("churn\n")
			_ = os.Remove(f.Name()) // open but unlinked: the fd holds it
			c = f
		} else {
			r, w, err := os.Pipe()
			if err != nil {
				continue
			}
			c = closers{r, w}
		}
		open = append(open, c)
		st.files.Add(1)
	}
}

type closers []io.Closer

func (cs closers) Close() error {
	var errs []error
	for _, c := range cs {
		errs = append(errs, c.Close())
	}
	return errors.Join(errs...)
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
