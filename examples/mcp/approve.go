package main

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/kvops/operator/subject"
)

// notApproved is a refusal of an approval: it matches
// subject.ErrNotApproved without repeating its words, which the tool
// error's kind says already.
type notApproved string

func (e notApproved) Error() string { return string(e) }
func (e notApproved) Unwrap() error { return subject.ErrNotApproved }

// Why an approval was not accepted. Each matches subject.ErrNotApproved.
const (
	errTokenUnknown  notApproved = "approval token unknown or already used"
	errTokenExpired  notApproved = "approval expired"
	errTokenMismatch notApproved = "approval token was issued for another call; it is spent: ask for a new plan"
	errAwaiting      notApproved = "not yet approved: a person holding the approver's credential must approve it first (POST /approvals/{approval_id})"
	errDeclined      notApproved = "declined by the approver"
	errSameIdentity  notApproved = "the approver is the caller: an approval must come from another identity"
)

// errTooMany: the approvals pending are at their bound; nothing was
// issued.
var errTooMany = fmt.Errorf("too many approvals pending; let some expire or use them: %w", subject.ErrUnavailable)

// maxApprovals bounds the approvals kept at once, so that a caller asking
// for plan after plan cannot grow the server's memory without end. At the
// bound, expired ones are dropped first; if none has expired, a new plan
// gets no token (errTooMany) rather than evicting one a person may be
// approving.
const maxApprovals = 1024

// approvals hands out one-time tokens, each bound to one tool and its exact
// arguments, valid for ttl.
//
// A token presented with other arguments than those it was issued for is
// refused and spent: an approval is for one call, and cannot be stretched,
// even by trial, to a call nobody approved; the caller asks for a new plan.
// A token presented before the approver approved it (see needApprover) is
// not spent: the caller may present it again once they have.
type approvals struct {
	ttl time.Duration
	now func() time.Time
	// needApprover, when set, makes every token wait for approve by an
	// identity other than its caller's before it can be spent.
	needApprover bool
	mu           sync.Mutex
	byTok        map[string]*approval
	byID         map[string]string // public id -> token
}

type approval struct {
	ID      string          `json:"id"`
	Tool    string          `json:"tool"`
	Args    json.RawMessage `json:"arguments"`
	Plan    subject.Result  `json:"plan"`
	Caller  string          `json:"caller,omitempty"`
	Expires time.Time       `json:"expires_at"`
	// By names who approved, once someone did; Declined is set when they
	// refused.
	By       string `json:"approved_by,omitempty"`
	Declined bool   `json:"declined,omitempty"`
	call     [sha256.Size]byte
}

func newApprovals(ttl time.Duration, now func() time.Time, needApprover bool) *approvals {
	return &approvals{ttl: ttl, now: now, needApprover: needApprover, byTok: map[string]*approval{}, byID: map[string]string{}}
}

// callKey binds a tool to its arguments. args must be canonical: the JSON
// encoding of a decoded value, whose object keys encoding/json sorts.
func callKey(tool string, args json.RawMessage) [sha256.Size]byte {
	return sha256.Sum256(append([]byte(tool+"\x00"), args...))
}

// issued is what the caller of a plan gets back.
type issued struct {
	token, id string
	expires   time.Time
}

// issue returns a new token for the call, planned as plan for caller.
func (a *approvals) issue(tool string, args json.RawMessage, plan subject.Result, caller string) (issued, error) {
	tok := base64.RawURLEncoding.EncodeToString(randBytes(32))
	id := rand.Text()[:10]
	now := a.now()
	a.mu.Lock()
	defer a.mu.Unlock()
	a.dropExpired(now)
	if len(a.byTok) >= maxApprovals {
		return issued{}, errTooMany
	}
	ap := &approval{ID: id, Tool: tool, Args: args, Plan: plan, Caller: caller, Expires: now.Add(a.ttl), call: callKey(tool, args)}
	a.byTok[tok], a.byID[id] = ap, tok
	return issued{token: tok, id: id, expires: ap.Expires}, nil
}

// dropExpired forgets the expired approvals. a.mu is held.
func (a *approvals) dropExpired(now time.Time) {
	for t, ap := range a.byTok {
		if !now.Before(ap.Expires) {
			delete(a.byTok, t)
			delete(a.byID, ap.ID)
		}
	}
}

// spend accepts tok for this exact call once, and returns who approved
// it: the approver's identity, or "" when no approver is needed.
func (a *approvals) spend(tok, tool string, args json.RawMessage) (string, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	ap, ok := a.byTok[tok]
	if !ok {
		return "", errTokenUnknown
	}
	forget := func() { delete(a.byTok, tok); delete(a.byID, ap.ID) }
	switch {
	case !a.now().Before(ap.Expires):
		forget()
		return "", errTokenExpired
	case ap.call != callKey(tool, args):
		forget()
		return "", errTokenMismatch
	case ap.Declined:
		forget()
		return "", fmt.Errorf("%w %q", errDeclined, ap.By)
	case a.needApprover && ap.By == "":
		return "", fmt.Errorf("%w (approval id %s)", errAwaiting, ap.ID)
	}
	forget()
	return ap.By, nil
}

// pending lists the approvals not expired, oldest first, for the
// approver.
func (a *approvals) pending() []approval {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.dropExpired(a.now())
	out := make([]approval, 0, len(a.byTok))
	for _, ap := range a.byTok {
		out = append(out, *ap)
	}
	slices.SortFunc(out, func(x, y approval) int { return x.Expires.Compare(y.Expires) })
	return out
}

// decide records approver's decision on the approval with public id.
// The approver must not be the caller who asked for the plan.
func (a *approvals) decide(id, approver string, approve bool) (approval, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.dropExpired(a.now())
	tok, ok := a.byID[id]
	if !ok {
		return approval{}, fmt.Errorf("approval %q: %w", id, errTokenUnknown)
	}
	ap := a.byTok[tok]
	switch {
	case approver == "":
		return approval{}, fmt.Errorf("approval %q: the approver has no identity: %w", id, subject.ErrInvalid)
	case approver == ap.Caller:
		return approval{}, errSameIdentity
	case ap.By != "":
		return approval{}, fmt.Errorf("approval %q was decided already by %q: %w", id, ap.By, subject.ErrPrecondition)
	}
	ap.By, ap.Declined = approver, !approve
	return *ap, nil
}

// len returns how many approvals are kept.
func (a *approvals) len() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.byTok)
}

func randBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails (crypto/rand's documentation)
	return b
}
