package pdclient

import (
	"net/http"
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
