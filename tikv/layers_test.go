package tikv_test

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestLayers: importing tikv does not pull in the Docker client (nor
// OpenTelemetry, which it drags) — that is tikv/dockerlog's — nor etcd's
// client and gRPC — tikv/election's; the guard knows no election either;
// and pdclient does not import subject: the arrows between packages point
// down.
func TestLayers(t *testing.T) {
	goBin, err := exec.LookPath("go")
	require.NoError(t, err, "the go command runs the tests")
	for _, tt := range []struct {
		pkg    string
		banned []string
	}{
		{"github.com/kvops/operator/tikv", []string{"github.com/docker/", "go.opentelemetry.io/", "github.com/kvops/operator/tikv/dockerlog",
			"go.etcd.io/", "google.golang.org/grpc", "github.com/kvops/operator/tikv/election"}},
		{"github.com/kvops/operator/subject/guard", []string{"go.etcd.io/", "google.golang.org/grpc", "github.com/kvops/operator/tikv"}},
		{"github.com/kvops/operator/pdclient", []string{"github.com/kvops/operator/subject"}},
	} {
		out, err := exec.CommandContext(t.Context(), goBin, "list", "-deps", tt.pkg).Output()
		require.NoError(t, err, "go list -deps %s", tt.pkg)
		deps := strings.Fields(string(out))
		require.Contains(t, deps, tt.pkg)
		for _, d := range deps {
			for _, b := range tt.banned {
				if strings.HasPrefix(d, b) {
					t.Errorf("%s imports %s", tt.pkg, d)
				}
			}
		}
	}
}
