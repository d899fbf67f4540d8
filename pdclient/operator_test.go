package pdclient

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/stretchr/testify/require"

	"github.com/kvops/operator/subject"
)

// TestOperatorStatusFixtures reads the recorded answers of
// GET /operators/{region_id} through the client.
func TestOperatorStatusFixtures(t *testing.T) {
	tests := []struct {
		dir, name string
		region    uint64
		want      OperatorStatus
	}{
		{"pd-operators", "operator-status-running", 9, OperatorStatus{Status: OpRunning, Raw: "RUNNING", Desc: "admin-split-region",
			Brief: "split: region 9 use policy APPROXIMATE", Kind: "admin", RegionID: 9,
			CreateAt: "2026-12-01 19:58:24.425580545 +0000 UTC m=+22.393994282"}},
		{"pd-operators", "operator-status-canceled", 13, OperatorStatus{Status: OpCancel, Raw: "CANCEL", Desc: "admin-split-region",
			Brief: "split: region 13 use policy SCAN", Kind: "admin", RegionID: 13,
			CreateAt: "2026-12-01 19:58:24.940066009 +0000 UTC m=+22.908479727"}},
		{"pd-operators", "operator-status-timeout", 17, OperatorStatus{Status: OpTimeout, Raw: "TIMEOUT", Desc: "admin-split-region",
			Brief: "split: region 17 use policy APPROXIMATE", Kind: "admin", RegionID: 17,
			CreateAt: "2026-12-01 20:00:01.426506342 +0000 UTC m=+119.394920069"}},
		{"pd", "operator-region-9", 9, OperatorStatus{Status: OpSuccess, Raw: "SUCCESS", Desc: "admin-transfer-leader",
			Brief: "transfer leader: store 3 to 5", Kind: "admin,leader", RegionID: 9,
			CreateAt: "2026-11-27 12:36:18.060433882 +0000 UTC m=+111.636225562"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ex := loadExchange(t, tt.dir, tt.name)
			rs := newReplayServer(t, ex)
			c := newTestClient(t, rs.srv.URL)
			got, err := c.OperatorStatus(t.Context(), tt.region)
			require.NoError(t, err)
			if diff := cmp.Diff(tt.want, got, cmpopts.IgnoreFields(OperatorStatus{}, "Text")); diff != "" {
				t.Errorf("status (-want +got):\n%s", diff)
			}
			require.True(t, got.Admin())
			require.Equal(t, tt.want.Status == OpRunning, got.Pending())
		})
	}
	t.Run("none", func(t *testing.T) {
		rs := newReplayServer(t, loadExchange(t, "pd-operators", "operator-status-none"))
		_, err := newTestClient(t, rs.srv.URL).OperatorStatus(t.Context(), 9)
		require.ErrorIs(t, err, ErrNotFound)
	})
}

func TestParseOperatorStatus(t *testing.T) {
	// A scheduler's operator, shown for a region where an admin one ran
	// before (the "latest operator" trap of the recordings).
	o, err := ParseOperatorStatus("status: SUCCESS, operator: balance-leader-scheduler {transfer leader: store 5 to 2} (kind:leader, region:9(1, 1), createAt:2026-12-01 20:00:05 +0000 UTC, startAt:2026-12-01 20:00:05 +0000 UTC, currentStep:1, size:96, steps:[0:{transfer leader from store 5 to store 2}], timeout:[1m0s]) finished")
	require.NoError(t, err)
	require.False(t, o.Admin())
	require.Equal(t, "balance-leader-scheduler", o.Desc)
	// Not yet started: PD prints the bare number of its internal status.
	o, err = ParseOperatorStatus("status: 5, operator: admin-split-region {split: region 9 use policy SCAN} (kind:admin, region:9(1, 1), createAt:x, startAt:y, currentStep:0, size:96, steps:[0:{split region with policy SCAN}], timeout:[1m0s])")
	require.NoError(t, err)
	require.Equal(t, OpCreated, o.Status)
	require.Equal(t, "5", o.Raw)
	require.True(t, o.Pending())
	for _, bad := range []string{"", "RUNNING", "status: RUNNING", "status: WHAT, operator: a {b} (kind:admin)", "status: RUNNING, operator: no brief"} {
		_, err := ParseOperatorStatus(bad)
		require.ErrorIs(t, err, ErrBadResponse, "%q", bad)
		require.False(t, errors.Is(err, subject.ErrNotFound))
	}
}

func TestPendingOperatorsFixture(t *testing.T) {
	rs := newReplayServer(t, loadExchange(t, "pd-operators", "operators-object"))
	ops, err := newTestClient(t, rs.srv.URL).PendingOperators(t.Context())
	require.NoError(t, err)
	require.Len(t, ops, 6)
	require.Equal(t, PendingOperator{Desc: "admin-split-region", Brief: "split: region 9 use policy APPROXIMATE", RegionID: 9,
		RegionEpoch: RegionEpoch{ConfVer: 1, Version: 1}, Kind: 1, Timeout: "1m0s", Status: 1}, ops[4])
}

// TestRefusalsFixtures: PD's refusals of an operator are ErrPrecondition:
// nothing was changed.
func TestRefusalsFixtures(t *testing.T) {
	rs := newReplayServer(t, loadExchange(t, "pd-operators", "operator-transfer-to-evicted"))
	err := newTestClient(t, rs.srv.URL).TransferLeader(t.Context(), 9, 2)
	require.ErrorIs(t, err, ErrPrecondition)
	require.ErrorIs(t, err, subject.ErrPrecondition)
	require.NotErrorIs(t, err, ErrServer)
}
