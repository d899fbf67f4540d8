package main

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/kvops/operator/subject"
)

func TestRunPrintsCapabilities(t *testing.T) {
	var out bytes.Buffer
	require.NoError(t, run(&out))
	var caps subject.Capabilities
	require.NoError(t, json.Unmarshal(out.Bytes(), &caps))
	require.Equal(t, "tikv", caps.Subject)
	_, ok := caps.Action("transfer_leader")
	require.True(t, ok)
	require.NotEmpty(t, caps.Observations)
	require.NotEmpty(t, caps.SLOs)
}
