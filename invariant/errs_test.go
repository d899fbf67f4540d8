package invariant

import (
	"errors"
	"testing"
	"time"

	"github.com/kvops/operator/internal/errs"
)

// TestErrInvalidIsTheSharedSentinel: invariant's refusals match the
// library's one "invalid argument" value (internal/errs.ErrInvalid, which
// subject.ErrInvalid is too), so a caller's errors.Is(err,
// subject.ErrInvalid) covers them; its other sentinels stay apart.
func TestErrInvalidIsTheSharedSentinel(t *testing.T) {
	_, sevErr := ParseSeverity("fatal")
	_, newErr := New([]Invariant{{Name: ""}}, Config{})
	_, optErr := New(nil, Config{Concurrency: -1})
	e, err := New(nil, Config{})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	_, evalErr := e.Evaluate(t.Context(), time.Time{})
	for _, tc := range []struct {
		name string
		err  error
	}{
		{"ParseSeverity", sevErr},
		{"New: empty name", newErr},
		{"New: option", optErr},
		{"Evaluate at the zero time", evalErr},
	} {
		if !errors.Is(tc.err, errs.ErrInvalid) {
			t.Errorf("%s: error %v does not match errs.ErrInvalid", tc.name, tc.err)
		}
		if errors.Is(tc.err, ErrState) {
			t.Errorf("%s: error %v matches ErrState", tc.name, tc.err)
		}
	}
	for _, other := range []error{ErrState, ErrIdentity, ErrPanic} {
		if errors.Is(other, errs.ErrInvalid) {
			t.Errorf("%v matches errs.ErrInvalid", other)
		}
	}
}
