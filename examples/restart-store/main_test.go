package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/kvops/operator/internal/progressline"
	"github.com/kvops/operator/subject"
)

// tee shows what run writes in both renderings at once.
type tee struct{ plain, term *progressline.Writer }

func (t tee) Write(b []byte) (int, error) {
	if _, err := t.plain.Write(b); err != nil {
		return 0, err
	}
	return t.term.Write(b)
}

func (t tee) Progress(p subject.Progress) { t.plain.Progress(p); t.term.Progress(p) }
func (t tee) Done()                       { t.plain.Done(); t.term.Done() }

// TestRollingRestart runs the example and checks what it measured and
// what it showed: plain lines where the output is not a terminal, with
// the progress of each store's prepare_restart (from the leaders it led
// to none) and finish_restart (Up, then its leaders back) before its
// outcome; on a terminal, one progress line redrawn in place, and at the
// end a screen that shows the plain output without its progress lines.
func TestRollingRestart(t *testing.T) {
	var plain, term bytes.Buffer
	rep, err := run(t.Context(), tee{
		plain: progressline.New(&plain, progressline.Config{}),
		term:  progressline.New(&term, progressline.Config{Terminal: true, Width: 200}),
	}, 0)
	require.NoError(t, err, "output:\n%s", plain.String())
	require.Equal(t, []subject.StoreID{1, 2, 3, 4, 5}, rep.Restarted)
	require.Zero(t, rep.TwoEvicted, "two stores evicted at once")
	require.Equal(t, len(rep.Restarted), rep.SecondRefused, "the guard refused a second store's prepare_restart each time")
	// Each restart journals requested, approved, submitted, confirmed for
	// its prepare and its finish, and requested, refused for the second;
	// PD's maintenance lock requested and taken by the prepare, released
	// by the finish.
	require.Equal(t, 13*len(rep.Restarted), rep.Journal)
	require.Zero(t, rep.LeadersAtStop, "a store still led regions when it stopped")
	require.Positive(t, rep.LeadersMoved)
	require.Positive(t, rep.Baseline.LeadersAtStop, "the baseline restart stops stores that lead")
	// Each store: out in a few seconds, down 15 s, back in a few seconds.
	require.Less(t, rep.Total, 5*time.Minute)
	actions := map[string]bool{}
	for _, l := range rep.Latency {
		actions[l.Action] = true
		require.GreaterOrEqual(t, l.Took, time.Duration(0), "%+v", l)
		require.LessOrEqual(t, l.Took, poll, "%s returned more than one poll after PD %s", l.Action, l.Ended)
	}
	require.Len(t, actions, 8, "every action measured: %v", actions)
	require.Contains(t, plain.String(), "moments with two evicted:  0")

	var kept, progress []string
	for line := range strings.SplitSeq(plain.String(), "\n") {
		if strings.HasPrefix(line, "  ... ") {
			progress = append(progress, line)
			continue
		}
		kept = append(kept, line)
	}
	require.NotContains(t, plain.String(), "\r")
	for _, id := range []string{"1", "2", "3", "4", "5"} {
		store := "store " + id
		var prepare, finish []string
		for _, l := range progress {
			if strings.HasPrefix(l, "  ... prepare_restart "+store+", ") {
				prepare = append(prepare, l)
			}
			if strings.HasPrefix(l, "  ... finish_restart "+store+", ") {
				finish = append(finish, l)
			}
		}
		require.GreaterOrEqual(t, len(prepare), 2, "%s's eviction:\n%s", store, strings.Join(progress, "\n"))
		require.NotContains(t, prepare[0], "(0 of ", "%s led regions when its eviction began", store)
		require.Contains(t, prepare[len(prepare)-1], store+" still leads 0 regions (0 of ")
		require.GreaterOrEqual(t, len(finish), 2, "%s's finish: Up, then its leaders back", store)
		require.Contains(t, finish[len(finish)-1], "(0 of ", "%s's leaders are back", store)
	}

	require.Contains(t, term.String(), "\r\x1b[K", "redrawn in place")
	if diff := cmp.Diff(kept, progressline.Screen(term.Bytes())); diff != "" {
		t.Errorf("the terminal's screen at the end (-plain output without progress +screen):\n%s", diff)
	}
}
