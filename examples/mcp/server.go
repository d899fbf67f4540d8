package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
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
	// modeApprove: an action runs once a person approved its plan (see
	// the package comment).
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

// approvalTTL is how long a plan can be approved and acted on.
const approvalTTL = 60 * time.Second

// toolServer serves a subject's capabilities as MCP tools.
type toolServer struct {
	disp      *tools.Dispatcher
	guard     *guard.Guard // every action's path; disp is built on it
	mode      mode
	approvals *approvals
	states    *stateSigner
	// ready is closed once the guard's journal is replayed; until then
	// actions are refused (observations are served at once).
	ready chan struct{}
	// alerts returns the alerts of the evaluator the server drives; nil
	// when it drives none.
	alerts func() []invariant.Alert
}

// holdActions makes the server refuse actions until the returned func is
// called (run calls it once the journal is replayed).
func (ts *toolServer) holdActions() func() {
	ts.ready = make(chan struct{})
	return sync.OnceFunc(func() { close(ts.ready) })
}

// approvedKey carries, in an action's context, who approved it: the
// guard's Approver reads it, and the journal records it.
type approvedKey struct{}

// approver is the guard's Approver in approve mode: the call's context
// says who approved it, or nobody did.
func approver(ctx context.Context, _ guard.Request) (guard.Approval, error) {
	by, _ := ctx.Value(approvedKey{}).(string)
	if by == "" {
		return guard.Approval{By: "examples/mcp", Reason: "no approval came with the call"}, nil
	}
	return guard.Approval{Approved: true, By: by}, nil
}

// newToolServer serves sub through a guard whose mode follows m,
// configured by gcfg otherwise (its Clock defaults to now). needApprover
// makes approval tokens wait for another identity's approval (see
// approvals). The server is ready for actions at once; run's makes it
// ready once the journal is replayed.
func newToolServer(sub subject.Subject, m mode, now func() time.Time, gcfg guard.Config, needApprover bool) (*toolServer, error) {
	switch m {
	case modeDryRun:
		gcfg.Mode = guard.ModeDryRun
	case modeApprove:
		gcfg.Mode, gcfg.Approver = guard.ModeApproveEach, approver
	default:
		gcfg.Mode = guard.ModeAutomatic
	}
	if gcfg.Clock == nil {
		gcfg.Clock = now
	}
	g, err := guard.New(sub, gcfg)
	if err != nil {
		return nil, err
	}
	d, err := tools.NewDispatcher(g)
	if err != nil {
		return nil, err
	}
	ts := &toolServer{disp: d, guard: g, mode: m, ready: make(chan struct{}),
		approvals: newApprovals(approvalTTL, now, needApprover), states: newStateSigner(approvalTTL, now)}
	close(ts.ready)
	return ts, nil
}

// actionReply is the structured result of an action call.
type actionReply struct {
	// Result is what was done, or, with DryRun set, what would be done.
	Result subject.Result `json:"result"`
	// ApprovalToken, when set, must be passed back as approval_token with
	// the same arguments before ExpiresAt for the action to be carried out;
	// with ApprovalID set, only once the approver approved that id.
	ApprovalToken string    `json:"approval_token,omitempty"`
	ApprovalID    string    `json:"approval_id,omitempty"`
	ExpiresAt     time.Time `json:"expires_at,omitzero"`
}

// newServer returns the MCP server of ts: one tool per capability and, if
// ts drives an evaluator, the alerts resource.
func newServer(ts *toolServer) (*mcp.Server, error) {
	srv := mcp.NewServer(&mcp.Implementation{Name: "kvops-operator", Version: "0.2.0"}, &mcp.ServerOptions{
		Instructions: "Observe a TiKV cluster and act on it. Keys are hex, as PD prints them. Actions run as dry runs unless the server was started with -mode auto " +
			"or -mode approve: then a person approves each plan, through your client's elicitation when it offers it; otherwise the action returns a plan and an approval_token: " +
			"call it again with the same arguments and the token (and, when an approval_id comes with it, once a person approved that id).",
	})
	for _, t := range ts.disp.Tools() {
		in := t.Input
		if t.Kind == tools.KindAction {
			in = in.CloneSchemas()
			if in.Properties == nil {
				in.Properties = map[string]*jsonschema.Schema{}
			}
			in.Properties[tokenField] = &jsonschema.Schema{Type: "string",
				Description: "the token an earlier call of this action with the same arguments returned (approve mode, clients without elicitation)"}
		}
		out := &jsonschema.Schema{Type: "object", Properties: map[string]*jsonschema.Schema{"result": t.Output}, Required: []string{"result"}}
		if t.Kind == tools.KindAction {
			out.Properties["approval_token"] = &jsonschema.Schema{Type: "string"}
			out.Properties["approval_id"] = &jsonschema.Schema{Type: "string"}
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
			Description: "The pending and firing alerts of the invariants the server evaluates, with their states and times ([] when none)."},
			func(context.Context, *mcp.ReadResourceRequest) (*mcp.ReadResourceResult, error) {
				b, err := json.Marshal(alertsJSON(ts.alerts()))
				if err != nil {
					return nil, err
				}
				return &mcp.ReadResourceResult{Contents: []*mcp.ResourceContents{{URI: alertsURI, MIMEType: "application/json", Text: string(b)}}}, nil
			})
	}
	return srv, nil
}

// call is one action call as the handler sees it.
type call struct {
	tool tools.Tool
	args json.RawMessage // canonical, without the approval token
	// caller names who called, as the HTTP credential says (empty on
	// stdio).
	caller string
	// progress is the client's progress token for this call, nil when it
	// asked for none; session is where its progress notifications go.
	progress any
	session  *mcp.ServerSession
}

// handler calls one tool. Refusals and failures are tool errors (IsError),
// which an agent reads; only a broken server returns a protocol error.
// The call's context ends when the client cancels the request
// (notifications/cancelled, or a closed HTTP request), and the action's
// wait with it.
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
		select {
		case <-ts.ready:
		default:
			return toolError(fmt.Errorf("the server is still replaying its journal; retry shortly: %w", subject.ErrUnavailable)), nil
		}
		c := call{tool: t, args: canon, caller: callerOf(req), progress: req.Params.GetProgressToken(), session: req.Session}
		switch {
		case ts.mode != modeApprove:
			return ts.act(ctx, c, "")
		case len(req.Params.InputResponses) > 0 || req.Params.RequestState != "":
			// The second round of an elicited approval.
			if err := ts.states.spend(req.Params.RequestState, t.Name, canon); err != nil {
				return toolError(err), nil
			}
			by, err := elicitedBy(req)
			if err != nil {
				return toolError(err), nil
			}
			return ts.act(ctx, c, by)
		case token != "":
			by, err := ts.approvals.spend(token, t.Name, canon)
			if err != nil {
				return toolError(err), nil
			}
			if by == "" {
				// No approver configured: the token confirms the plan,
				// from the caller (stdio: whoever started the server).
				by = "the caller, presenting the approval token"
				if c.caller != "" {
					by = fmt.Sprintf("%s, presenting the approval token", c.caller)
				}
			}
			return ts.act(ctx, c, by)
		}
		return ts.plan(ctx, c, req)
	}
}

// plan answers an action's first call in approve mode: its dry run, and
// either a question to a person (elicitation) or an approval token.
func (ts *toolServer) plan(ctx context.Context, c call, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
	out, err := c.tool.Call(subject.WithDryRun(ctx), c.args)
	if err != nil {
		return toolError(err), nil
	}
	var r actionReply
	if err := json.Unmarshal(out, &r.Result); err != nil {
		return nil, err
	}
	if canElicit(req) && !ts.approvals.needApprover {
		state, err := ts.states.sign(c.tool.Name, c.args)
		if err != nil {
			return nil, err
		}
		return &mcp.CallToolResult{
			InputRequests: mcp.InputRequestMap{elicitID: approvalForm(c.tool.Name, c.args, r.Result)},
			RequestState:  state,
		}, nil
	}
	iss, err := ts.approvals.issue(c.tool.Name, c.args, r.Result, c.caller)
	if err != nil {
		return toolError(err), nil
	}
	r.ApprovalToken, r.ExpiresAt = iss.token, iss.expires
	if ts.approvals.needApprover {
		r.ApprovalID = iss.id
	}
	b, err := json.Marshal(r)
	if err != nil {
		return nil, err
	}
	return reply(b), nil
}

// act calls the action through the guard, approved by by (empty outside
// approve mode).
func (ts *toolServer) act(ctx context.Context, c call, by string) (*mcp.CallToolResult, error) {
	if by != "" {
		ctx = context.WithValue(ctx, approvedKey{}, by)
	}
	if c.progress != nil && c.session != nil {
		// The client asked for progress: every read of the action's wait
		// becomes a notifications/progress (the time waited against the
		// bound, and what is left in the message). A notification that
		// cannot be sent is dropped: the action goes on.
		notify := ctx
		ctx = subject.WithProgress(ctx, tools.MCPProgress(func(n tools.ProgressNotification) {
			_ = c.session.NotifyProgress(notify, &mcp.ProgressNotificationParams{
				ProgressToken: c.progress, Progress: n.Progress, Total: n.Total, Message: n.Message})
		}))
	}
	out, err := c.tool.Call(ctx, c.args)
	if err != nil {
		return toolError(err), nil
	}
	var r actionReply
	if err := json.Unmarshal(out, &r.Result); err != nil {
		return nil, err
	}
	b, err := json.Marshal(r)
	if err != nil {
		return nil, err
	}
	return reply(b), nil
}

// callerOf names the caller by its HTTP credential: an OAuth token's
// subject, or the static bearer token's role. Empty on stdio.
func callerOf(req *mcp.CallToolRequest) string {
	if req.Extra == nil || req.Extra.TokenInfo == nil {
		return ""
	}
	return req.Extra.TokenInfo.UserID
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

// refusals are the kinds of tool error, first match wins: what the
// error means for a retry, and the sentinel it matched.
var refusals = []struct {
	err  error
	kind string
}{
	{guard.ErrBusy, "refused by the guard: another disruptive action is in progress; nothing was changed: retry once it ended"},
	{subject.ErrNotApproved, "not approved; nothing was changed"},
	{subject.ErrInvalid, "invalid arguments; nothing was changed"},
	{subject.ErrNotFound, "not found; nothing was changed"},
	{subject.ErrPrecondition, "refused; nothing was changed"},
	{subject.ErrUnavailable, "unavailable; nothing was changed: retry later"},
	{subject.ErrActionFailed, "submitted and failed"},
	{subject.ErrUnconfirmed, "submitted but not confirmed; it may have been applied: observe before retrying"},
	{context.Canceled, "cancelled"},
	{context.DeadlineExceeded, "cancelled"},
}

// toolError says what went wrong and, first, what it means for a retry.
// The error's own text follows, without the words the kind already says
// (no "not approved; nothing was changed: not approved: ...").
func toolError(err error) *mcp.CallToolResult {
	kind, said := "error", ""
	for _, r := range refusals {
		if errors.Is(err, r.err) {
			kind, said = r.kind, r.err.Error()
			break
		}
	}
	var parts []string
	for p := range strings.SplitSeq(err.Error(), ": ") {
		if p != said || said == "" {
			parts = append(parts, p)
		}
	}
	r := &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: kind + ": " + strings.Join(parts, ": ")}}}
	r.IsError = true
	return r
}
