package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/kvops/operator/subject"
	"github.com/kvops/operator/subject/guard"
)

// journal is the guard's journal file, opened by the leader alone: locked
// against a second writer (flock), appended to, and synced after every
// record, so that the next leader reads every record the last one wrote
// before it acted. (The guard's own file journal, once it has one, does
// the same.)
type journal struct{ f *os.File }

// errLocked: another process holds the journal.
var errLocked = errors.New("the journal is locked by another process")

// openJournal opens and locks path, waiting while another process holds
// it (a deposed leader closing it) until done closes or ctx ends.
func openJournal(ctx context.Context, path string, done <-chan struct{}) (*journal, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	for {
		err := lock(f)
		if err == nil {
			return &journal{f: f}, nil
		}
		if !errors.Is(err, errLocked) {
			f.Close()
			return nil, err
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, ctx.Err()
		case <-done:
			f.Close()
			return nil, fmt.Errorf("the term ended waiting for the journal: %w", guard.ErrNotLeader)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Write appends one record and syncs it.
func (j *journal) Write(p []byte) (int, error) {
	n, err := j.f.Write(p)
	if err != nil {
		return n, err
	}
	return n, j.f.Sync()
}

// Records returns the journal as written so far.
func (j *journal) Records() ([]byte, error) {
	return io.ReadAll(io.NewSectionReader(j.f, 0, 1<<40))
}

// Close releases the lock with the file.
func (j *journal) Close() error { return j.f.Close() }

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
