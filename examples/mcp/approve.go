package main

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"
)

// Why an approval token was not accepted.
var (
	errTokenUnknown  = errors.New("approval token unknown or already used")
	errTokenExpired  = errors.New("approval token expired")
	errTokenMismatch = errors.New("approval token was issued for another call")
)

// approvals hands out one-time tokens, each bound to one tool and its exact
// arguments, valid for ttl. A token is spent by its first presentation,
// whether or not it matched: a token shown with other arguments than it
// approved is burnt, so that it cannot be replayed after a probe.
type approvals struct {
	ttl   time.Duration
	now   func() time.Time
	mu    sync.Mutex
	byTok map[string]approval
}

type approval struct {
	call    [sha256.Size]byte
	expires time.Time
}

func newApprovals(ttl time.Duration, now func() time.Time) *approvals {
	return &approvals{ttl: ttl, now: now, byTok: map[string]approval{}}
}

// callKey binds a tool to its arguments. args must be canonical: the JSON
// encoding of a decoded value, whose object keys encoding/json sorts.
func callKey(tool string, args json.RawMessage) [sha256.Size]byte {
	return sha256.Sum256(append([]byte(tool+"\x00"), args...))
}

// issue returns a new token for the call and when it expires.
func (a *approvals) issue(tool string, args json.RawMessage) (string, time.Time, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", time.Time{}, fmt.Errorf("approval token: %w", err)
	}
	tok := base64.RawURLEncoding.EncodeToString(b[:])
	now := a.now()
	exp := now.Add(a.ttl)
	a.mu.Lock()
	defer a.mu.Unlock()
	for t, ap := range a.byTok { // drop the expired, so the map stays small
		if !now.Before(ap.expires) {
			delete(a.byTok, t)
		}
	}
	a.byTok[tok] = approval{call: callKey(tool, args), expires: exp}
	return tok, exp, nil
}

// spend accepts tok for this exact call once.
func (a *approvals) spend(tok, tool string, args json.RawMessage) error {
	a.mu.Lock()
	ap, ok := a.byTok[tok]
	delete(a.byTok, tok)
	a.mu.Unlock()
	switch {
	case !ok:
		return errTokenUnknown
	case !a.now().Before(ap.expires):
		return errTokenExpired
	case ap.call != callKey(tool, args):
		return errTokenMismatch
	}
	return nil
}
