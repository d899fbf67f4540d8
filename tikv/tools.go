package tikv

import (
	"context"
	"errors"
	"time"

	"github.com/google/jsonschema-go/jsonschema"

	"github.com/kvops/operator/subject"
	"github.com/kvops/operator/subject/tools"
)

// RestartArgs are the arguments of prepare_restart and finish_restart when
// called by name (through a tools.Dispatcher, an MCP server or
// guard.Guard.Do, whose Args.Raw they are): the store and every
// [RestartOptions] field, each zero field taking its default.
type RestartArgs struct {
	StoreID subject.StoreID `json:"store_id" jsonschema:"the store's id, as PD numbers it"`
	// MaxLeadersLeft is RestartOptions.MaxLeadersLeft.
	MaxLeadersLeft int `json:"max_leaders_left,omitempty" jsonschema:"how many leaders prepare_restart accepts the store still holds (default 0)"`
	// LeaderShare is RestartOptions.LeaderShare.
	LeaderShare float64 `json:"leader_share,omitempty" jsonschema:"the share of the mean leader count of the Up stores finish_restart waits for the store to lead (default 0.5); PD's balance-leader leaves stores within about ten leaders of each other, so on a cluster with few leaders per store ask less"`
	// StartedAfter is RestartOptions.StartedAfter.
	StartedAfter time.Time `json:"started_after,omitzero" jsonschema:"RFC 3339 time; finish_restart also waits until the store reports a process started after it"`
	// EvictTimeout, UpTimeout and LeaderTimeout are the options of the
	// same names, in seconds.
	EvictTimeout  float64 `json:"evict_timeout_seconds,omitempty" jsonschema:"bound of prepare_restart's wait for the leaders to leave, in seconds (default: the subject's)"`
	UpTimeout     float64 `json:"up_timeout_seconds,omitempty" jsonschema:"bound of finish_restart's wait for the store to be Up, in seconds (default 300)"`
	LeaderTimeout float64 `json:"leader_timeout_seconds,omitempty" jsonschema:"bound of finish_restart's wait for the leaders to come back, in seconds (default 600)"`
}

// Options returns the RestartOptions a names.
func (a RestartArgs) Options() RestartOptions {
	sec := func(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }
	return RestartOptions{
		MaxLeadersLeft: a.MaxLeadersLeft, LeaderShare: a.LeaderShare, StartedAfter: a.StartedAfter,
		EvictTimeout: sec(a.EvictTimeout), UpTimeout: sec(a.UpTimeout), LeaderTimeout: sec(a.LeaderTimeout),
	}
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
			return s.PrepareRestart(ctx, a.StoreID, a.Options())
		}))
	add(tools.New("finish_restart", "", tools.KindAction, fin,
		func(ctx context.Context, a RestartArgs) (subject.Result, error) {
			return s.FinishRestart(ctx, a.StoreID, a.Options())
		}))
	add(tools.New("evicted_stores", "", tools.KindObservation, subject.Annotations{},
		func(ctx context.Context, _ tools.NoArgs) ([]subject.Eviction, error) { return s.Evictions(ctx) }))
	add(tools.New("schedule_state", "", tools.KindObservation, subject.Annotations{},
		func(ctx context.Context, _ tools.NoArgs) (ScheduleState, error) { return s.ScheduleState(ctx) }))
	if s.acts.Ledger != nil {
		add(tools.New("reconcile_evictions", "", tools.KindAction,
			subject.Annotations{Title: "Remove leftover evictions", Idempotent: true, UndoneBy: "evict_leaders on each store it let lead again"},
			func(ctx context.Context, _ tools.NoArgs) (subject.Result, error) { return s.ReconcileEvictions(ctx) }))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	for i, t := range ts[:2] { // the restarts
		t, err := t.Refine(restartRanges)
		if err != nil {
			return nil, err
		}
		ts[i] = t
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

// restartRanges bounds RestartArgs' numbers: a share in (0, 1], no
// negative count or timeout.
func restartRanges(in *jsonschema.Schema) {
	p := in.Properties["leader_share"]
	p.ExclusiveMinimum, p.Maximum = jsonschema.Ptr(0.0), jsonschema.Ptr(1.0)
	for _, n := range []string{"max_leaders_left", "evict_timeout_seconds", "up_timeout_seconds", "leader_timeout_seconds"} {
		in.Properties[n].Minimum = jsonschema.Ptr(0.0)
	}
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
