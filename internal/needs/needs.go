// Package needs decides what a test does when a real part it needs
// (Prometheus, Alertmanager, the Docker Engine, a real PD) is missing:
// on a developer's machine it skips with the reason; where CI=true, every
// part must be there, and it fails.
package needs

import (
	"fmt"
	"os"
	"testing"
)

// Missing skips t saying why (err), or fails it when the environment
// variable CI is "true".
func Missing(t testing.TB, err error) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("%v (required: CI=true)", err)
		return
	}
	t.Skip(err.Error())
}

// RecordingTB is a testing.TB that records a Skip or a Fatal instead of
// acting on it, for testing what a Require function does to a test.
type RecordingTB struct {
	testing.TB
	DidSkip, DidFail bool
	Msg             string
}

// Helper does nothing.
func (f *RecordingTB) Helper() {}

// Skip records a skip.
func (f *RecordingTB) Skip(args ...any) { f.DidSkip, f.Msg = true, fmt.Sprint(args...) }

// Fatal records a failure.
func (f *RecordingTB) Fatal(args ...any) { f.DidFail, f.Msg = true, fmt.Sprint(args...) }

// Skipf records a skip.
func (f *RecordingTB) Skipf(s string, a ...any) { f.Skip(fmt.Sprintf(s, a...)) }

// Fatalf records a failure.
func (f *RecordingTB) Fatalf(s string, a ...any) { f.Fatal(fmt.Sprintf(s, a...)) }
