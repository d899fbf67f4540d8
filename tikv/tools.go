package tikv

import (
	"context"
	"errors"

	"github.com/kvops/operator/subject"
	"github.com/kvops/operator/subject/tools"
)

// RestartArgs are the arguments of prepare_restart and finish_restart when
// called by name: the store, and the one option an agent may reasonably
// set. The other RestartOptions take their defaults.
type RestartArgs struct {
	StoreID subject.StoreID `json:"store_id" jsonschema:"the store's id, as PD numbers it"`
	// MaxLeadersLeft is RestartOptions.MaxLeadersLeft.
	MaxLeadersLeft int `json:"max_leaders_left,omitempty" jsonschema:"how many leaders prepare_restart accepts the store still holds (default 0)"`
}

// Tools returns the capabilities the subject offers beyond subject.Actor,
// so that tools.NewDispatcher serves them by name: prepare_restart,
// finish_restart and, with an eviction ledger, reconcile_evictions.
func (s *Subject) Tools() ([]tools.Tool, error) {
	return s.tools(capabilities(s.th).Actions)
}

// tools builds the tools, each with the description of its action in
// actions.
func (s *Subject) tools(actions []subject.ActionSpec) ([]tools.Tool, error) {
	restart := subject.Annotations{Idempotent: true, Reversible: true}
	prep := restart
	prep.Title, prep.UndoneBy = "Prepare a store's restart", "finish_restart"
	fin := restart
	fin.Title, fin.UndoneBy = "Finish a store's restart", "prepare_restart"
	var errs []error
	var ts []tools.Tool
	add := func(t tools.Tool, err error) {
		errs = append(errs, err)
		ts = append(ts, t)
	}
	add(tools.New("prepare_restart", "", tools.KindAction, prep,
		func(ctx context.Context, a RestartArgs) (subject.Result, error) {
			return s.PrepareRestart(ctx, a.StoreID, RestartOptions{MaxLeadersLeft: a.MaxLeadersLeft})
		}))
	add(tools.New("finish_restart", "", tools.KindAction, fin,
		func(ctx context.Context, a RestartArgs) (subject.Result, error) {
			return s.FinishRestart(ctx, a.StoreID, RestartOptions{MaxLeadersLeft: a.MaxLeadersLeft})
		}))
	if s.acts.Ledger != nil {
		add(tools.New("reconcile_evictions", "", tools.KindAction,
			subject.Annotations{Title: "Remove leftover evictions", Idempotent: true, UndoneBy: "evict_leaders on each store it let lead again"},
			func(ctx context.Context, _ tools.NoArgs) (subject.Result, error) { return s.ReconcileEvictions(ctx) }))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	descs := map[string]string{}
	for _, a := range actions {
		descs[a.Name] = a.Description
	}
	for i := range ts {
		ts[i].Description = descs[ts[i].Name]
	}
	return ts, nil
}

// describeTools fills the schemas and annotations of the actions Tools
// serves, from the capability table c already holds.
func (s *Subject) describeTools(c subject.Capabilities) (subject.Capabilities, error) {
	ts, err := s.tools(c.Actions)
	if err != nil {
		return c, err
	}
	return tools.Fill(c, ts)
}
