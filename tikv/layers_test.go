package tikv_test

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

const module = "github.com/kvops/operator/"

// heavy are the packages a program importing tikv must not link: the
// Docker client (and OpenTelemetry, which it drags), tikv/dockerlog's;
// prometheus/common/config, with oauth2, jwt, uuid, go-conntrack and
// client_golang's registry, promclient/httpconfig's; client_golang's v1 API
// and prometheus/common/model, which bring protobuf and json-iterator; and
// text/template, whose calls of methods by name make the linker keep every
// exported method (internal/bench/weight measures what each cost).
var heavy = []string{
	"github.com/docker/", "go.opentelemetry.io/", module + "tikv/dockerlog",
	"github.com/prometheus/common/config", module + "promclient/httpconfig", "golang.org/x/oauth2",
	"github.com/golang-jwt/", "github.com/google/uuid", "github.com/mwitkow/go-conntrack",
	"github.com/prometheus/client_golang/prometheus", "github.com/prometheus/procfs",
	"github.com/prometheus/client_golang/api/prometheus/v1", "github.com/prometheus/common/model",
	"google.golang.org/protobuf/", "github.com/json-iterator/", "text/template",
	// etcd's client and gRPC are tikv/election's.
	"go.etcd.io/", "google.golang.org/grpc", module + "tikv/election",
	// The operator's own metrics (client_golang's registry, above) are
	// tikv/opmetrics'.
	module + "tikv/opmetrics",
}

// metricsLib is client_golang's registry and metric types: the packages
// that report what they did (the evaluator, the guard, both clients) do
// it through hooks, and only tikv/opmetrics links it.
var metricsLib = []string{"github.com/prometheus/client_golang/prometheus", module + "tikv/opmetrics"}

// maxTikvDeps bounds the packages outside the standard library that
// importing tikv links (issue 23's target: 60; 22 when it was set).
const maxTikvDeps = 60

// TestLayers: importing tikv links none of the heavy packages and at most
// maxTikvDeps packages outside the standard library; no package that
// reports through hooks links the metrics library; subject and invariant
// link nothing outside the standard library but the module's own; the
// guard knows no election (nor etcd, nor tikv); pdclient does not import
// subject: the arrows between packages point down.
func TestLayers(t *testing.T) {
	goBin, err := exec.LookPath("go")
	require.NoError(t, err, "the go command runs the tests")
	for _, tt := range []struct {
		pkg      string
		banned   []string
		stdOnly  bool // nothing outside the standard library but this module
		maxOther int  // packages outside the standard library; 0: no bound
	}{
		{pkg: "tikv", banned: heavy, maxOther: maxTikvDeps},
		{pkg: "promclient", banned: heavy},
		{pkg: "pdclient", banned: append([]string{module + "subject"}, metricsLib...)},
		{pkg: "subject/guard", banned: append([]string{"go.etcd.io/", "google.golang.org/grpc", module + "tikv"}, metricsLib...)},
		{pkg: "subject", stdOnly: true},
		{pkg: "invariant", stdOnly: true},
	} {
		t.Run(tt.pkg, func(t *testing.T) {
			pkg := module + tt.pkg
			out, err := exec.CommandContext(t.Context(), goBin, "list", "-deps", "-f", "{{.ImportPath}} {{.Standard}}", pkg).Output()
			require.NoError(t, err, "go list -deps %s", pkg)
			var deps, other []string
			for line := range strings.Lines(string(out)) {
				path, std, _ := strings.Cut(strings.TrimSpace(line), " ")
				deps = append(deps, path)
				if std != "true" {
					other = append(other, path)
				}
			}
			require.Contains(t, deps, pkg)
			for _, d := range deps {
				for _, b := range tt.banned {
					if strings.HasPrefix(d, b) {
						t.Errorf("%s links %s", pkg, d)
					}
				}
			}
			for _, d := range other {
				if tt.stdOnly && !strings.HasPrefix(d, module) {
					t.Errorf("%s links %s, outside the standard library", pkg, d)
				}
			}
			if tt.maxOther > 0 && len(other) > tt.maxOther {
				t.Errorf("%s links %d packages outside the standard library, want at most %d:\n%s", pkg, len(other), tt.maxOther, strings.Join(other, "\n"))
			}
		})
	}
}
