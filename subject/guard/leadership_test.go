package guard_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/kvops/operator/subject"
	"github.com/kvops/operator/subject/guard"
)

// leadership is a guard.Leadership whose answer the test sets, counting
// the checks and noting what had been called when each came.
type leadership struct {
	mu     sync.Mutex
	err    error
	checks int
	f      *fake
	seen   [][]string // f's calls at each check
}

func (l *leadership) Check(context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.checks++
	l.seen = append(l.seen, l.f.Calls())
	return l.err
}

func TestLeadership(t *testing.T) {
	errLost := errors.New("lease lost")
	for _, tt := range []struct {
		name string
		err  error
		// wantUnavailable: the Leadership's own cause shows through.
		wantUnavailable bool
	}{
		{"a follower is refused", errLost, false},
		{"an election that cannot be reached refuses", subject.ErrUnavailable, true},
		{"an implementation's ErrNotLeader is kept", guard.ErrNotLeader, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(3)
			l := &leadership{err: tt.err, f: f}
			g, j, _ := newGuard(t, f, guard.Config{Mode: guard.ModeApproveEach, Approver: approveAll, Leadership: l})
			for _, act := range []func() (subject.Result, error){
				func() (subject.Result, error) { return g.EvictLeaders(t.Context(), 3) },
				// Not disruptive, still refused: a follower's restore
				// would undo the leader's eviction.
				func() (subject.Result, error) { return g.RestoreLeaders(t.Context(), 3) },
			} {
				_, err := act()
				var ae *subject.ActionError
				require.ErrorAs(t, err, &ae)
				require.Equal(t, subject.PhaseRefused, ae.Phase)
				require.ErrorIs(t, err, guard.ErrNotLeader)
				require.ErrorIs(t, err, subject.ErrNotApproved)
				require.ErrorIs(t, err, tt.err)
				require.Equal(t, tt.wantUnavailable, errors.Is(err, subject.ErrUnavailable))
			}
			require.Equal(t, []string{"dry evict_leaders store 3", "dry restore_leaders store 3"}, f.Calls(), "nothing but dry runs reached the subject")
			require.Equal(t, []string{"a1 requested", "a1 approved", "a1 refused", "a2 requested", "a2 approved", "a2 refused"}, j.Events(t),
				"checked after approval, and nothing submitted")
			require.Equal(t, 2, l.checks)

			// Dry runs send nothing: no check.
			_, err := g.EvictLeaders(subject.WithDryRun(t.Context()), 3)
			require.NoError(t, err)
			require.Equal(t, 2, l.checks)

			// Leading again, the action goes through, checked right
			// before it was sent: after its dry run.
			l.mu.Lock()
			l.err = nil
			l.mu.Unlock()
			_, err = g.EvictLeaders(t.Context(), 3)
			require.NoError(t, err)
			require.Equal(t, 3, l.checks)
			require.Equal(t, []string{"dry evict_leaders store 3", "dry restore_leaders store 3", "dry evict_leaders store 3", "dry evict_leaders store 3"},
				l.seen[2], "the check came after the dry run and before the call")
			require.Equal(t, "evict_leaders store 3", f.Calls()[4])
		})
	}
}
