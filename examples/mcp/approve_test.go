package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/stretchr/testify/require"

	"github.com/kvops/operator/subject"
	"github.com/kvops/operator/subject/guard"
)

// elicitor answers the server's approval forms as a person would, and
// counts them.
type elicitor struct {
	approve bool
	asked   atomic.Int32
	message atomic.Value // string
}

func (e *elicitor) handle(_ context.Context, req *mcp.ElicitRequest) (*mcp.ElicitResult, error) {
	e.asked.Add(1)
	e.message.Store(req.Params.Message)
	if !e.approve {
		return &mcp.ElicitResult{Action: "decline"}, nil
	}
	return &mcp.ElicitResult{Action: "accept", Content: map[string]any{"approve": true}}, nil
}

// TestElicitedApproval: a client that can elicit is asked, and a person's
// yes lets the action run, at 2026-07-28 (the input request inside the
// tool's reply, with a signed request state) and at 2025-11-25
// (elicitation/create). The journal names the person's client as the
// approver. Before, approve mode only handed the caller a token it could
// present at once.
func TestElicitedApproval(t *testing.T) {
	for _, version := range []string{"2026-07-28", "2025-11-25", "2025-06-18"} {
		for _, yes := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s approve=%v", version, yes), func(t *testing.T) {
				e := &elicitor{approve: yes}
				f := newFixtureWith(t, modeApprove, fixtureOpts{version: version,
					client: &mcp.ClientOptions{ElicitationHandler: e.handle}})
				region, from, to := f.followerMove(t)
				res := f.call(t, "transfer_leader", map[string]any{"region_id": region, "to_store_id": to})
				require.Equal(t, int32(1), e.asked.Load(), "the person was asked once")
				require.Contains(t, e.message.Load(), "transfer_leader", "the form shows the plan")
				leader, err := f.sim.RegionLeader(region)
				require.NoError(t, err)
				if !yes {
					require.True(t, res.IsError, text(res))
					require.Contains(t, text(res), string(errPersonNo))
					require.Equal(t, from, leader, "a declined action moved the leader")
					return
				}
				done := actionResult(t, res)
				require.False(t, done.Result.DryRun)
				require.Empty(t, done.ApprovalToken, "no token when a person was asked")
				require.Equal(t, to, leader)
				require.Contains(t, f.journal.records(t), "transfer_leader approved a person, through test's elicitation")
			})
		}
	}
}

// TestRequestStateIsSignedAndSpentOnce: a second round with a state the
// server did not sign, signed for other arguments, or used already, does
// not act.
func TestRequestStateIsSignedAndSpentOnce(t *testing.T) {
	f := newFixtureWith(t, modeApprove, fixtureOpts{version: "2026-07-28",
		client: &mcp.ClientOptions{ElicitationHandler: (&elicitor{approve: true}).handle, MultiRoundTrip: &mcp.MultiRoundTripOptions{Disabled: true}}})
	region, from, to := f.followerMove(t)
	args := map[string]any{"region_id": region, "to_store_id": to}
	first, err := f.cs.CallTool(t.Context(), &mcp.CallToolParams{Name: "transfer_leader", Arguments: args})
	require.NoError(t, err)
	require.True(t, first.NeedsInput(), "an input request: %s", text(first))
	yes := mcp.InputResponseMap{elicitID: &mcp.ElicitResult{Action: "accept", Content: map[string]any{"approve": true}}}
	again := func(state string, a map[string]any) *mcp.CallToolResult {
		res, err := f.cs.CallTool(t.Context(), &mcp.CallToolParams{Name: "transfer_leader", Arguments: a, InputResponses: yes, RequestState: state})
		require.NoError(t, err)
		return res
	}
	forged := []byte(first.RequestState)
	forged[len(forged)-2] ^= 1
	for _, tc := range []struct {
		state string
		args  map[string]any
		want  notApproved
	}{
		{string(forged), args, errStateInvalid},
		{first.RequestState, map[string]any{"region_id": region, "to_store_id": from}, errStateInvalid},
	} {
		res := again(tc.state, tc.args)
		require.True(t, res.IsError)
		require.Contains(t, text(res), string(tc.want))
	}
	actionResult(t, again(first.RequestState, args))
	res := again(first.RequestState, args)
	require.True(t, res.IsError)
	require.Contains(t, text(res), string(errStateUsed))
}

// TestTokenWithOtherArgumentsIsSpent: the decision documented on
// approvals: a token shown with arguments it was not issued for is
// refused and spent, so it cannot then be used even for its own call.
func TestTokenWithOtherArgumentsIsSpent(t *testing.T) {
	f := newFixture(t, modeApprove)
	region, from, to := f.followerMove(t)
	args := map[string]any{"region_id": region, "to_store_id": to}
	plan := actionResult(t, f.call(t, "transfer_leader", args))
	res := f.call(t, "transfer_leader", map[string]any{"region_id": region, "to_store_id": from, tokenField: plan.ApprovalToken})
	require.Contains(t, text(res), string(errTokenMismatch))
	args[tokenField] = plan.ApprovalToken
	res = f.call(t, "transfer_leader", args)
	require.True(t, res.IsError)
	require.Contains(t, text(res), string(errTokenUnknown))
	leader, err := f.sim.RegionLeader(region)
	require.NoError(t, err)
	require.Equal(t, from, leader)
}

// TestApprovalsAreBounded: at maxApprovals pending, a new plan gets no
// token (ErrUnavailable) rather than evicting one a person may be
// approving; once they expire, plans get tokens again.
func TestApprovalsAreBounded(t *testing.T) {
	clk := &fakeClock{t: time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)}
	a := newApprovals(time.Minute, clk.Now, false)
	for i := range maxApprovals {
		_, err := a.issue("drain_store", json.RawMessage(fmt.Sprintf(`{"store_id":%d}`, i+1)), subject.Result{}, "")
		require.NoError(t, err)
	}
	_, err := a.issue("drain_store", json.RawMessage(`{"store_id":1}`), subject.Result{}, "")
	require.ErrorIs(t, err, subject.ErrUnavailable)
	require.Equal(t, maxApprovals, a.len())
	clk.Advance(time.Minute)
	_, err = a.issue("drain_store", json.RawMessage(`{"store_id":1}`), subject.Result{}, "")
	require.NoError(t, err)
	require.Equal(t, 1, a.len(), "the expired were dropped")

	// The request states' nonces are bounded the same way.
	s := newStateSigner(time.Minute, clk.Now)
	for i := range maxApprovals + 1 {
		args := json.RawMessage(fmt.Sprintf(`{"store_id":%d}`, i+1))
		st, err := s.sign("drain_store", args)
		require.NoError(t, err)
		err = s.spend(st, "drain_store", args)
		if i < maxApprovals {
			require.NoError(t, err)
			continue
		}
		require.ErrorIs(t, err, subject.ErrUnavailable)
	}
}

// TestApproverIsAnotherIdentity: over HTTP with an approver credential,
// the caller's token waits for the approver: presented before, it is
// refused and not spent; the caller's credential cannot approve; the
// approver's approves, and the journal names the approver.
func TestApproverIsAnotherIdentity(t *testing.T) {
	f := newFixture(t, modeApprove)
	j := &syncBuffer{}
	ts, err := newToolServer(f.sub, modeApprove, time.Now, guard.Config{Journal: j}, true)
	require.NoError(t, err)
	srv, err := newServer(ts)
	require.NoError(t, err)
	const callerTok, approverTok = "caller-secret", "approver-secret"
	h, err := httpHandler(srv, ts, httpConfig{token: callerTok, approverToken: approverTok, sessionTimeout: time.Minute})
	require.NoError(t, err)
	hs := httptest.NewServer(h)
	t.Cleanup(hs.Close)

	cs := connectHTTP(t, hs.URL, callerTok, "2025-11-25", nil)
	region, from, to := f.followerMove(t)
	args := map[string]any{"region_id": region, "to_store_id": to}
	res, err := cs.CallTool(t.Context(), &mcp.CallToolParams{Name: "transfer_leader", Arguments: args})
	require.NoError(t, err)
	plan := actionResult(t, res)
	require.NotEmpty(t, plan.ApprovalID)

	args[tokenField] = plan.ApprovalToken
	res, err = cs.CallTool(t.Context(), &mcp.CallToolParams{Name: "transfer_leader", Arguments: args})
	require.NoError(t, err)
	require.True(t, res.IsError)
	require.Contains(t, text(res), string(errAwaiting))

	decide := func(tok, id string, yes bool) int {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, hs.URL+"/approvals/"+id, strings.NewReader(fmt.Sprintf(`{"approve":%v}`, yes)))
		require.NoError(t, err)
		req.Header.Set("Authorization", "bearer "+tok) // the scheme in any case (RFC 9110)
		resp, err := hs.Client().Do(req)
		require.NoError(t, err)
		_ = resp.Body.Close()
		return resp.StatusCode
	}
	require.Equal(t, http.StatusUnauthorized, decide(callerTok, plan.ApprovalID, true), "the caller approves its own plan")
	require.Equal(t, http.StatusNotFound, decide(approverTok, "nope", true))

	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, hs.URL+"/approvals", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+approverTok)
	resp, err := hs.Client().Do(req)
	require.NoError(t, err)
	var listed []approval
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&listed))
	_ = resp.Body.Close()
	require.Len(t, listed, 1)
	require.Equal(t, plan.ApprovalID, listed[0].ID)
	require.Equal(t, "transfer_leader", listed[0].Tool)
	require.Equal(t, roleCaller, listed[0].Caller)

	leader, err := f.sim.RegionLeader(region)
	require.NoError(t, err)
	require.Equal(t, from, leader, "nothing moved before the approval")
	require.Equal(t, http.StatusOK, decide(approverTok, plan.ApprovalID, true))
	require.Equal(t, http.StatusConflict, decide(approverTok, plan.ApprovalID, false), "decided once")
	res, err = cs.CallTool(t.Context(), &mcp.CallToolParams{Name: "transfer_leader", Arguments: args})
	require.NoError(t, err)
	done := actionResult(t, res)
	require.False(t, done.Result.DryRun)
	leader, err = f.sim.RegionLeader(region)
	require.NoError(t, err)
	require.Equal(t, to, leader)
	require.Contains(t, j.records(t), "transfer_leader approved "+roleApprover)
}

// connectHTTP connects the SDK's client at version over streamable HTTP
// with a bearer token.
func connectHTTP(t *testing.T, url, token, version string, opts *mcp.ClientOptions) *mcp.ClientSession {
	t.Helper()
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	hc := &http.Client{Transport: bearer{token: token, next: tr}}
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "test", Version: "1"}, opts).
		Connect(t.Context(), &mcp.StreamableClientTransport{Endpoint: url, HTTPClient: hc}, &mcp.ClientSessionOptions{ProtocolVersion: version})
	require.NoError(t, err)
	t.Cleanup(func() { _ = cs.Close() })
	return cs
}

type bearer struct {
	token string
	next  http.RoundTripper
}

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	if b.token != "" {
		r.Header.Set("Authorization", "Bearer "+b.token)
	}
	return b.next.RoundTrip(r)
}
