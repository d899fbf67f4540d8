package syncbuf_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/kvops/operator/internal/syncbuf"
)

func TestConcurrentWritesAndReads(t *testing.T) {
	var b syncbuf.Buffer
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for range 100 {
				fmt.Fprintf(&b, "%d\n", i)
				_ = b.String()
			}
		})
	}
	wg.Wait()
	if n := strings.Count(b.String(), "\n"); n != 800 {
		t.Fatalf("%d lines, want 800", n)
	}
	got := b.Bytes()
	got[0] = 'x'
	if b.String()[0] == 'x' {
		t.Error("Bytes shares the buffer's memory")
	}
	var nilBuf *syncbuf.Buffer
	if nilBuf.String() != "" || nilBuf.Bytes() != nil {
		t.Error("a nil Buffer is not empty")
	}
}
