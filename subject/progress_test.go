package subject_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/kvops/operator/subject"
)

// evict stands for a subject's action that waits: it reports what each of
// its three reads showed.
func evict(ctx context.Context) {
	for i, left := range []int{40, 12, 0} {
		subject.ReportProgress(ctx, subject.Progress{
			Action: "evict_leaders", Target: "store 3", Waiting: "store 3 leading no region",
			Seen: fmt.Sprintf("store 3 still leads %d regions", left), Left: left, Total: 40, Unit: "leaders",
			Waited: time.Duration(i) * 500 * time.Millisecond, Bound: 10 * time.Minute, Reads: i + 1,
		})
	}
}

// An action called with a context from WithProgress reports what it saw
// after every read of its wait.
func ExampleWithProgress() {
	ctx := subject.WithProgress(context.Background(), func(p subject.Progress) {
		fmt.Println(p)
	})
	evict(ctx) // sub.EvictLeaders(ctx, 3) with a real subject
	// Output:
	// evict_leaders store 3, 0s of 10m0s: store 3 still leads 40 regions (40 of 40 leaders left)
	// evict_leaders store 3, 500ms of 10m0s: store 3 still leads 12 regions (12 of 40 leaders left)
	// evict_leaders store 3, 1s of 10m0s: store 3 still leads 0 regions (0 of 40 leaders left)
}

func TestReportProgress(t *testing.T) {
	tests := []struct {
		name string
		ctx  func(ctx context.Context, report func(subject.Progress)) context.Context
		want int
	}{
		{"reported", func(ctx context.Context, f func(subject.Progress)) context.Context {
			return subject.WithProgress(ctx, f)
		}, 3},
		{"no function", func(ctx context.Context, _ func(subject.Progress)) context.Context { return ctx }, 0},
		{"a nil function removes the parent's", func(ctx context.Context, f func(subject.Progress)) context.Context {
			return subject.WithProgress(subject.WithProgress(ctx, f), nil)
		}, 0},
		{"a dry run reports nothing", func(ctx context.Context, f func(subject.Progress)) context.Context {
			return subject.WithDryRun(subject.WithProgress(ctx, f))
		}, 0},
		{"whichever is made first", func(ctx context.Context, f func(subject.Progress)) context.Context {
			return subject.WithProgress(subject.WithDryRun(ctx), f)
		}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := 0
			evict(tt.ctx(t.Context(), func(subject.Progress) { n++ }))
			require.Equal(t, tt.want, n)
		})
	}
}

func TestProgressString(t *testing.T) {
	tests := []struct {
		name string
		p    subject.Progress
		want string
	}{
		{"counted", subject.Progress{Action: "evict_leaders", Target: "store 3", Seen: "store 3 still leads 40 regions",
			Left: 40, Total: 120, Unit: "leaders", Waited: 12*time.Second + 300*time.Millisecond, Bound: 10 * time.Minute},
			"evict_leaders store 3, 12s of 10m0s: store 3 still leads 40 regions (40 of 120 leaders left)"},
		{"no total", subject.Progress{Action: "drain_store", Target: "store 4", Seen: "store 4 is Up with 7 regions",
			Left: 7, Unit: "regions", Waited: 250 * time.Millisecond, Bound: time.Minute},
			"drain_store store 4, 250ms of 1m0s: store 4 is Up with 7 regions (7 regions left)"},
		{"nothing counted", subject.Progress{Action: "split_region", Target: "region 9", Seen: "region 9 at version 1; PD's operator is RUNNING",
			Status: "RUNNING", Waited: 2 * time.Second, Bound: 90 * time.Second},
			"split_region region 9, 2s of 1m30s: region 9 at version 1; PD's operator is RUNNING"},
		{"nothing seen yet, a failed read", subject.Progress{Action: "transfer_leader", Target: "region 9 to store 5",
			Waiting: "region 9 led from store 5", ReadError: "connection refused", Bound: 90 * time.Second},
			"transfer_leader region 9 to store 5, 0s of 1m30s: waiting for region 9 led from store 5; the last read failed: connection refused"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, tt.p.String())
		})
	}
}

func TestProgressJSON(t *testing.T) {
	p := subject.Progress{Action: "evict_leaders", Target: "store 3", Waiting: "store 3 leading no region",
		Seen: "store 3 still leads 40 regions", Left: 40, Total: 120, Unit: "leaders", Status: "RUNNING",
		Waited: 1500 * time.Millisecond, Bound: 10 * time.Minute, Elapsed: 2 * time.Second, Reads: 4, ReadError: "timeout"}
	b, err := json.Marshal(p)
	require.NoError(t, err)
	var fields map[string]any
	require.NoError(t, json.Unmarshal(b, &fields))
	require.Equal(t, 1.5, fields["waited_seconds"], "durations in seconds: %s", b)
	require.Equal(t, 600.0, fields["bound_seconds"])
	require.Equal(t, 2.0, fields["elapsed_seconds"])
	var back subject.Progress
	require.NoError(t, json.Unmarshal(b, &back))
	if diff := cmp.Diff(p, back); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
}
