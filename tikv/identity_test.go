package tikv_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kvops/operator/invariant"
)

// TestClusterIDGuardsSavedState: the evaluator's identity is PD's cluster
// id; a state saved with a firing store=2 on one cluster is refused by the
// evaluator of a cluster with another id, and restored by one of the same.
func TestClusterIDGuardsSavedState(t *testing.T) {
	c := newCluster(t, nil)
	id, err := c.sub.ClusterID(t.Context())
	require.NoError(t, err)
	require.Equal(t, "7712828691867624985", id, "the simulator answers the recorded PD's cluster id")

	e, err := invariant.New(c.sub.Invariants(), invariant.Config{Identity: id})
	require.NoError(t, err)
	require.NoError(t, c.sim.StopStore(2))
	c.sim.Advance(time.Second)
	rep, err := e.Evaluate(t.Context(), c.sim.Now())
	require.NoError(t, err)
	require.Len(t, rep.Violations, 1, "precondition: store 2 firing")
	saved, err := e.Export()
	require.NoError(t, err)

	fresh, err := invariant.New(c.sub.Invariants(), invariant.Config{Identity: "7301238834312271012"})
	require.NoError(t, err)
	_, err = fresh.Restore(saved)
	var ie *invariant.IdentityError
	require.ErrorAs(t, err, &ie)
	require.Equal(t, invariant.IdentityError{Saved: id, Evaluator: "7301238834312271012"}, *ie)
	require.Empty(t, fresh.Alerts(), "another cluster's alerts were applied")

	same, err := invariant.New(c.sub.Invariants(), invariant.Config{Identity: id})
	require.NoError(t, err)
	res, err := same.Restore(saved)
	require.NoError(t, err)
	require.Equal(t, 1, res.Restored)
}
