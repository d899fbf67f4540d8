package guard_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/kvops/operator/subject"
	"github.com/kvops/operator/subject/guard"
)

// lab is a Subject of one's own: three stores whose drains take effect at
// once. It embeds the interface for the methods this example never calls;
// a real subject, such as a tikv.Subject, implements them all.
type lab struct {
	subject.Subject
	mu    sync.Mutex
	state map[subject.StoreID]subject.StoreState
}

func (l *lab) Stores(context.Context) ([]subject.Store, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []subject.Store
	for id := subject.StoreID(1); id <= 3; id++ {
		out = append(out, subject.Store{ID: id, State: l.state[id]})
	}
	return out, nil
}

func (l *lab) DrainStore(ctx context.Context, id subject.StoreID) (subject.Result, error) {
	r := subject.Result{Action: "drain_store", Target: "store " + id.String(), DryRun: subject.IsDryRun(ctx)}
	if r.DryRun {
		r.Summary = fmt.Sprintf("would set store %d Offline", id)
		return r, nil
	}
	l.mu.Lock()
	l.state[id] = subject.StateOffline
	l.mu.Unlock()
	r.Summary = fmt.Sprintf("set store %d Offline", id)
	return r, nil
}

// A guard asks before each change, showing what the change would do; it
// lets one disruption through at a time, and journals every decision.
func Example() {
	sub := &lab{state: map[subject.StoreID]subject.StoreState{1: subject.StateUp, 2: subject.StateUp, 3: subject.StateUp}}
	var journal bytes.Buffer
	n := 0
	g, err := guard.New(sub, guard.Config{
		Mode: guard.ModeApproveEach,
		Approver: func(_ context.Context, req guard.Request) (guard.Approval, error) {
			fmt.Printf("approve %s on %s? it %s\n", req.Action, req.Target, req.DryRun.Summary)
			return guard.Approval{Approved: true, By: "alice"}, nil
		},
		Journal: &journal,
		// A fixed clock and numbered record ids keep the output stable;
		// the defaults are time.Now and random ids.
		Clock: func() time.Time { return time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC) },
		NewID: func() string { n++; return fmt.Sprintf("a%d", n) },
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx := context.Background()

	res, err := g.DrainStore(ctx, 2)
	fmt.Println(res.Summary, err)

	// Store 2 is still draining: the stability gate refuses another drain.
	_, err = g.DrainStore(ctx, 3)
	fmt.Println("refused:", errors.Is(err, subject.ErrPrecondition))

	sc := bufio.NewScanner(&journal)
	for sc.Scan() {
		var rec guard.Record
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			fmt.Println(err)
			return
		}
		line := fmt.Sprintf("%s %s %s: %s", rec.Time.Format(time.TimeOnly), rec.ID, rec.Target, rec.Event)
		if rec.By != "" {
			line += " by " + rec.By
		}
		fmt.Println(line)
	}
	// Output:
	// approve drain_store on store 2? it would set store 2 Offline
	// set store 2 Offline <nil>
	// refused: true
	// 12:00:00 a1 store 2: requested
	// 12:00:00 a1 store 2: approved by alice
	// 12:00:00 a1 store 2: submitted
	// 12:00:00 a1 store 2: confirmed
	// 12:00:00 a2 store 3: requested
	// 12:00:00 a2 store 3: refused
}

// A subject's action beyond subject.Actor (here a restart) goes through
// the same rules with Guard.Do: restarting a second store while the first
// is down is refused.
func ExampleGuard_Do() {
	sub := &lab{state: map[subject.StoreID]subject.StoreState{1: subject.StateUp, 2: subject.StateUp, 3: subject.StateUp}}
	restart := func(ctx context.Context, a guard.Args) (subject.Result, error) {
		r := subject.Result{Action: "restart", Target: "store " + a.Store.String(), DryRun: subject.IsDryRun(ctx)}
		if r.DryRun {
			r.Summary = fmt.Sprintf("would stop store %d", a.Store)
			return r, nil
		}
		sub.mu.Lock()
		sub.state[a.Store] = subject.StateDisconnected
		sub.mu.Unlock()
		r.Summary = fmt.Sprintf("stopped store %d", a.Store)
		return r, nil
	}
	g, err := guard.New(sub, guard.Config{
		Mode:       guard.ModeAutomatic,
		Extra:      map[string]guard.ActionFunc{"restart": restart},
		Disruptive: map[string]bool{"restart": true},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	res, err := g.Do(context.Background(), "restart", guard.Args{Store: 1})
	fmt.Println(res.Summary, err)
	_, err = g.Do(context.Background(), "restart", guard.Args{Store: 2})
	fmt.Println(errors.Is(err, subject.ErrPrecondition))
	// Output:
	// stopped store 1 <nil>
	// true
}

// A journal that survives a crash: kept in a file, replayed at start, and
// held by one guard at a time.
func ExampleOpenFileJournal() {
	dir, err := os.MkdirTemp("", "guard")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "journal.jsonl")

	j, err := guard.OpenFileJournal(path, guard.JournalConfig{Identity: "operator"})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer j.Close()
	sub := &lab{state: map[subject.StoreID]subject.StoreState{1: subject.StateUp, 2: subject.StateUp, 3: subject.StateUp}}
	g, err := guard.New(sub, guard.Config{Mode: guard.ModeAutomatic, Journal: j})
	if err != nil {
		fmt.Println(err)
		return
	}
	// Before any action: take up where the last run stopped.
	if err := g.Replay(context.Background(), j.Records()); err != nil {
		fmt.Println(err)
		return
	}
	res, err := g.DrainStore(context.Background(), 2)
	fmt.Println(res.Summary, err)

	// A second guard on the same journal, in this process or another, is
	// refused at once, naming the first.
	_, err = guard.OpenFileJournal(path, guard.JournalConfig{})
	var held *subject.LockedError
	fmt.Println(errors.As(err, &held), held.Holder.Identity, held.Holder.PID == os.Getpid())
	// Output:
	// set store 2 Offline <nil>
	// true operator true
}
