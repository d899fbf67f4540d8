package subject

import (
	"encoding/json"
	"fmt"
	"time"
)

// Capabilities describes what a subject can be asked, as plain data. It
// marshals to JSON in a form an AI agent's tool-calling layer or a UI can
// read: each action names its parameters and their JSON types.
type Capabilities struct {
	// Subject names the kind of cluster ("tikv").
	Subject      string            `json:"subject"`
	Observations []ObservationSpec `json:"observations"`
	Actions      []ActionSpec      `json:"actions"`
	SLOs         []SLOSpec         `json:"slos"`
}

// Action returns the action with the given name.
func (c Capabilities) Action(name string) (ActionSpec, bool) {
	for _, a := range c.Actions {
		if a.Name == name {
			return a, true
		}
	}
	return ActionSpec{}, false
}

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

// ParamSpec describes one parameter of an action or observation.
type ParamSpec struct {
	Name string `json:"name"`
	// Type is a JSON Schema type: "integer", "number", "string" or
	// "boolean".
	Type        string   `json:"type"`
	Description string   `json:"description"`
	Required    bool     `json:"required"`
	Enum        []string `json:"enum,omitempty"`
}

// ActionSpec describes one action.
type ActionSpec struct {
	Name        string      `json:"name"`
	Description string      `json:"description"`
	Params      []ParamSpec `json:"params"`
	// Undo names the action that reverses this one, if any.
	Undo string `json:"undo,omitempty"`
	// Input and Output are the JSON Schemas (draft 2020-12) of the
	// arguments and of the result, derived from Go types (package
	// subject/tools fills them for the standard actions).
	Input  json.RawMessage `json:"input_schema,omitempty"`
	Output json.RawMessage `json:"output_schema,omitempty"`
	// Annotations say how the action affects the cluster.
	Annotations Annotations `json:"annotations"`
}

// ObservationSpec describes one observation.
type ObservationSpec struct {
	Name string `json:"name"`
	// Result names the Go type returned ("[]subject.Store").
	Result      string      `json:"result"`
	Description string      `json:"description"`
	Params      []ParamSpec `json:"params,omitempty"`
	// Input and Output are the JSON Schemas (draft 2020-12) of the
	// arguments and of the result, derived from Go types.
	Input  json.RawMessage `json:"input_schema,omitempty"`
	Output json.RawMessage `json:"output_schema,omitempty"`
	// Annotations say that the observation changes nothing.
	Annotations Annotations `json:"annotations"`
}

// SLOSpec describes one service-level objective the subject is judged by.
type SLOSpec struct {
	Name        string        `json:"name"`
	Target      float64       `json:"target"`
	Unit        string        `json:"unit"`
	Grace       time.Duration `json:"-"`
	Severity    string        `json:"severity"`
	Description string        `json:"description"`
}

type sloJSON struct {
	Name        string  `json:"name"`
	Target      float64 `json:"target"`
	Unit        string  `json:"unit"`
	Grace       string  `json:"grace"`
	GraceSecs   float64 `json:"grace_seconds"`
	Severity    string  `json:"severity"`
	Description string  `json:"description"`
}

// MarshalJSON writes the grace period both as a Go duration string and in
// seconds.
func (s SLOSpec) MarshalJSON() ([]byte, error) {
	return json.Marshal(sloJSON{
		Name: s.Name, Target: s.Target, Unit: s.Unit,
		Grace: s.Grace.String(), GraceSecs: s.Grace.Seconds(),
		Severity: s.Severity, Description: s.Description,
	})
}

// UnmarshalJSON reads what MarshalJSON writes.
func (s *SLOSpec) UnmarshalJSON(b []byte) error {
	var j sloJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	var grace time.Duration
	if j.Grace != "" {
		d, err := time.ParseDuration(j.Grace)
		if err != nil {
			return fmt.Errorf("subject: slo %q: grace: %w", j.Name, err)
		}
		grace = d
	} else {
		grace = time.Duration(j.GraceSecs * float64(time.Second))
	}
	*s = SLOSpec{Name: j.Name, Target: j.Target, Unit: j.Unit, Grace: grace, Severity: j.Severity, Description: j.Description}
	return nil
}
