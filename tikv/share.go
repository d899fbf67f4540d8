package tikv

import (
	"context"
	"sync"
	"time"
)

// shareMaxAge bounds how old a shared reading may be when a sibling check
// reuses it, should checks not be run in rounds as an evaluator runs them.
const shareMaxAge = 5 * time.Second

// shared lets the checks of one set of invariants share one reading per
// evaluation: the first check that asks reads, its siblings in the same
// evaluation reuse what it read (an error too: a source that is down costs
// one timeout, not one per check), and a check that asks a second time
// (the next evaluation) reads anew. It is safe for concurrent use.
type shared[T any] struct {
	read func(context.Context) (T, error)

	mu     sync.Mutex
	val    T
	err    error
	at     time.Time
	served map[string]bool
}

func newShared[T any](read func(context.Context) (T, error)) *shared[T] {
	return &shared[T]{read: read}
}

// get returns the reading for the check named by consumer.
func (sh *shared[T]) get(ctx context.Context, consumer string) (T, error) {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.served == nil || sh.served[consumer] || time.Since(sh.at) > shareMaxAge {
		sh.val, sh.err = sh.read(ctx)
		sh.at = time.Now()
		sh.served = map[string]bool{}
	}
	sh.served[consumer] = true
	return sh.val, sh.err
}
