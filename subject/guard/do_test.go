package guard_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/kvops/operator/subject"
	"github.com/kvops/operator/subject/guard"
	"github.com/kvops/operator/tikv"
)

// TestDoTypedArgsOfSubjectTools: the typed Args work for every action a
// guard runs, the subject's tools (tikv's restarts) included, without
// Config.Extra; a restart's options reach FinishRestart through Raw.
// Before, Do(ctx, "prepare_restart", Args{Store: 1}) was refused with
// "missing properties: [store_id]".
func TestDoTypedArgsOfSubjectTools(t *testing.T) {
	env := newSimEnv(t)
	g, j, _ := newGuard(t, env.subject(nil), guard.Config{Mode: guard.ModeAutomatic, Clock: env.sim.Now})
	ctx := t.Context()

	res, err := g.Do(ctx, guard.ActionPrepareRestart, guard.Args{Store: 1})
	require.NoError(t, err)
	require.Equal(t, "store 1", res.Target)
	require.NoError(t, env.sim.RestartStore(1))

	// The options as the tool's JSON; the store typed, or in Raw alone.
	opts, err := json.Marshal(tikv.RestartArgs{StoreID: 1, LeaderShare: 0.1})
	require.NoError(t, err)
	res, err = g.Do(ctx, guard.ActionFinishRestart, guard.Args{Raw: opts})
	require.NoError(t, err)
	require.Equal(t, "store 1", res.Target)
	require.Contains(t, res.Summary, "(1 wanted)", "the share reached FinishRestart (the default, half the mean of 8, wants 4)")

	for _, tc := range []struct {
		name string
		a    guard.Args
	}{
		{"two stores", guard.Args{Store: 2, Raw: json.RawMessage(`{"store_id":1}`)}},
		{"no store", guard.Args{}},
		{"an argument the tool does not take", guard.Args{Store: 1, Region: 9}},
		{"raw not an object", guard.Args{Store: 1, Raw: json.RawMessage(`[1]`)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := g.Do(ctx, guard.ActionPrepareRestart, tc.a)
			require.ErrorIs(t, err, subject.ErrInvalid)
			var ae *subject.ActionError
			require.ErrorAs(t, err, &ae)
			require.Equal(t, subject.PhaseRefused, ae.Phase)
		})
	}
	for _, st := range []subject.StoreID{1, 2} {
		require.Equal(t, subject.StateUp, env.state(st))
	}
	recs := j.Records(t)
	require.JSONEq(t, `{"store_id":1}`, string(recs[0].Args.Raw), "the journal records the tool's arguments")
}
