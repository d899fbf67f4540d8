package guard

import (
	"context"
	"errors"
	"fmt"

	"github.com/kvops/operator/subject"
)

// Leadership tells the guard whether this replica leads its operator's
// replicas ([Config.Leadership]). tikv/election's Term implements it on
// PD's etcd; the guard itself knows no election.
//
// The guard calls Check for every action it is about to submit, dry runs
// excepted: after approval, holding the disruptive slot, immediately
// before the submitted record is written and the request sent. Any error
// refuses the action with [ErrNotLeader] (and wraps Check's error), so
// a replica that is not the leader, or that cannot tell, never acts.
// Every submitted action is checked, not only the disruptive ones: a
// follower's restore_leaders would undo the leader's eviction in the
// middle of its restart.
//
// Fencing stops at PD's door: PD's HTTP API takes no token that it could
// compare with the election's, so Check can only make the window short.
// An implementation should confirm with the election's store itself (not
// a cached belief) and refuse unless its leadership is promised to
// outlast the write; a request delayed beyond that promise between Check
// and PD (a stalled connection, a paused process) can still land after
// another replica took over.
type Leadership interface {
	// Check returns nil when this replica leads and will for long enough
	// to submit one request, and an error saying why not otherwise.
	Check(ctx context.Context) error
}

// checkLeader refuses req unless g's Leadership confirms this replica
// leads.
func (g *Guard) checkLeader(ctx context.Context, req Request) error {
	if g.leadership == nil {
		return nil
	}
	err := g.leadership.Check(ctx)
	if err == nil {
		return nil
	}
	if !errors.Is(err, ErrNotLeader) {
		err = fmt.Errorf("%w: %w", ErrNotLeader, err)
	}
	return &subject.ActionError{Action: req.Action, Target: req.Target, Phase: subject.PhaseRefused,
		Reason: "checked just before submission", Err: err}
}
