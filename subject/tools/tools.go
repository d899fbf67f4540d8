package tools

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/google/jsonschema-go/jsonschema"

	"github.com/kvops/operator/subject"
)

// Arguments of the standard capabilities. Their JSON Schemas are derived
// from these types (see [Tool]).
type (
	// NoArgs is the input of a capability that takes no argument.
	NoArgs struct{}
	// StoreArgs names one store.
	StoreArgs struct {
		StoreID subject.StoreID `json:"store_id" jsonschema:"the store's id, as the cluster numbers it"`
	}
	// RegionArgs names one region.
	RegionArgs struct {
		RegionID subject.RegionID `json:"region_id" jsonschema:"the region's id, as the cluster numbers it"`
	}
	// TransferLeaderArgs are the arguments of transfer_leader.
	TransferLeaderArgs struct {
		RegionID  subject.RegionID `json:"region_id" jsonschema:"the region's id, as the cluster numbers it"`
		ToStoreID subject.StoreID  `json:"to_store_id" jsonschema:"an Up store that holds a voter of the region"`
	}
	// ScheduleLimitArgs are the arguments of set_schedule_limit.
	ScheduleLimitArgs struct {
		Kind  subject.LimitKind `json:"kind" jsonschema:"which schedule limit to set"`
		Limit uint64            `json:"limit" jsonschema:"concurrent scheduling tasks of that kind; 0 pauses them"`
	}
	// LowSpaceArgs are the arguments of set_low_space_threshold.
	LowSpaceArgs struct {
		Percent float64 `json:"percent" jsonschema:"disk usage in percent above which the cluster stops moving data to a store"`
	}
	// StoreRegionsArgs are the arguments of store_regions.
	StoreRegionsArgs struct {
		StoreID subject.StoreID `json:"store_id" jsonschema:"the store's id, as the cluster numbers it"`
		Limit   int             `json:"limit" jsonschema:"how many regions at most"`
	}
	// RangeRegionsArgs are the arguments of range_regions. Keys are hex,
	// as PD prints them and as region, store_regions and range_regions
	// return them (see [subject.Key]).
	RangeRegionsArgs struct {
		StartKey subject.Key `json:"start_key" jsonschema:"hex key the first region contains; empty for the start of the key space"`
		EndKey   subject.Key `json:"end_key,omitempty" jsonschema:"hex key before which the last region begins; empty for the end of the key space"`
		Limit    int         `json:"limit" jsonschema:"how many regions at most"`
	}
	// SinceArgs are the arguments of leadership_changes.
	SinceArgs struct {
		Since time.Time `json:"since" jsonschema:"RFC 3339 time to read from"`
	}
)

// Kind tells observations from actions.
type Kind string

// The kinds of tool.
const (
	KindObservation Kind = "observation"
	KindAction      Kind = "action"
)

// Tool is one capability that can be called by name with JSON arguments:
// an observation or an action. Its schemas are derived from Go types by
// [New].
type Tool struct {
	Name        string
	Description string
	Kind        Kind
	// Input and Output are JSON Schemas (draft 2020-12) of the arguments
	// and of the result.
	Input, Output *jsonschema.Schema
	Annotations   subject.Annotations

	in   *jsonschema.Resolved
	call func(ctx context.Context, args json.RawMessage) (any, error)
}

// keyPattern is the JSON Schema pattern of a [subject.Key]: hex, either
// case.
const keyPattern = "^([0-9a-fA-F]{2})*$"

// schemaOptions maps the vocabulary's types to the JSON they marshal to.
func schemaOptions() *jsonschema.ForOptions {
	enum := func(names ...string) *jsonschema.Schema {
		e := make([]any, len(names))
		for i, n := range names {
			e[i] = n
		}
		return &jsonschema.Schema{Type: "string", Enum: e}
	}
	return &jsonschema.ForOptions{TypeSchemas: map[reflect.Type]*jsonschema.Schema{
		reflect.TypeFor[subject.LimitKind]():  enum(subject.LeaderLimit.String(), subject.RegionLimit.String(), subject.ReplicaLimit.String()),
		reflect.TypeFor[subject.StoreState](): {Type: "string", Description: "Up, Disconnected, Down, Offline or Tombstone"},
		reflect.TypeFor[subject.NodeState]():  {Type: "string"},
		reflect.TypeFor[subject.PeerRole]():   enum("voter", "learner"),
		reflect.TypeFor[subject.Value]():      {Types: []string{"number", "null"}, Description: "null when unknown"},
		reflect.TypeFor[time.Time]():          {Type: "string", Format: "date-time"},
		reflect.TypeFor[subject.Key]():        {Type: "string", Pattern: keyPattern, Description: "hex, as PD prints keys"},
		// JSON writes these maps' keys as strings: a state's name, a
		// store's id in decimal.
		reflect.TypeFor[map[subject.StoreState]int](): {Type: "object", AdditionalProperties: &jsonschema.Schema{Type: "integer"}},
		reflect.TypeFor[map[subject.StoreID]int]():    {Type: "object", AdditionalProperties: &jsonschema.Schema{Type: "integer"}},
	}}
}

// New describes a capability implemented by fn, deriving its input
// schema from In and its output schema from Out. Identifier fields ending
// in "_id" must be at least 1. The tool rejects arguments the schema does
// not allow, and unknown fields, with an error matching [subject.ErrInvalid] before
// fn is called.
func New[In, Out any](name, description string, kind Kind, ann subject.Annotations, fn func(context.Context, In) (Out, error)) (Tool, error) {
	opts := schemaOptions()
	in, err := jsonschema.For[In](opts)
	if err != nil {
		return Tool{}, fmt.Errorf("tools: tool %q: input schema: %w", name, err)
	}
	for pname, p := range in.Properties {
		if strings.HasSuffix(pname, "_id") && p.Type == "integer" {
			p.Minimum = jsonschema.Ptr(1.0)
		}
	}
	out, err := jsonschema.For[Out](opts)
	if err != nil {
		return Tool{}, fmt.Errorf("tools: tool %q: output schema: %w", name, err)
	}
	resolved, err := in.Resolve(nil)
	if err != nil {
		return Tool{}, fmt.Errorf("tools: tool %q: input schema: %w", name, err)
	}
	if kind == KindObservation {
		ann.ReadOnly, ann.Destructive, ann.Idempotent = true, false, true
	}
	return Tool{
		Name: name, Description: description, Kind: kind, Input: in, Output: out, Annotations: ann, in: resolved,
		call: func(ctx context.Context, raw json.RawMessage) (any, error) {
			var args In
			dec := json.NewDecoder(bytes.NewReader(raw))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&args); err != nil {
				return nil, fmt.Errorf("%s: arguments: %v: %w", name, err, subject.ErrInvalid)
			}
			return fn(ctx, args)
		},
	}, nil
}

// WithCall returns t with its name, schemas, annotations and argument
// checks, calling fn instead once the arguments passed them: a wrapper
// (a guard, say) serves another's tool through its own rules. fn gets the
// arguments as the caller gave them.
func (t Tool) WithCall(fn func(ctx context.Context, args json.RawMessage) (any, error)) Tool {
	t.call = fn
	return t
}

// Call validates args against the tool's input schema and calls it. An
// empty or null args is read as {}. Arguments that do not match give an error
// matching [subject.ErrInvalid] saying what is wrong, and nothing is called.
func (t Tool) Call(ctx context.Context, args json.RawMessage) (json.RawMessage, error) {
	if t.call == nil {
		return nil, fmt.Errorf("tools: tool %q was not made by New: %w", t.Name, subject.ErrInvalid)
	}
	if a := bytes.TrimSpace(args); len(a) == 0 || bytes.Equal(a, []byte("null")) {
		args = json.RawMessage("{}")
	}
	var v any
	if err := json.Unmarshal(args, &v); err != nil {
		return nil, fmt.Errorf("%s: arguments are not JSON: %v: %w", t.Name, err, subject.ErrInvalid)
	}
	if err := t.in.Validate(v); err != nil {
		return nil, fmt.Errorf("%s: arguments: %v: %w", t.Name, err, subject.ErrInvalid)
	}
	res, err := t.call(ctx, args)
	if err != nil {
		return nil, err
	}
	out, err := json.Marshal(res)
	if err != nil {
		return nil, fmt.Errorf("tools: tool %q: encoding the result: %w", t.Name, err)
	}
	return out, nil
}

// Provider is implemented by subjects that offer capabilities beyond
// [subject.Observer] and [subject.Actor] (tikv's store restarts, say). A [Dispatcher]
// serves them beside the standard ones.
type Provider interface {
	Tools() ([]Tool, error)
}

// Dispatcher calls a subject's capabilities by name with JSON arguments.
// It serves exactly what the subject's [subject.Subject.Capabilities] lists, plus
// the tools of a [Provider]. It is safe for concurrent use.
type Dispatcher struct {
	tools map[string]Tool
	names []string
}

// NewDispatcher builds the dispatcher of s.
func NewDispatcher(s subject.Subject) (*Dispatcher, error) {
	if s == nil {
		return nil, fmt.Errorf("tools: NewDispatcher: nil subject: %w", subject.ErrInvalid)
	}
	std, err := Standard(s)
	if err != nil {
		return nil, err
	}
	caps := s.Capabilities()
	offered := map[string]string{}
	for _, o := range caps.Observations {
		offered[o.Name] = o.Description
	}
	for _, a := range caps.Actions {
		offered[a.Name] = a.Description
	}
	d := &Dispatcher{tools: map[string]Tool{}}
	for _, t := range std {
		desc, ok := offered[t.Name]
		if !ok {
			continue
		}
		if desc != "" {
			t.Description = desc
		}
		d.tools[t.Name] = t
	}
	if p, ok := s.(Provider); ok {
		extra, err := p.Tools()
		if err != nil {
			return nil, err
		}
		for _, t := range extra {
			if t.call == nil {
				return nil, fmt.Errorf("tools: tool %q was not made by New: %w", t.Name, subject.ErrInvalid)
			}
			d.tools[t.Name] = t
		}
	}
	for n := range d.tools {
		d.names = append(d.names, n)
	}
	slices.Sort(d.names)
	return d, nil
}

// Tools returns the tools served, sorted by name.
func (d *Dispatcher) Tools() []Tool {
	out := make([]Tool, len(d.names))
	for i, n := range d.names {
		out[i] = d.tools[n]
	}
	return out
}

// Tool returns the tool with the given name.
func (d *Dispatcher) Tool(name string) (Tool, bool) {
	t, ok := d.tools[name]
	return t, ok
}

// Call calls the capability named name with JSON arguments and returns its
// result as JSON: the [subject.Result] of an action, or the observation's value.
// An unknown name or arguments that do not match the tool's schema give an
// error matching [subject.ErrInvalid], and nothing is called. Other errors are the
// capability's own.
func (d *Dispatcher) Call(ctx context.Context, name string, args json.RawMessage) (json.RawMessage, error) {
	t, ok := d.tools[name]
	if !ok {
		return nil, fmt.Errorf("tools: unknown capability %q (known: %s): %w", name, strings.Join(d.names, ", "), subject.ErrInvalid)
	}
	return t.Call(ctx, args)
}

// Standard returns the tools of the [subject.Observer] and [subject.Actor] methods of
// s, whatever its capabilities list, with generic descriptions and
// annotations. A [Dispatcher] keeps those the subject lists. With a nil s
// the tools describe but must not be called.
func Standard(s subject.Subject) ([]Tool, error) {
	obs := subject.Annotations{}
	var errs []error
	var tools []Tool
	add := func(t Tool, err error) {
		errs = append(errs, err)
		tools = append(tools, t)
	}
	add(New("stores", "Every store the cluster knows.", KindObservation, obs,
		func(ctx context.Context, _ NoArgs) ([]subject.Store, error) { return s.Stores(ctx) }))
	add(New("hot_write_regions", "Regions hot for writes, hottest first.", KindObservation, obs,
		func(ctx context.Context, _ NoArgs) ([]subject.HotRegion, error) { return s.HotWriteRegions(ctx) }))
	add(New("hot_read_regions", "Regions hot for reads, hottest first.", KindObservation, obs,
		func(ctx context.Context, _ NoArgs) ([]subject.HotRegion, error) { return s.HotReadRegions(ctx) }))
	add(New("store_metrics", "One store's metrics.", KindObservation, obs,
		func(ctx context.Context, a StoreArgs) (subject.StoreMetrics, error) {
			return s.StoreMetrics(ctx, a.StoreID)
		}))
	add(New("all_store_metrics", "Every store's metrics.", KindObservation, obs,
		func(ctx context.Context, _ NoArgs) ([]subject.StoreMetrics, error) { return s.AllStoreMetrics(ctx) }))
	add(New("cluster_metrics", "Cluster-wide counts.", KindObservation, obs,
		func(ctx context.Context, _ NoArgs) (subject.ClusterMetrics, error) { return s.ClusterMetrics(ctx) }))
	add(New("leadership_changes", "Leadership changes since a time, oldest first.", KindObservation, obs,
		func(ctx context.Context, a SinceArgs) ([]subject.LeadershipChange, error) {
			return s.LeadershipChanges(ctx, a.Since)
		}))

	add(New("region", "One region: its range, peers and leader.", KindObservation, obs,
		func(ctx context.Context, a RegionArgs) (subject.Region, error) { return s.Region(ctx, a.RegionID) }))
	add(New("store_regions", "Regions with a peer on a store, at most limit of them.", KindObservation, obs,
		func(ctx context.Context, a StoreRegionsArgs) ([]subject.Region, error) {
			return s.StoreRegions(ctx, a.StoreID, a.Limit)
		}))
	add(New("range_regions", "Regions of a key range in key order, at most limit of them.", KindObservation, obs,
		func(ctx context.Context, a RangeRegionsArgs) ([]subject.Region, error) {
			return s.RangeRegions(ctx, a.StartKey, a.EndKey, a.Limit)
		}))
	add(New("transfer_leader", "Moves a region's leadership to its voter on another store.", KindAction,
		subject.Annotations{Title: "Transfer region leader", Idempotent: true, Reversible: true, UndoneBy: "transfer_leader back to the former leader's store"},
		func(ctx context.Context, a TransferLeaderArgs) (subject.Result, error) {
			return s.TransferLeader(ctx, a.RegionID, a.ToStoreID)
		}))
	add(New("split_region", "Splits a region in two.", KindAction,
		subject.Annotations{Title: "Split region", UndoneBy: "none: the cluster merges small regions on its own"},
		func(ctx context.Context, a RegionArgs) (subject.Result, error) { return s.SplitRegion(ctx, a.RegionID) }))
	add(New("drain_store", "Takes a store out of service; its regions move elsewhere.", KindAction,
		subject.Annotations{Title: "Drain store", Destructive: true, Idempotent: true, Reversible: true, UndoneBy: "undrain_store, until the store is a tombstone"},
		func(ctx context.Context, a StoreArgs) (subject.Result, error) { return s.DrainStore(ctx, a.StoreID) }))
	add(New("undrain_store", "Returns a store being drained to service.", KindAction,
		subject.Annotations{Title: "Undrain store", Idempotent: true, Reversible: true, UndoneBy: "drain_store"},
		func(ctx context.Context, a StoreArgs) (subject.Result, error) { return s.UndrainStore(ctx, a.StoreID) }))
	add(New("evict_leaders", "Moves every leader off a store and keeps them off.", KindAction,
		subject.Annotations{Title: "Evict leaders", Idempotent: true, Reversible: true, UndoneBy: "restore_leaders"},
		func(ctx context.Context, a StoreArgs) (subject.Result, error) { return s.EvictLeaders(ctx, a.StoreID) }))
	add(New("restore_leaders", "Lets a store lead regions again.", KindAction,
		subject.Annotations{Title: "Restore leaders", Idempotent: true, Reversible: true, UndoneBy: "evict_leaders"},
		func(ctx context.Context, a StoreArgs) (subject.Result, error) {
			return s.RestoreLeaders(ctx, a.StoreID)
		}))
	add(New("set_schedule_limit", "Sets how many scheduling tasks of one kind run at once.", KindAction,
		subject.Annotations{Title: "Set schedule limit", Destructive: true, Idempotent: true, Reversible: true, UndoneBy: "set_schedule_limit with the former value"},
		func(ctx context.Context, a ScheduleLimitArgs) (subject.Result, error) {
			return s.SetScheduleLimit(ctx, a.Kind, a.Limit)
		}))
	add(New("set_low_space_threshold", "Sets the disk usage in percent above which a store is short of space.", KindAction,
		subject.Annotations{Title: "Set low-space threshold", Destructive: true, Idempotent: true, Reversible: true, UndoneBy: "set_low_space_threshold with the former value"},
		func(ctx context.Context, a LowSpaceArgs) (subject.Result, error) {
			return s.SetLowSpaceThreshold(ctx, a.Percent)
		}))
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	refine := map[string]func(in *jsonschema.Schema){
		"set_low_space_threshold": func(in *jsonschema.Schema) {
			p := in.Properties["percent"]
			p.ExclusiveMinimum, p.ExclusiveMaximum = jsonschema.Ptr(0.0), jsonschema.Ptr(100.0)
		},
		"store_regions": limitRange,
		"range_regions": limitRange,
	}
	for i, t := range tools {
		if f, ok := refine[t.Name]; ok {
			t, err := t.Refine(f)
			if err != nil {
				return nil, err
			}
			tools[i] = t
		}
	}
	return tools, nil
}

func limitRange(in *jsonschema.Schema) {
	p := in.Properties["limit"]
	p.Minimum, p.Maximum = jsonschema.Ptr(1.0), jsonschema.Ptr(float64(subject.MaxRegionsPerCall))
}

// Refine returns the tool with its input schema changed by f (a range, an
// enum, a description the Go type cannot carry), validated again.
func (t Tool) Refine(f func(in *jsonschema.Schema)) (Tool, error) {
	in := t.Input.CloneSchemas()
	f(in)
	r, err := in.Resolve(nil)
	if err != nil {
		return Tool{}, fmt.Errorf("tools: tool %q: input schema: %w", t.Name, err)
	}
	t.Input, t.in = in, r
	return t, nil
}

// Describe returns c with the input and output schemas and the
// annotations of every standard observation and action it lists filled
// in, so that a subject need not write them by hand.
func Describe(c subject.Capabilities) (subject.Capabilities, error) {
	std, err := Standard(nil)
	if err != nil {
		return c, err
	}
	return Fill(c, std)
}

// Fill returns c with the input and output schemas and the annotations of
// each tool filled in the observation or action of the same name, for a
// subject that describes tools of its own (see [Provider]).
func Fill(c subject.Capabilities, ts []Tool) (subject.Capabilities, error) {
	byName := map[string]Tool{}
	for _, t := range ts {
		byName[t.Name] = t
	}
	describe := func(name string, in, out *json.RawMessage, ann *subject.Annotations) error {
		t, ok := byName[name]
		if !ok {
			return nil
		}
		var err error
		if *in, err = json.Marshal(t.Input); err != nil {
			return fmt.Errorf("tools: tool %q: input schema: %w", name, err)
		}
		if *out, err = json.Marshal(t.Output); err != nil {
			return fmt.Errorf("tools: tool %q: output schema: %w", name, err)
		}
		*ann = t.Annotations
		return nil
	}
	c.Observations = slices.Clone(c.Observations)
	for i := range c.Observations {
		o := &c.Observations[i]
		if err := describe(o.Name, &o.Input, &o.Output, &o.Annotations); err != nil {
			return c, err
		}
	}
	c.Actions = slices.Clone(c.Actions)
	for i := range c.Actions {
		a := &c.Actions[i]
		if err := describe(a.Name, &a.Input, &a.Output, &a.Annotations); err != nil {
			return c, err
		}
	}
	return c, nil
}
