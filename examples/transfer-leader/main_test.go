package main

import (
	"bytes"
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/kvops/operator/subject"
)

func TestRunSimulated(t *testing.T) {
	for _, dryRun := range []bool{false, true} {
		var out bytes.Buffer
		require.NoError(t, run(t.Context(), &out, "", 0, 0, dryRun))
		m := regexp.MustCompile(`moving the leader of region (\d+) from store (\d+) to store (\d+)`).FindStringSubmatch(out.String())
		require.NotNil(t, m, "output:\n%s", out.String())
		js := out.String()[strings.Index(out.String(), "{") : strings.LastIndex(out.String(), "}")+1]
		var res subject.Result
		require.NoError(t, json.Unmarshal([]byte(js), &res))
		require.Equal(t, "transfer_leader", res.Action)
		require.Equal(t, dryRun, res.DryRun)
		if dryRun {
			require.NotContains(t, out.String(), "PD now shows")
		} else {
			require.Contains(t, out.String(), "PD now shows region "+m[1]+" led from store "+m[3])
		}
	}
}

func TestRunRefusesAMissingRegion(t *testing.T) {
	var out bytes.Buffer
	err := run(t.Context(), &out, "", 999999, 1, false)
	require.ErrorIs(t, err, subject.ErrNotFound)
}
