package httpconfig_test

import (
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/kvops/operator/internal/promtest"
	"github.com/kvops/operator/promclient"
	"github.com/kvops/operator/subject"
)

// shared is the real Prometheus the tests read through the transports:
// empty, since what is tested is what reaches it, started by the first
// test that asks and stopped by TestMain.
var shared struct {
	once sync.Once
	p    *promtest.Prometheus
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if shared.p != nil {
		shared.p.Stop()
	}
	os.Exit(code)
}

// prometheus returns the shared Prometheus' URL.
func prometheus(t *testing.T) string {
	t.Helper()
	promtest.Require(t)
	shared.once.Do(func() { shared.p, shared.err = promtest.StartShared("") })
	require.NoError(t, shared.err, "the shared Prometheus")
	return shared.p.URL
}

// storeMetrics reads one store's metrics from addr through rt: every
// family's query, concurrently. Prometheus holds no data, so a success
// has every value unknown and no error.
func storeMetrics(t *testing.T, addr string, rt http.RoundTripper, edit func(*promclient.Config)) error {
	t.Helper()
	cfg := promclient.Config{Address: addr, RoundTripper: rt}
	if edit != nil {
		edit(&cfg)
	}
	c, err := promclient.New(cfg)
	require.NoError(t, err)
	_, _, err = c.StoreMetrics(t.Context(), []subject.Store{{ID: 1, StatusAddress: "tikv-1:20180"}})
	return err
}

// recorder counts the requests it carries and keeps the last one's
// Authorization header.
type recorder struct {
	n    atomic.Int64
	auth atomic.Value
	next http.RoundTripper
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	r.n.Add(1)
	r.auth.Store(req.Header.Get("Authorization"))
	return r.next.RoundTrip(req)
}

// hangUp returns the address of a listener that closes every connection
// it accepts without answering: a Prometheus that cannot be read, on a
// port nothing else can take while the test runs.
func hangUp(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			_ = c.Close()
		}
	}()
	t.Cleanup(func() {
		_ = l.Close()
		<-done
	})
	return "http://" + l.Addr().String()
}
