package tikv

import (
	"context"
	"iter"
	"strings"
	"sync"
	"time"

	"github.com/kvops/operator/logparse"
)

// MergeLogs returns a LogSource that reads several at once (the PD log and
// every TiKV log of a cluster, say), so that a Subject sees the
// leadership changes of the whole cluster. Its name joins theirs with
// commas.
//
// Entries yields the sources' entries in time order (ties in the order of
// the sources). An error of one source is yielded where it happened and
// the other sources go on; a consumer that stops at the first error, as
// LogLeadershipChanges does, keeps what was read before it.
//
// Follow yields entries as the sources write them, which is time order
// only as far as the sources keep pace with each other.
func MergeLogs(sources ...LogSource) LogSource {
	return &mergedLogs{sources: sources}
}

type mergedLogs struct{ sources []LogSource }

// Name joins the sources' names with commas.
func (m *mergedLogs) Name() string {
	names := make([]string, len(m.sources))
	for i, s := range m.sources {
		names[i] = s.Name()
	}
	return strings.Join(names, ",")
}

// Entries merges the sources' entries in time order.
func (m *mergedLogs) Entries(ctx context.Context, since, until time.Time) iter.Seq2[logparse.Entry, error] {
	return func(yield func(logparse.Entry, error) bool) {
		type head struct {
			next  func() (logparse.Entry, error, bool)
			entry logparse.Entry
			live  bool
		}
		heads := make([]*head, 0, len(m.sources))
		for _, src := range m.sources {
			next, stop := iter.Pull2(src.Entries(ctx, since, until))
			defer stop()
			heads = append(heads, &head{next: next})
		}
		// advance moves h to its source's next entry, yielding the errors
		// on the way; false when the consumer stopped.
		advance := func(h *head) bool {
			for {
				e, err, ok := h.next()
				switch {
				case !ok:
					h.live = false
					return true
				case err != nil:
					if !yield(logparse.Entry{}, err) {
						return false
					}
					if !isLineErr(err) {
						h.live = false
						return true
					}
				default:
					h.entry, h.live = e, true
					return true
				}
			}
		}
		for _, h := range heads {
			if !advance(h) {
				return
			}
		}
		for {
			var first *head
			for _, h := range heads {
				if h.live && (first == nil || h.entry.Time.Before(first.entry.Time)) {
					first = h
				}
			}
			if first == nil {
				return
			}
			if !yield(first.entry, nil) || !advance(first) {
				return
			}
		}
	}
}

// Follow yields the sources' entries as they come, until ctx ends or
// every source has ended. It leaves no goroutine behind.
func (m *mergedLogs) Follow(ctx context.Context, since time.Time) iter.Seq2[logparse.Entry, error] {
	return func(yield func(logparse.Entry, error) bool) {
		ctx, cancel := context.WithCancel(ctx)
		var wg sync.WaitGroup
		defer func() {
			cancel()
			wg.Wait()
		}()
		type item struct {
			entry logparse.Entry
			err   error
		}
		items := make(chan item)
		for _, src := range m.sources {
			wg.Go(func() {
				for e, err := range src.Follow(ctx, since) {
					select {
					case items <- item{e, err}:
					case <-ctx.Done():
						return
					}
				}
			})
		}
		// Sends are unbuffered, so every item has been received by the
		// time the last sender is done.
		finished := make(chan struct{})
		go func() {
			wg.Wait()
			close(finished)
		}()
		for {
			select {
			case it := <-items:
				if !yield(it.entry, it.err) {
					return
				}
			case <-finished:
				return
			case <-ctx.Done():
				return
			}
		}
	}
}
