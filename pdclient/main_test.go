package pdclient

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if any goroutine outlives them: an
// iteration stopped early or a failed-over request must not leave one
// behind.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
