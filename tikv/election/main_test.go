package election_test

import (
	"fmt"
	"os"
	"testing"

	"go.uber.org/goleak"

	"github.com/kvops/operator/internal/realpd"
)

// pd is one PD member without stores, shared by the tests that need only
// its etcd; each test elects under a prefix of its own.
var pd = realpd.NewShared(realpd.Config{NoSimulator: true})

// TestMain stops the shared PD, then fails the run when a test left a
// goroutine behind.
func TestMain(m *testing.M) {
	code := m.Run()
	if err := pd.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, "realpd:", err)
		code = 1
	}
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}
