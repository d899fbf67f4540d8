package guard_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
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
