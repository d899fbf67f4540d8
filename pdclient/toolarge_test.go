package pdclient

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestResponseSizeCapBoundary serves a stores answer of a known size and
// checks that a cap at its size lets it through and a cap one byte under
// fails with ErrTooLarge, which is not ErrUnavailable (PD answered): the
// same meaning as promclient's TestResponseSizeCap.
func TestResponseSizeCapBoundary(t *testing.T) {
	const answer = `{"count":0,"stores":[]}`
	body := answer + strings.Repeat(" ", 4096-len(answer))
	srv := newHTTPServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(body))
	})
	tests := []struct {
		name    string
		max     int64
		tooLong bool
	}{
		{"one byte under", 4095, true},
		{"far under", 100, true},
		{"exactly", 4096, false},
		{"default", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := New(Config{Endpoints: []string{srv.URL}, MaxResponseBytes: tt.max, MaxAttempts: 1})
			require.NoError(t, err)
			t.Cleanup(c.CloseIdleConnections)
			got, err := c.Stores(t.Context())
			if !tt.tooLong {
				require.NoError(t, err)
				require.Empty(t, got)
				return
			}
			require.ErrorIs(t, err, ErrTooLarge)
			require.False(t, errors.Is(err, ErrUnavailable), "an oversized answer is not an unreachable PD: %v", err)
			require.Nil(t, got)
		})
	}
}
