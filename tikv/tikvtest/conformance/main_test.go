package conformance

import (
	"fmt"
	"os"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	code := m.Run()
	if err := sharedPD.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, "conformance: stopping the real PD:", err)
		code = max(code, 1)
	}
	closeIdle()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "conformance: goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}
