package httpconfig

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/require"
)

// heldTransport answers each request when told to, counting how many are
// inside it at once.
type heldTransport struct {
	mu      sync.Mutex
	inside  int
	answers chan error
}

func (h *heldTransport) RoundTrip(*http.Request) (*http.Response, error) {
	h.mu.Lock()
	h.inside++
	h.mu.Unlock()
	err := <-h.answers
	h.mu.Lock()
	h.inside--
	h.mu.Unlock()
	if err != nil {
		return nil, err
	}
	return &http.Response{StatusCode: http.StatusOK, Body: http.NoBody}, nil
}

func (h *heldTransport) insideNow() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.inside
}

// TestSerialGate lets one request in at a time until one succeeds (a
// failed one does not open it), then all at once; with always set it stays
// shut, and a request waiting for its turn honours its context.
func TestSerialGate(t *testing.T) {
	errDown := errors.New("token endpoint down")
	for _, always := range []bool{false, true} {
		t.Run(map[bool]string{false: "opens", true: "always"}[always], func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				h := &heldTransport{answers: make(chan error)}
				g := newSerialGate(h, always)
				send := func(n int) chan error {
					done := make(chan error, n)
					for range n {
						go func() {
							req, _ := http.NewRequest(http.MethodGet, "http://prom/", nil)
							_, err := g.RoundTrip(req)
							done <- err
						}()
					}
					return done
				}
				done := send(3)
				synctest.Wait()
				require.Equal(t, 1, h.insideNow(), "one request inside before any succeeded")
				h.answers <- errDown // the first fails: the gate stays shut
				require.ErrorIs(t, <-done, errDown)
				synctest.Wait()
				require.Equal(t, 1, h.insideNow(), "still one at a time after a failure")
				h.answers <- nil
				require.NoError(t, <-done)
				synctest.Wait()
				require.Equal(t, 1, h.insideNow())
				h.answers <- nil
				require.NoError(t, <-done)

				// After a success: three more.
				done = send(3)
				synctest.Wait()
				want := 3
				if always {
					want = 1
				}
				require.Equal(t, want, h.insideNow())
				for range 3 {
					h.answers <- nil
					require.NoError(t, <-done)
				}
				if !always {
					return
				}
				// Shut: a request waiting for its turn gives up with its context.
				go func() {
					req, _ := http.NewRequest(http.MethodGet, "http://prom/", nil)
					_, _ = g.RoundTrip(req)
				}()
				synctest.Wait()
				ctx, cancel := context.WithCancel(t.Context())
				waiting := make(chan error, 1)
				go func() {
					req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://prom/", nil)
					_, err := g.RoundTrip(req)
					waiting <- err
				}()
				synctest.Wait()
				cancel()
				require.ErrorIs(t, <-waiting, context.Canceled)
				h.answers <- nil
			})
		})
	}
}
