package pdclient

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/kvops/operator/subject"
)

// TestUnavailableMatchesSubject: every way PD can be unavailable matches
// subject.ErrUnavailable as well as ErrUnavailable: PD's own 503, and a
// request that got no answer at all, here from an address where nothing
// listens.
func TestUnavailableMatchesSubject(t *testing.T) {
	require.ErrorIs(t, ErrUnavailable, subject.ErrUnavailable)
	require.ErrorIs(t, &APIError{Status: http.StatusServiceUnavailable, kind: classify(http.StatusServiceUnavailable, "", "no leader")}, subject.ErrUnavailable)
	require.NotErrorIs(t, &APIError{Status: http.StatusInternalServerError, kind: ErrServer}, subject.ErrUnavailable)

	c, err := New(Config{Endpoints: []string{deadEndpoint(t)}, MaxAttempts: 1})
	require.NoError(t, err)
	_, err = c.Stores(t.Context())
	var te *TransportError
	require.ErrorAs(t, err, &te)
	require.ErrorIs(t, err, ErrUnavailable)
	require.ErrorIs(t, err, subject.ErrUnavailable)
	require.NotErrorIs(t, err, subject.ErrNotFound)
}

// TestUnreachableCases: the other ways of not reaching PD match
// ErrUnavailable and subject.ErrUnavailable too: a connection closed
// without an answer, and a TLS handshake with a server the client does not
// trust.
func TestUnreachableCases(t *testing.T) {
	closer := newHTTPServer(t, func(w http.ResponseWriter, r *http.Request) {
		conn, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Errorf("hijack: %v", err)
			return
		}
		_ = conn.Close()
	})
	untrusted := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("request %s %s reached a server the client must not trust", r.Method, r.URL)
	}))
	t.Cleanup(untrusted.Close)
	for _, tt := range []struct {
		name, endpoint string
	}{
		{"connection closed without an answer", closer.URL},
		{"untrusted TLS server", untrusted.URL},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, err := New(Config{Endpoints: []string{tt.endpoint}, MaxAttempts: 1})
			require.NoError(t, err)
			t.Cleanup(c.CloseIdleConnections)
			_, err = c.Stores(t.Context())
			var te *TransportError
			require.ErrorAs(t, err, &te)
			require.ErrorIs(t, err, ErrUnavailable)
			require.ErrorIs(t, err, subject.ErrUnavailable)
			require.NotErrorIs(t, err, ErrTooLarge)
			require.ErrorContains(t, err, tt.endpoint)
		})
	}
}
