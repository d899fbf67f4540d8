package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/kvops/operator/subject"
)

// Asking a person through MCP elicitation. The tool's first call answers
// with an input request (the plan, and a yes/no form) and a request state
// the server signs; the client asks its user and calls again with the
// answer and the state. On protocol 2026-07-28 the client does that
// itself (SEP-2322's multi round-trip); on earlier revisions the SDK sends
// elicitation/create and calls the handler again on the server's side.
// Either way the second call proves, by the signature, that the server
// made this plan for this exact call, not long ago, and once.

// elicitID is the key of the approval's input request.
const elicitID = "approval"

// Why an elicited approval was not accepted; each matches
// subject.ErrNotApproved.
const (
	errStateInvalid notApproved = "the request state is not one this server signed for this call"
	errStateUsed    notApproved = "the request state was used already"
	errPersonNo     notApproved = "the person declined"
	errNoAnswer     notApproved = "no answer to the approval form"
)

// requestState is what the server signs into an input-required reply.
type requestState struct {
	Call    string    `json:"call"` // hex of callKey
	Expires time.Time `json:"exp"`
	Nonce   string    `json:"nonce"`
}

// stateSigner signs and checks request states with a key of the
// process's own: a state outlives neither the process nor ttl, and is
// accepted once.
type stateSigner struct {
	key []byte
	ttl time.Duration
	now func() time.Time
	mu  sync.Mutex
	// used holds the nonces spent, until their state expires; bounded
	// like the approval tokens.
	used map[string]time.Time
}

func newStateSigner(ttl time.Duration, now func() time.Time) *stateSigner {
	return &stateSigner{key: randBytes(32), ttl: ttl, now: now, used: map[string]time.Time{}}
}

// sign returns the state of a plan of the call.
func (s *stateSigner) sign(tool string, args json.RawMessage) (string, error) {
	k := callKey(tool, args)
	b, err := json.Marshal(requestState{Call: hex.EncodeToString(k[:]), Expires: s.now().Add(s.ttl), Nonce: base64.RawURLEncoding.EncodeToString(randBytes(16))})
	if err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b) + "." + base64.RawURLEncoding.EncodeToString(s.mac(b)), nil
}

func (s *stateSigner) mac(b []byte) []byte {
	m := hmac.New(sha256.New, s.key)
	m.Write(b)
	return m.Sum(nil)
}

// spend checks that state was signed here for this call, has not expired
// and was not used, and marks it used.
func (s *stateSigner) spend(state, tool string, args json.RawMessage) error {
	body, sig, ok := strings.Cut(state, ".")
	if !ok {
		return errStateInvalid
	}
	b, err1 := base64.RawURLEncoding.DecodeString(body)
	mac, err2 := base64.RawURLEncoding.DecodeString(sig)
	if err1 != nil || err2 != nil || !hmac.Equal(mac, s.mac(b)) {
		return errStateInvalid
	}
	var st requestState
	if err := json.Unmarshal(b, &st); err != nil {
		return errStateInvalid
	}
	k := callKey(tool, args)
	if st.Call != hex.EncodeToString(k[:]) {
		return errStateInvalid
	}
	now := s.now()
	if !now.Before(st.Expires) {
		return errTokenExpired
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for n, exp := range s.used {
		if !now.Before(exp) {
			delete(s.used, n)
		}
	}
	if _, ok := s.used[st.Nonce]; ok {
		return errStateUsed
	}
	if len(s.used) >= maxApprovals {
		return errTooMany
	}
	s.used[st.Nonce] = st.Expires
	return nil
}

// canElicit reports whether the client that sent req answers form
// elicitation. A client declaring elicitation without a mode answers
// forms (the 2025-06-18 capability had no modes).
func canElicit(req *mcp.CallToolRequest) bool {
	if req.Session == nil {
		return false
	}
	ip := req.Session.InitializeParams()
	if ip == nil || ip.Capabilities == nil || ip.Capabilities.Elicitation == nil {
		return false
	}
	e := ip.Capabilities.Elicitation
	return e.Form != nil || e.URL == nil
}

// approvalForm is the input request asking a person about plan.
func approvalForm(tool string, args json.RawMessage, plan subject.Result) *mcp.ElicitParams {
	return &mcp.ElicitParams{
		Mode: "form",
		Message: fmt.Sprintf("An agent asks to run %s with %s on the TiKV cluster. Plan: %s\nApprove it?",
			tool, args, plan.Summary),
		RequestedSchema: map[string]any{
			"type": "object",
			"properties": map[string]any{
				"approve": map[string]any{"type": "boolean", "title": "Approve", "description": "Run " + tool + " as planned"},
			},
			"required": []any{"approve"},
		},
	}
}

// elicitedBy reads the person's answer: who approved (for the journal),
// or why not.
func elicitedBy(req *mcp.CallToolRequest) (string, error) {
	res, ok := req.Params.InputResponses[elicitID].(*mcp.ElicitResult)
	if !ok || res == nil {
		return "", errNoAnswer
	}
	if res.Action != "accept" {
		return "", fmt.Errorf("%w (%s)", errPersonNo, res.Action)
	}
	if yes, _ := res.Content["approve"].(bool); !yes {
		return "", errPersonNo
	}
	by := "a person, through the MCP client's elicitation"
	if ip := req.Session.InitializeParams(); ip != nil && ip.ClientInfo != nil && ip.ClientInfo.Name != "" {
		by = fmt.Sprintf("a person, through %s's elicitation", ip.ClientInfo.Name)
	}
	return by, nil
}
