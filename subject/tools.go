package subject

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/google/jsonschema-go/jsonschema"
)

// Annotations describe how calling a capability affects the cluster, with
// the fields of MCP's ToolAnnotations plus what undoes it. They are hints
// for callers (an AI agent, an approval UI); guards enforce policy.
type Annotations struct {
	// Title is a short human name.
	Title string `json:"title,omitempty"`
	// ReadOnly: the capability changes nothing (every observation).
	ReadOnly bool `json:"read_only"`
	// Destructive: the change may remove or overwrite something that an
	// additive change would not (a store drained away, a setting
	// overwritten). Meaningful only when ReadOnly is false.
	Destructive bool `json:"destructive"`
	// Idempotent: calling it again with the same arguments has no further
	// effect.
	Idempotent bool `json:"idempotent"`
	// Reversible says whether the change can be undone; UndoneBy says by
	// what (an action's name, or a sentence when no single action does).
	Reversible bool   `json:"reversible"`
	UndoneBy   string `json:"undone_by,omitempty"`
}

// Arguments of the standard capabilities. Their JSON Schemas are derived
// from these types (see [Tool]).
type (
	// NoArgs is the input of a capability that takes no argument.
	NoArgs struct{}
	// StoreArgs names one store.
	StoreArgs struct {
		StoreID StoreID `json:"store_id" jsonschema:"the store's id, as the cluster numbers it"`
	}
	// RegionArgs names one region.
	RegionArgs struct {
		RegionID RegionID `json:"region_id" jsonschema:"the region's id, as the cluster numbers it"`
	}
	// TransferLeaderArgs are the arguments of transfer_leader.
	TransferLeaderArgs struct {
		RegionID  RegionID `json:"region_id" jsonschema:"the region's id, as the cluster numbers it"`
		ToStoreID StoreID  `json:"to_store_id" jsonschema:"an Up store that holds a voter of the region"`
	}
	// ScheduleLimitArgs are the arguments of set_schedule_limit.
	ScheduleLimitArgs struct {
		Kind  LimitKind `json:"kind" jsonschema:"which schedule limit to set"`
		Limit uint64    `json:"limit" jsonschema:"concurrent scheduling tasks of that kind; 0 pauses them"`
	}
	// LowSpaceArgs are the arguments of set_low_space_threshold.
	LowSpaceArgs struct {
		Percent float64 `json:"percent" jsonschema:"disk usage in percent above which the cluster stops moving data to a store"`
	}
	// StoreRegionsArgs are the arguments of store_regions.
	StoreRegionsArgs struct {
		StoreID StoreID `json:"store_id" jsonschema:"the store's id, as the cluster numbers it"`
		Limit   int     `json:"limit" jsonschema:"how many regions at most"`
	}
	// RangeRegionsArgs are the arguments of range_regions. Keys are hex,
	// as PD shows them.
	RangeRegionsArgs struct {
		StartKey string `json:"start_key" jsonschema:"hex key the first region contains; empty for the start of the key space"`
		EndKey   string `json:"end_key,omitempty" jsonschema:"hex key before which the last region begins; empty for the end of the key space"`
		Limit    int    `json:"limit" jsonschema:"how many regions at most"`
	}
	// SinceArgs are the arguments of leadership_changes.
	SinceArgs struct {
		Since time.Time `json:"since" jsonschema:"RFC 3339 time to read from"`
	}
)

// ToolKind tells observations from actions.
type ToolKind string

// The kinds of tool.
const (
	KindObservation ToolKind = "observation"
	KindAction      ToolKind = "action"
)

// Tool is one capability that can be called by name with JSON arguments:
// an observation or an action. Its schemas are derived from Go types by
// [NewTool].
type Tool struct {
	Name        string
	Description string
	Kind        ToolKind
	// Input and Output are JSON Schemas (draft 2020-12) of the arguments
	// and of the result.
	Input, Output *jsonschema.Schema
	Annotations   Annotations

	in   *jsonschema.Resolved
	call func(ctx context.Context, args json.RawMessage) (any, error)
}

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
		reflect.TypeFor[LimitKind]():  enum(limitKindNames[1:]...),
		reflect.TypeFor[StoreState](): {Type: "string", Description: "Up, Disconnected, Down, Offline or Tombstone"},
		reflect.TypeFor[NodeState]():  {Type: "string"},
		reflect.TypeFor[PeerRole]():   enum("voter", "learner"),
		reflect.TypeFor[Value]():      {Types: []string{"number", "null"}, Description: "null when unknown"},
		reflect.TypeFor[time.Time]():  {Type: "string", Format: "date-time"},
		reflect.TypeFor[[]byte]():     {Types: []string{"string", "null"}, Description: "base64"},
		// JSON writes these maps' keys as strings: a state's name, a
		// store's id in decimal.
		reflect.TypeFor[map[StoreState]int](): {Type: "object", AdditionalProperties: &jsonschema.Schema{Type: "integer"}},
		reflect.TypeFor[map[StoreID]int]():    {Type: "object", AdditionalProperties: &jsonschema.Schema{Type: "integer"}},
	}}
}

// NewTool describes a capability implemented by fn, deriving its input
// schema from In and its output schema from Out. Identifier fields ending
// in "_id" must be at least 1. The tool rejects arguments the schema does
// not allow, and unknown fields, with an error matching [ErrInvalid] before
// fn is called.
func NewTool[In, Out any](name, description string, kind ToolKind, ann Annotations, fn func(context.Context, In) (Out, error)) (Tool, error) {
	opts := schemaOptions()
	in, err := jsonschema.For[In](opts)
	if err != nil {
		return Tool{}, fmt.Errorf("subject: tool %q: input schema: %w", name, err)
	}
	for pname, p := range in.Properties {
		if strings.HasSuffix(pname, "_id") && p.Type == "integer" {
			p.Minimum = jsonschema.Ptr(1.0)
		}
	}
	out, err := jsonschema.For[Out](opts)
	if err != nil {
		return Tool{}, fmt.Errorf("subject: tool %q: output schema: %w", name, err)
	}
	resolved, err := in.Resolve(nil)
	if err != nil {
		return Tool{}, fmt.Errorf("subject: tool %q: input schema: %w", name, err)
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
				return nil, fmt.Errorf("%s: arguments: %v: %w", name, err, ErrInvalid)
			}
			return fn(ctx, args)
		},
	}, nil
}

// Call validates args against the tool's input schema and calls it. An
// empty or null args is read as {}. Arguments that do not match give an error
// matching [ErrInvalid] saying what is wrong, and nothing is called.
func (t Tool) Call(ctx context.Context, args json.RawMessage) (json.RawMessage, error) {
	if t.call == nil {
		return nil, fmt.Errorf("subject: tool %q was not made by NewTool: %w", t.Name, ErrInvalid)
	}
	if a := bytes.TrimSpace(args); len(a) == 0 || bytes.Equal(a, []byte("null")) {
		args = json.RawMessage("{}")
	}
	var v any
	if err := json.Unmarshal(args, &v); err != nil {
		return nil, fmt.Errorf("%s: arguments are not JSON: %v: %w", t.Name, err, ErrInvalid)
	}
	if err := t.in.Validate(v); err != nil {
		return nil, fmt.Errorf("%s: arguments: %v: %w", t.Name, err, ErrInvalid)
	}
	res, err := t.call(ctx, args)
	if err != nil {
		return nil, err
	}
	out, err := json.Marshal(res)
	if err != nil {
		return nil, fmt.Errorf("subject: tool %q: encoding the result: %w", t.Name, err)
	}
	return out, nil
}

// ToolProvider is implemented by subjects that offer capabilities beyond
// [Observer] and [Actor] (tikv's store restarts, say). A [Dispatcher]
// serves them beside the standard ones.
type ToolProvider interface {
	Tools() ([]Tool, error)
}

// Dispatcher calls a subject's capabilities by name with JSON arguments.
// It serves exactly what the subject's [Subject.Capabilities] lists, plus
// the tools of a [ToolProvider]. It is safe for concurrent use.
type Dispatcher struct {
	tools map[string]Tool
	names []string
}

// NewDispatcher builds the dispatcher of s.
func NewDispatcher(s Subject) (*Dispatcher, error) {
	if s == nil {
		return nil, fmt.Errorf("subject: NewDispatcher: nil subject: %w", ErrInvalid)
	}
	std, err := StandardTools(s)
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
	if p, ok := s.(ToolProvider); ok {
		extra, err := p.Tools()
		if err != nil {
			return nil, err
		}
		for _, t := range extra {
			if t.call == nil {
				return nil, fmt.Errorf("subject: tool %q was not made by NewTool: %w", t.Name, ErrInvalid)
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
// result as JSON: the [Result] of an action, or the observation's value.
// An unknown name or arguments that do not match the tool's schema give an
// error matching [ErrInvalid], and nothing is called. Other errors are the
// capability's own.
func (d *Dispatcher) Call(ctx context.Context, name string, args json.RawMessage) (json.RawMessage, error) {
	t, ok := d.tools[name]
	if !ok {
		return nil, fmt.Errorf("subject: unknown capability %q (known: %s): %w", name, strings.Join(d.names, ", "), ErrInvalid)
	}
	return t.Call(ctx, args)
}

// StandardTools returns the tools of the [Observer] and [Actor] methods of
// s, whatever its capabilities list, with generic descriptions and
// annotations. A [Dispatcher] keeps those the subject lists. With a nil s
// the tools describe but must not be called.
func StandardTools(s Subject) ([]Tool, error) {
	obs := Annotations{}
	var errs []error
	var tools []Tool
	add := func(t Tool, err error) {
		errs = append(errs, err)
		tools = append(tools, t)
	}
	add(NewTool("stores", "Every store the cluster knows.", KindObservation, obs,
		func(ctx context.Context, _ NoArgs) ([]Store, error) { return s.Stores(ctx) }))
	add(NewTool("hot_write_regions", "Regions hot for writes, hottest first.", KindObservation, obs,
		func(ctx context.Context, _ NoArgs) ([]HotRegion, error) { return s.HotWriteRegions(ctx) }))
	add(NewTool("hot_read_regions", "Regions hot for reads, hottest first.", KindObservation, obs,
		func(ctx context.Context, _ NoArgs) ([]HotRegion, error) { return s.HotReadRegions(ctx) }))
	add(NewTool("store_metrics", "One store's metrics.", KindObservation, obs,
		func(ctx context.Context, a StoreArgs) (StoreMetrics, error) { return s.StoreMetrics(ctx, a.StoreID) }))
	add(NewTool("all_store_metrics", "Every store's metrics.", KindObservation, obs,
		func(ctx context.Context, _ NoArgs) ([]StoreMetrics, error) { return s.AllStoreMetrics(ctx) }))
	add(NewTool("cluster_metrics", "Cluster-wide counts.", KindObservation, obs,
		func(ctx context.Context, _ NoArgs) (ClusterMetrics, error) { return s.ClusterMetrics(ctx) }))
	add(NewTool("leadership_changes", "Leadership changes since a time, oldest first.", KindObservation, obs,
		func(ctx context.Context, a SinceArgs) ([]LeadershipChange, error) {
			return s.LeadershipChanges(ctx, a.Since)
		}))

	add(NewTool("region", "One region: its range, peers and leader.", KindObservation, obs,
		func(ctx context.Context, a RegionArgs) (Region, error) { return s.Region(ctx, a.RegionID) }))
	add(NewTool("store_regions", "Regions with a peer on a store, at most limit of them.", KindObservation, obs,
		func(ctx context.Context, a StoreRegionsArgs) ([]Region, error) {
			return s.StoreRegions(ctx, a.StoreID, a.Limit)
		}))
	add(NewTool("range_regions", "Regions of a key range in key order, at most limit of them.", KindObservation, obs,
		func(ctx context.Context, a RangeRegionsArgs) ([]Region, error) {
			start, err := hex.DecodeString(a.StartKey)
			if err != nil {
				return nil, fmt.Errorf("range_regions: start_key: %v: %w", err, ErrInvalid)
			}
			end, err := hex.DecodeString(a.EndKey)
			if err != nil {
				return nil, fmt.Errorf("range_regions: end_key: %v: %w", err, ErrInvalid)
			}
			return s.RangeRegions(ctx, start, end, a.Limit)
		}))
	add(NewTool("transfer_leader", "Moves a region's leadership to its voter on another store.", KindAction,
		Annotations{Title: "Transfer region leader", Idempotent: true, Reversible: true, UndoneBy: "transfer_leader back to the former leader's store"},
		func(ctx context.Context, a TransferLeaderArgs) (Result, error) {
			return s.TransferLeader(ctx, a.RegionID, a.ToStoreID)
		}))
	add(NewTool("split_region", "Splits a region in two.", KindAction,
		Annotations{Title: "Split region", UndoneBy: "none: the cluster merges small regions on its own"},
		func(ctx context.Context, a RegionArgs) (Result, error) { return s.SplitRegion(ctx, a.RegionID) }))
	add(NewTool("drain_store", "Takes a store out of service; its regions move elsewhere.", KindAction,
		Annotations{Title: "Drain store", Destructive: true, Idempotent: true, Reversible: true, UndoneBy: "undrain_store, until the store is a tombstone"},
		func(ctx context.Context, a StoreArgs) (Result, error) { return s.DrainStore(ctx, a.StoreID) }))
	add(NewTool("undrain_store", "Returns a store being drained to service.", KindAction,
		Annotations{Title: "Undrain store", Idempotent: true, Reversible: true, UndoneBy: "drain_store"},
		func(ctx context.Context, a StoreArgs) (Result, error) { return s.UndrainStore(ctx, a.StoreID) }))
	add(NewTool("evict_leaders", "Moves every leader off a store and keeps them off.", KindAction,
		Annotations{Title: "Evict leaders", Idempotent: true, Reversible: true, UndoneBy: "restore_leaders"},
		func(ctx context.Context, a StoreArgs) (Result, error) { return s.EvictLeaders(ctx, a.StoreID) }))
	add(NewTool("restore_leaders", "Lets a store lead regions again.", KindAction,
		Annotations{Title: "Restore leaders", Idempotent: true, Reversible: true, UndoneBy: "evict_leaders"},
		func(ctx context.Context, a StoreArgs) (Result, error) { return s.RestoreLeaders(ctx, a.StoreID) }))
	add(NewTool("set_schedule_limit", "Sets how many scheduling tasks of one kind run at once.", KindAction,
		Annotations{Title: "Set schedule limit", Destructive: true, Idempotent: true, Reversible: true, UndoneBy: "set_schedule_limit with the former value"},
		func(ctx context.Context, a ScheduleLimitArgs) (Result, error) {
			return s.SetScheduleLimit(ctx, a.Kind, a.Limit)
		}))
	add(NewTool("set_low_space_threshold", "Sets the disk usage in percent above which a store is short of space.", KindAction,
		Annotations{Title: "Set low-space threshold", Destructive: true, Idempotent: true, Reversible: true, UndoneBy: "set_low_space_threshold with the former value"},
		func(ctx context.Context, a LowSpaceArgs) (Result, error) {
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
		"range_regions": func(in *jsonschema.Schema) {
			limitRange(in)
			for _, k := range []string{"start_key", "end_key"} {
				in.Properties[k].Pattern = "^([0-9a-fA-F]{2})*$"
			}
		},
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
	p.Minimum, p.Maximum = jsonschema.Ptr(1.0), jsonschema.Ptr(float64(MaxRegionsPerCall))
}

// Refine returns the tool with its input schema changed by f (a range, an
// enum, a description the Go type cannot carry), validated again.
func (t Tool) Refine(f func(in *jsonschema.Schema)) (Tool, error) {
	in := t.Input.CloneSchemas()
	f(in)
	r, err := in.Resolve(nil)
	if err != nil {
		return Tool{}, fmt.Errorf("subject: tool %q: input schema: %w", t.Name, err)
	}
	t.Input, t.in = in, r
	return t, nil
}

// Describe returns c with the input and output schemas and the
// annotations of every standard observation and action it lists filled
// in, so that a subject need not write them by hand.
func Describe(c Capabilities) (Capabilities, error) {
	std, err := StandardTools(nil)
	if err != nil {
		return c, err
	}
	byName := map[string]Tool{}
	for _, t := range std {
		byName[t.Name] = t
	}
	c.Observations = slices.Clone(c.Observations)
	for i, o := range c.Observations {
		if t, ok := byName[o.Name]; ok {
			c.Observations[i].Input, c.Observations[i].Output, c.Observations[i].Annotations = t.Input, t.Output, t.Annotations
		}
	}
	c.Actions = slices.Clone(c.Actions)
	for i, a := range c.Actions {
		if t, ok := byName[a.Name]; ok {
			c.Actions[i].Input, c.Actions[i].Output, c.Actions[i].Annotations = t.Input, t.Output, t.Annotations
		}
	}
	return c, nil
}
