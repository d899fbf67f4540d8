package rules_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kvops/operator/internal/promtest"
	"github.com/kvops/operator/invariant"
	"github.com/kvops/operator/promclient"
	"github.com/kvops/operator/promclient/rules"
)

// TestOfficialRuleFiles loads TiKV's and PD's own rule files
// (metrics/alertmanager/tikv.rules.yml in tikv/tikv, pd.rules.yml in
// tikv/pd) from the directory KVOPS_OFFICIAL_RULES names, and evaluates
// every rule once against a real, empty Prometheus: each must load, and
// each expression must run. The files are not copied into this project;
// without the variable the test skips.
func TestOfficialRuleFiles(t *testing.T) {
	dir := os.Getenv("KVOPS_OFFICIAL_RULES")
	if dir == "" {
		t.Skip("KVOPS_OFFICIAL_RULES is not set: put tikv.rules.yml and pd.rules.yml from tikv/tikv and tikv/pd in a directory and name it")
	}
	p := promtest.Start(t)
	cfg := promclient.DefaultConfig()
	cfg.Address = p.URL
	c, err := promclient.New(cfg)
	require.NoError(t, err)
	for _, name := range []string{"tikv.rules.yml", "pd.rules.yml"} {
		set, err := rules.Load(rules.Config{Prometheus: c}, filepath.Join(dir, name))
		require.NoError(t, err, name)
		invs := set.Invariants()
		t.Logf("%s: %d alerting rules", name, len(invs))
		require.NotEmpty(t, invs)
		ev, err := invariant.New(invs, invariant.Config{})
		require.NoError(t, err)
		rep, err := ev.Evaluate(t.Context(), time.Now())
		require.NoError(t, err)
		require.Empty(t, rep.Errors, name)
		require.Empty(t, rep.Violations, name)
	}
}
