package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/jsonschema-go/jsonschema"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/kvops/operator/invariant"
	"github.com/kvops/operator/subject"
	"github.com/kvops/operator/subject/guard"
	"github.com/kvops/operator/subject/tools"
)

// mode says what an action call does.
type mode string

const (
	// modeDryRun: every action reports what it would do; nothing changes.
	modeDryRun mode = "dry-run"
	// modeApprove: a first call returns the dry-run plan and a one-time
	// token; a second call with the token acts.
	modeApprove mode = "approve"
	// modeAuto: every action acts at once.
	modeAuto mode = "auto"
)

func parseMode(s string) (mode, error) {
	switch m := mode(s); m {
	case modeDryRun, modeApprove, modeAuto:
		return m, nil
	}
	return "", fmt.Errorf("unknown -mode %q (want dry-run, approve or auto): %w", s, subject.ErrInvalid)
}

// tokenField is the argument that carries an approval token.
const tokenField = "approval_token"

// alertsURI is the resource that holds the evaluator's alerts.
const alertsURI = "tikv://alerts"

// toolServer serves a subject's capabilities as MCP tools.
type toolServer struct {
	disp      *tools.Dispatcher
	guard     *guard.Guard // every action's path; disp is built on it
	mode      mode
	approvals *approvals
	// alerts returns the alerts of the evaluator the server drives; nil
	// when it drives none.
	alerts func() []invariant.Alert
}

// actionReply is the structured result of an action call.
type actionReply struct {
	// Result is what was done, or, with DryRun set, what would be done.
	Result subject.Result `json:"result"`
	// ApprovalToken, when set, must be passed back as approval_token with
	// the same arguments before ExpiresAt for the action to be carried out.
	ApprovalToken string    `json:"approval_token,omitempty"`
	ExpiresAt     time.Time `json:"expires_at,omitzero"`
}

// newServer returns the MCP server of ts: one tool per capability and, if
// ts drives an evaluator, the alerts resource.
func newServer(ts *toolServer) (*mcp.Server, error) {
	srv := mcp.NewServer(&mcp.Implementation{Name: "kvops-operator", Version: "0.1.0"}, &mcp.ServerOptions{
		Instructions: "Observe a TiKV cluster and act on it. Actions run as dry runs unless the server was started with -mode auto; " +
			"in approve mode, an action returns a plan and an approval_token; call it again with the same arguments and the token to act.",
	})
	for _, t := range ts.disp.Tools() {
		in := t.Input
		if t.Kind == tools.KindAction {
			in = in.CloneSchemas()
			if in.Properties == nil {
				in.Properties = map[string]*jsonschema.Schema{}
			}
			in.Properties[tokenField] = &jsonschema.Schema{Type: "string",
				Description: "the token an earlier call of this action with the same arguments returned (approve mode)"}
		}
		out := &jsonschema.Schema{Type: "object", Properties: map[string]*jsonschema.Schema{"result": t.Output}, Required: []string{"result"}}
		if t.Kind == tools.KindAction {
			out.Properties["approval_token"] = &jsonschema.Schema{Type: "string"}
			out.Properties["expires_at"] = &jsonschema.Schema{Type: "string", Format: "date-time"}
		}
		a := t.Annotations
		srv.AddTool(&mcp.Tool{
			Name: t.Name, Description: t.Description, Title: a.Title,
			InputSchema: in, OutputSchema: out,
			Annotations: &mcp.ToolAnnotations{
				Title: a.Title, ReadOnlyHint: a.ReadOnly, DestructiveHint: &a.Destructive,
				IdempotentHint: a.Idempotent, OpenWorldHint: new(bool),
			},
		}, ts.handler(t))
	}
	if ts.alerts != nil {
		srv.AddResource(&mcp.Resource{URI: alertsURI, Name: "alerts", MIMEType: "application/json",
			Description: "The pending and firing alerts of the invariants the server evaluates, with their states and times."},
			func(context.Context, *mcp.ReadResourceRequest) (*mcp.ReadResourceResult, error) {
				b, err := json.Marshal(ts.alerts())
				if err != nil {
					return nil, err
				}
				return &mcp.ReadResourceResult{Contents: []*mcp.ResourceContents{{URI: alertsURI, MIMEType: "application/json", Text: string(b)}}}, nil
			})
	}
	return srv, nil
}

// handler calls one tool. Refusals and failures are tool errors (IsError),
// which an agent reads; only a broken server returns a protocol error.
func (ts *toolServer) handler(t tools.Tool) mcp.ToolHandler {
	return func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		args := req.Params.Arguments
		if t.Kind == tools.KindObservation {
			out, err := t.Call(ctx, args)
			if err != nil {
				return toolError(err), nil
			}
			return reply(json.RawMessage(`{"result":` + string(out) + `}`)), nil
		}
		token, canon, err := splitToken(args)
		if err != nil {
			return toolError(err), nil
		}
		switch {
		case ts.mode == modeDryRun:
			return ts.act(subject.WithDryRun(ctx), t, canon, "")
		case ts.mode == modeApprove && token == "":
			return ts.act(subject.WithDryRun(ctx), t, canon, "issue")
		case ts.mode == modeApprove:
			if err := ts.approvals.spend(token, t.Name, canon); err != nil {
				return toolError(fmt.Errorf("%w: %w", subject.ErrNotApproved, err)), nil
			}
		}
		// The action checks its preconditions again now: the cluster may
		// have changed since the plan was made.
		return ts.act(ctx, t, canon, "")
	}
}

// act calls the action; with issue set it also returns a token approving
// the same call.
func (ts *toolServer) act(ctx context.Context, t tools.Tool, args json.RawMessage, issue string) (*mcp.CallToolResult, error) {
	out, err := t.Call(ctx, args)
	if err != nil {
		return toolError(err), nil
	}
	var r actionReply
	if err := json.Unmarshal(out, &r.Result); err != nil {
		return nil, err
	}
	if issue != "" {
		tok, exp, err := ts.approvals.issue(t.Name, args)
		if err != nil {
			return nil, err
		}
		r.ApprovalToken, r.ExpiresAt = tok, exp
	}
	b, err := json.Marshal(r)
	if err != nil {
		return nil, err
	}
	return reply(b), nil
}

// splitToken takes the approval token out of a call's arguments and
// returns the rest in canonical form (sorted keys), which is what a token
// is bound to.
func splitToken(args json.RawMessage) (string, json.RawMessage, error) {
	m := map[string]any{}
	if len(bytes.TrimSpace(args)) > 0 {
		// Numbers stay as written: an id above 2^53 must not change.
		dec := json.NewDecoder(bytes.NewReader(args))
		dec.UseNumber()
		if err := dec.Decode(&m); err != nil {
			return "", nil, fmt.Errorf("arguments must be a JSON object: %v: %w", err, subject.ErrInvalid)
		}
	}
	var token string
	if v, ok := m[tokenField]; ok {
		s, ok := v.(string)
		if !ok {
			return "", nil, fmt.Errorf("%s must be a string: %w", tokenField, subject.ErrInvalid)
		}
		token = s
		delete(m, tokenField)
	}
	canon, err := json.Marshal(m)
	return token, canon, err
}

func reply(structured json.RawMessage) *mcp.CallToolResult {
	return &mcp.CallToolResult{
		Content:           []mcp.Content{&mcp.TextContent{Text: string(structured)}},
		StructuredContent: structured,
	}
}

// toolError says what went wrong and, first, what it means for a retry.
func toolError(err error) *mcp.CallToolResult {
	kind := "error"
	switch {
	case errors.Is(err, guard.ErrBusy):
		kind = "refused by the guard: another disruptive action is in progress; nothing was changed: retry once it ended"
	case errors.Is(err, subject.ErrNotApproved):
		kind = "not approved; nothing was changed"
	case errors.Is(err, subject.ErrInvalid):
		kind = "invalid arguments; nothing was changed"
	case errors.Is(err, subject.ErrNotFound):
		kind = "not found; nothing was changed"
	case errors.Is(err, subject.ErrPrecondition):
		kind = "refused; nothing was changed"
	case errors.Is(err, subject.ErrActionFailed):
		kind = "submitted and failed"
	case errors.Is(err, subject.ErrUnconfirmed):
		kind = "submitted but not confirmed; it may have been applied: observe before retrying"
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		kind = "cancelled"
	}
	r := &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: kind + ": " + err.Error()}}}
	r.IsError = true
	return r
}
