package needs_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/kvops/operator/internal/needs"
)

func TestMissing(t *testing.T) {
	for _, tt := range []struct {
		ci           string
		skip, failed bool
	}{
		{"", true, false},
		{"false", true, false},
		{"true", false, true},
	} {
		t.Run("CI="+tt.ci, func(t *testing.T) {
			t.Setenv("CI", tt.ci)
			var f needs.RecordingTB
			needs.Missing(&f, errors.New("prometheus not found"))
			if f.DidSkip != tt.skip || f.DidFail != tt.failed || !strings.Contains(f.Msg, "prometheus not found") {
				t.Errorf("got %+v, want skipped %v failed %v with the reason", f, tt.skip, tt.failed)
			}
		})
	}
}
