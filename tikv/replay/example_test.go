package replay_test

import (
	"context"
	"fmt"
	"strconv"

	"github.com/kvops/operator/invariant"
	"github.com/kvops/operator/subject"
	"github.com/kvops/operator/tikv/replay"
)

// evictOnFiring is an operator: it evicts the leaders of a store once an
// alert about it fires, and asks again until it is let through.
type evictOnFiring struct {
	// invariant is the alert it acts on; pending acts on a pending one too.
	invariant string
	pending   bool
	done      map[uint64]bool
}

func (o *evictOnFiring) Tick(ctx context.Context, t replay.Tick) error {
	for _, a := range t.Report.Violations {
		if a.Invariant != o.invariant || a.State != invariant.StateFiring && !o.pending {
			continue
		}
		id, err := strconv.ParseUint(a.Labels["store"], 10, 64)
		if err != nil || o.done[id] {
			continue
		}
		if _, err := t.Actor.EvictLeaders(ctx, subject.StoreID(id)); err == nil {
			o.done[id] = true
		}
	}
	return nil
}

// Replay a recorded incident (store 3 slowed down at 12:02, then stopped
// at 12:08) and ask what an operator that evicts a store's leaders when
// store_health fires would have done. Without metrics (NoMetrics), only
// PD's state is judged: the operator would have reacted once store 3
// stopped, too late, and been refused every time.
func Example() {
	op := &evictOnFiring{invariant: "store_health", done: map[uint64]bool{}}
	tl, err := replay.Run(context.Background(), replay.Config{
		Open:      openIncident, // testdata/slow-store.jsonl.gz, gunzipped
		Name:      "v1",
		Operator:  op,
		NoMetrics: true,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, tr := range tl.Transitions() {
		fmt.Println(tr.At.Format("15:04:05"), tr)
	}
	acts := tl.Actions()
	fmt.Printf("%d actions asked, the first:\n%s\n", len(acts), acts[0])
	_, taken := tl.First("evict_leaders", "store 3")
	fmt.Println("store 3 evicted:", taken)
	// Output:
	// 12:08:00 leader_imbalance: inactive -> pending
	// 12:08:15 leader_imbalance: pending -> inactive
	// 12:08:15 store_health store=3: inactive -> firing
	// 16 actions asked, the first:
	// 12:08:15 evict_leaders store 3: refused by precondition (tikv: evict_leaders store 3: refused: store 3 is Disconnected, not Up: precondition failed)
	// store 3 evicted: false
}
