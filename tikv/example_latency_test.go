package tikv_test

import (
	"fmt"
	"math"
	"time"

	"github.com/kvops/operator/subject"
	"github.com/kvops/operator/tikv"
)

// An operator that evicts a store's leaders when write_latency_p99 fires
// must decide when to give them back. Once the store leads no region it
// serves no write: its p99 reads LatencyNoWrites and the invariant
// resolves. That is no sign of health, only an absence of evidence, and
// waiting for the store to look healthy would wait forever. So the
// operator holds the eviction for a while (PD's own evict-slow-store holds
// for its recovery-duration, 30 minutes by default), gives the leaders
// back, and judges the store again on the writes that then reach it: a
// store still slow is evicted again, for twice as long. While the reading
// is unknown (Prometheus cannot be read, or has no series) it decides
// nothing.
//
// Here each reading is what Subject.StoreMetrics gave for the store at
// that minute, and a high one stands for write_latency_p99 firing (after
// its grace).
func ExampleThresholds_WriteLatencyState() {
	th := tikv.DefaultThresholds()
	start := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	const firstHold = 30 * time.Minute
	hold := firstHold
	var until time.Time // end of the hold; zero while the store leads

	for _, r := range []struct {
		at  time.Duration
		p99 subject.Value
	}{
		{0, subject.Known(0.004)},
		{2 * time.Minute, subject.Known(0.350)},
		{3 * time.Minute, subject.Unknown("all 10 metric queries failed")},
		{5 * time.Minute, subject.Known(math.NaN())}, // its leaders are gone
		{33 * time.Minute, subject.Known(math.NaN())},
		{34 * time.Minute, subject.Known(0.300)}, // leaders back, still slow
		{95 * time.Minute, subject.Known(math.NaN())},
		{96 * time.Minute, subject.Known(0.005)}, // leaders back, healthy
	} {
		now := start.Add(r.at)
		state := th.WriteLatencyState(r.p99)
		var decision string
		switch {
		case state == tikv.LatencyUnknown:
			decision = "cannot tell: wait"
		case state == tikv.LatencyHigh && until.IsZero():
			until = now.Add(hold)
			decision = fmt.Sprintf("evict its leaders until %s", until.Format("15:04"))
			hold *= 2 // if it is still slow then, hold twice as long
		case state == tikv.LatencyNoWrites && !until.IsZero() && now.Before(until):
			decision = "evicted, no writes to judge: wait"
		case state == tikv.LatencyNoWrites && !until.IsZero():
			until = time.Time{}
			decision = "hold over: give the leaders back (RestoreLeaders)"
		case state == tikv.LatencyOK:
			hold = firstHold
			decision = "healthy"
		default:
			decision = "nothing to do"
		}
		fmt.Printf("%s  %-9s  %s\n", now.Format("15:04"), state, decision)
	}
	// Output:
	// 12:00  ok         healthy
	// 12:02  high       evict its leaders until 12:32
	// 12:03  unknown    cannot tell: wait
	// 12:05  no writes  evicted, no writes to judge: wait
	// 12:33  no writes  hold over: give the leaders back (RestoreLeaders)
	// 12:34  high       evict its leaders until 13:34
	// 13:35  no writes  hold over: give the leaders back (RestoreLeaders)
	// 13:36  ok         healthy
}
