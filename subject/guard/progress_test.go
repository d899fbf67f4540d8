package guard_test

import (
	"context"
	"encoding/json"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/kvops/operator/subject"
	"github.com/kvops/operator/subject/guard"
	"github.com/kvops/operator/subject/tools"
)

// progressLog collects the progress reported to a caller.
type progressLog struct {
	mu   sync.Mutex
	seen []string
}

func (l *progressLog) ctx(ctx context.Context) context.Context {
	return subject.WithProgress(ctx, func(p subject.Progress) {
		l.mu.Lock()
		defer l.mu.Unlock()
		l.seen = append(l.seen, p.Seen)
	})
}

func (l *progressLog) take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.seen
	l.seen = nil
	return out
}

// TestProgressReachesOnlyTheRealCall: the guard calls the subject with
// the caller's context, so the caller gets the real action's progress;
// the dry run the guard makes before it reports nothing, and neither does
// a dry run the caller or the guard's mode asks for, whatever the subject
// does (the fake reports in every call).
func TestProgressReachesOnlyTheRealCall(t *testing.T) {
	approve := func(context.Context, guard.Request) (guard.Approval, error) {
		return guard.Approval{Approved: true, By: "alice"}, nil
	}
	tests := []struct {
		name string
		cfg  guard.Config
		dry  bool
		want []string
	}{
		{"automatic", guard.Config{Mode: guard.ModeAutomatic}, false, []string{"did drain_store store 4"}},
		{"approved", guard.Config{Mode: guard.ModeApproveEach, Approver: approve}, false, []string{"did drain_store store 4"}},
		{"the guard's dry-run mode", guard.Config{Mode: guard.ModeDryRun}, false, nil},
		{"the caller's dry run", guard.Config{Mode: guard.ModeAutomatic}, true, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(5)
			g, _, _ := newGuard(t, f, tt.cfg)
			var l progressLog
			ctx := l.ctx(t.Context())
			if tt.dry {
				ctx = subject.WithDryRun(ctx)
			}
			_, err := g.DrainStore(ctx, 4)
			require.NoError(t, err)
			if diff := cmp.Diff(tt.want, l.take()); diff != "" {
				t.Errorf("progress (-want +got):\n%s", diff)
			}
			require.Contains(t, f.Calls(), "dry drain_store store 4", "the guard's dry run was made")
		})
	}
}

// TestProgressThroughADispatcher: a tool call by name (as an MCP server
// makes one) carries the caller's progress through the dispatcher and the
// guard to the subject.
func TestProgressThroughADispatcher(t *testing.T) {
	f := newFake(5)
	g, _, _ := newGuard(t, f, guard.Config{Mode: guard.ModeAutomatic})
	d, err := tools.NewDispatcher(g)
	require.NoError(t, err)
	var l progressLog
	_, err = d.Call(l.ctx(t.Context()), guard.ActionDrainStore, json.RawMessage(`{"store_id": 2}`))
	require.NoError(t, err)
	require.Equal(t, []string{"did drain_store store 2"}, l.take())
}
