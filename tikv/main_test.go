package tikv

import (
	"os"
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the run when a test leaves a goroutine behind. Started
// by TestFileLedgerSecondProcess, the binary is a second process instead.
func TestMain(m *testing.M) {
	if path := os.Getenv(ledgerChildEnv); path != "" {
		os.Exit(ledgerChild(path))
	}
	goleak.VerifyTestMain(m)
}
