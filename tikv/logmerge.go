package tikv

import (
	"context"
	"errors"
	"iter"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/kvops/operator/logparse"
	"github.com/kvops/operator/subject"
)

// MergeLogs returns a LogSource that reads several at once (the PD log and
// every TiKV log of a cluster, say), so that a Subject sees the
// leadership changes of the whole cluster. Its name joins theirs with
// commas.
//
// Entries yields the sources' entries in time order (ties in the order of
// the sources). An error of one source is yielded where it happened and
// the other sources go on.
//
// [LogLeadershipChanges] (and so Subject.LeadershipChanges) reads each
// source on its own: every change carries the name of the source it was
// read from, and a source that fails does not hide the others' changes,
// which are returned with a [*PartialLogError] naming the sources that
// failed.
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

// PartialLogError is the error of a read of merged logs (see [MergeLogs])
// in which some sources failed: the changes returned with it are those of
// the other sources (and of the failed ones up to their failure), so they
// are not all there is. It matches what each source's error matches:
// subject.ErrUnavailable for a source that cannot be reached
// ([ErrLogUnreachable]), ErrLogNotFound for a missing log, and so on.
//
// A check built on such a read judges only what it saw: a violation found
// in the changes it has stands (more changes would not undo it), but a key
// it would have cleared may have changed in the missing logs, so it reports
// that key with invariant.Finding.Unknown, which keeps its state, instead
// of leaving it out, which would resolve it.
type PartialLogError struct {
	// Failed names the sources that failed, in the order of MergeLogs.
	Failed []string
	// Errs are their errors, one per name in Failed.
	Errs []error
}

// Error names the sources that failed and their errors.
func (e *PartialLogError) Error() string {
	msgs := make([]string, len(e.Errs))
	for i, err := range e.Errs {
		msgs[i] = err.Error()
	}
	return "tikv: " + strings.Join(e.Failed, ", ") + " could not be read, changes from the other logs only: " + strings.Join(msgs, "; ")
}

// Unwrap returns the sources' errors.
func (e *PartialLogError) Unwrap() []error { return e.Errs }

// leadershipChanges reads every source on its own, so that each change
// keeps its source's name and one failed source does not hide the
// others'; see LogLeadershipChanges.
func (m *mergedLogs) leadershipChanges(ctx context.Context, since time.Time) ([]subject.LeadershipChange, error) {
	var out []subject.LeadershipChange
	var partial PartialLogError
	for _, src := range m.sources {
		changes, err := LogLeadershipChanges(ctx, src, since)
		out = append(out, changes...)
		if err == nil {
			continue
		}
		if ctx.Err() != nil {
			return sortChanges(out), ctx.Err()
		}
		var pe *PartialLogError
		if errors.As(err, &pe) { // merged logs within merged logs
			partial.Failed = append(partial.Failed, pe.Failed...)
			partial.Errs = append(partial.Errs, pe.Errs...)
			continue
		}
		partial.Failed = append(partial.Failed, src.Name())
		partial.Errs = append(partial.Errs, err)
	}
	out = sortChanges(out)
	if len(partial.Failed) > 0 {
		return out, &partial
	}
	return out, nil
}

// sortChanges puts changes in time order, ties in the order of the sources.
func sortChanges(cs []subject.LeadershipChange) []subject.LeadershipChange {
	slices.SortStableFunc(cs, func(a, b subject.LeadershipChange) int { return a.At.Compare(b.At) })
	return cs
}
