package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/kvops/operator/subject"
	"github.com/kvops/operator/subject/guard"
)

// openLocked opens a file only one process may hold at a time (the
// guard's journal, tikv's eviction ledger), waiting while another holds
// it (a deposed leader closing it) until done closes or ctx ends. A lock
// is released by the kernel when its holder dies.
func openLocked[T any](ctx context.Context, done <-chan struct{}, open func() (T, error)) (T, error) {
	for {
		v, err := open()
		var le *subject.LockedError
		if err == nil || !errors.As(err, &le) {
			return v, err
		}
		select {
		case <-ctx.Done():
			return v, ctx.Err()
		case <-done:
			return v, fmt.Errorf("the term ended waiting for %s: %w", le.Path, guard.ErrNotLeader)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// readRecords parses a journal, skipping a last line cut short.
func readRecords(b []byte) []guard.Record {
	var out []guard.Record
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var r guard.Record
		if json.Unmarshal(sc.Bytes(), &r) == nil {
			out = append(out, r)
		}
	}
	return out
}

// unfinished finds a restart the journal shows begun and not finished: a
// prepare_restart confirmed, with no finish_restart of its store confirmed
// after it. It returns the store and when it was prepared.
func unfinished(b []byte) (subject.StoreID, time.Time, bool) {
	var store subject.StoreID
	var at time.Time
	begun := false
	for _, r := range readRecords(b) {
		switch {
		case r.Action == guard.ActionPrepareRestart && r.Event == guard.EventConfirmed:
			store, at, begun = r.Args.Store, r.Time, true
		case r.Action == guard.ActionFinishRestart && r.Event == guard.EventConfirmed && r.Args.Store == store:
			begun = false
		}
	}
	return store, at, begun
}

// termOf reads the term a record's id names ("b-t42-..."), or 0.
func termOf(id string) int64 {
	parts := strings.SplitN(id, "-t", 2)
	if len(parts) != 2 {
		return 0
	}
	n, _ := strconv.ParseInt(strings.SplitN(parts[1], "-", 2)[0], 10, 64)
	return n
}

// Acts is what the journal shows each term did.
type Acts struct {
	// Term is the election's revision, Replica who held it.
	Term    int64
	Replica string
	// Submitted lists the actions it submitted, "prepare_restart store
	// 1", and Ended how each ended, in the same order ("" if the journal
	// does not say: the replica died first).
	Submitted []string
	Ended     []string
}

// checkJournal reads who acted when from the journal, and counts the
// records that show two terms acting at once: a record an action writes
// itself (requested, approved, submitted) under a term older than one
// that already wrote.
func checkJournal(b []byte) (acts []Acts, overlaps int) {
	var last int64
	byID := map[string]int{} // the index in acts of an action's term
	where := map[string]int{}
	for _, r := range readRecords(b) {
		term := termOf(r.ID)
		switch r.Event {
		case guard.EventRequested, guard.EventApproved, guard.EventSubmitted:
			if term < last {
				overlaps++
			}
			last = max(last, term)
		}
		if r.Event == guard.EventSubmitted {
			i := len(acts) - 1
			if i < 0 || acts[i].Term != term {
				acts = append(acts, Acts{Term: term, Replica: strings.SplitN(r.ID, "-t", 2)[0]})
				i++
			}
			byID[r.ID], where[r.ID] = i, len(acts[i].Submitted)
			acts[i].Submitted = append(acts[i].Submitted, r.Action+" "+r.Target)
			acts[i].Ended = append(acts[i].Ended, "")
			continue
		}
		if i, ok := byID[r.ID]; ok && r.Event != guard.EventRequested && r.Event != guard.EventApproved {
			acts[i].Ended[where[r.ID]] = string(r.Event)
		}
	}
	return acts, overlaps
}
