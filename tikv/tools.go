package tikv

import (
	"context"
	"errors"
	"slices"

	"github.com/kvops/operator/subject"
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
// so that subject.NewDispatcher serves them by name: prepare_restart,
// finish_restart and, with an eviction ledger, reconcile_evictions.
func (s *Subject) Tools() ([]subject.Tool, error) {
	return s.tools(capabilities(s.th).Actions)
}

// tools builds the tools, each with the description of its action in
// actions.
func (s *Subject) tools(actions []subject.ActionSpec) ([]subject.Tool, error) {
	restart := subject.Annotations{Idempotent: true, Reversible: true}
	prep := restart
	prep.Title, prep.UndoneBy = "Prepare a store's restart", "finish_restart"
	fin := restart
	fin.Title, fin.UndoneBy = "Finish a store's restart", "prepare_restart"
	var errs []error
	var tools []subject.Tool
	add := func(t subject.Tool, err error) {
		errs = append(errs, err)
		tools = append(tools, t)
	}
	add(subject.NewTool("prepare_restart", "", subject.KindAction, prep,
		func(ctx context.Context, a RestartArgs) (subject.Result, error) {
			return s.PrepareRestart(ctx, a.StoreID, RestartOptions{MaxLeadersLeft: a.MaxLeadersLeft})
		}))
	add(subject.NewTool("finish_restart", "", subject.KindAction, fin,
		func(ctx context.Context, a RestartArgs) (subject.Result, error) {
			return s.FinishRestart(ctx, a.StoreID, RestartOptions{MaxLeadersLeft: a.MaxLeadersLeft})
		}))
	if s.acts.Ledger != nil {
		add(subject.NewTool("reconcile_evictions", "", subject.KindAction,
			subject.Annotations{Title: "Remove leftover evictions", Idempotent: true, UndoneBy: "evict_leaders on each store it let lead again"},
			func(ctx context.Context, _ subject.NoArgs) (subject.Result, error) { return s.ReconcileEvictions(ctx) }))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	descs := map[string]string{}
	for _, a := range actions {
		descs[a.Name] = a.Description
	}
	for i := range tools {
		tools[i].Description = descs[tools[i].Name]
	}
	return tools, nil
}

// describeTools fills the schemas and annotations of the actions Tools
// serves, from the capability table c already holds.
func (s *Subject) describeTools(c subject.Capabilities) (subject.Capabilities, error) {
	tools, err := s.tools(c.Actions)
	if err != nil {
		return c, err
	}
	c.Actions = slices.Clone(c.Actions)
	for _, t := range tools {
		for i, a := range c.Actions {
			if a.Name == t.Name {
				c.Actions[i].Input, c.Actions[i].Output, c.Actions[i].Annotations = t.Input, t.Output, t.Annotations
			}
		}
	}
	return c, nil
}
