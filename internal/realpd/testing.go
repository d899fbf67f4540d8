package realpd

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/kvops/operator/internal/needs"
)

// Require returns the folder holding pd-server and pd-simulator. Without
// KVOPS_REALPD_DIR it skips t, or fails it when CI=true; a
// KVOPS_REALPD_DIR that does not hold both programs fails t.
func Require(t testing.TB) string {
	t.Helper()
	dir, err := Binaries("")
	switch {
	case err == nil:
		return dir
	case errors.Is(err, ErrNotConfigured):
		needs.Missing(t, err)
	default:
		t.Fatal(err.Error())
	}
	return ""
}

// Start starts a cluster for one test (see New), stops it when the test
// ends, and logs the end of its processes' logs when the test failed. It
// calls Require first.
func Start(t testing.TB, cfg Config) *Cluster {
	t.Helper()
	Require(t)
	c, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatalf("realpd: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("realpd: logs:\n%s", c.Logs())
		}
		if err := c.Stop(); err != nil {
			t.Errorf("realpd: stop: %v", err)
		}
	})
	return c
}

// Shared is one cluster shared by the tests of a package, started by the
// first test that asks for it and stopped by the package's TestMain:
//
//	var pd = realpd.NewShared(realpd.Config{MaxStoreDownTime: time.Minute})
//
//	func TestMain(m *testing.M) {
//		code := m.Run()
//		pd.Stop()
//		os.Exit(code)
//	}
//
//	func TestSomething(t *testing.T) {
//		c := pd.Get(t) // skips without KVOPS_REALPD_DIR
//		...
//	}
//
// Tests that share it must leave it as they found it (see
// Cluster.WaitReady), and must not run in parallel with one that changes
// it. A start that failed fails every test that asks.
type Shared struct {
	cfg  Config
	once sync.Once
	c    *Cluster
	err  error
}

// NewShared returns a shared cluster for cfg, not started.
func NewShared(cfg Config) *Shared { return &Shared{cfg: cfg} }

// Get returns the shared cluster, starting it on the first call. It
// calls Require first.
func (s *Shared) Get(t testing.TB) *Cluster {
	t.Helper()
	Require(t)
	s.once.Do(func() { s.c, s.err = New(context.Background(), s.cfg) })
	if s.err != nil {
		t.Fatalf("realpd: shared cluster: %v", s.err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("realpd: shared cluster logs:\n%s", s.c.Logs())
		}
	})
	return s.c
}

// Stop stops the shared cluster if it was started.
func (s *Shared) Stop() error {
	if s.c == nil {
		return nil
	}
	return s.c.Stop()
}
