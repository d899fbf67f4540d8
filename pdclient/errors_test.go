package pdclient

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/kvops/operator/subject"
)

func TestClassify(t *testing.T) {
	tests := []struct {
		status int
		body   string
		want   error
		code   string
	}{
		{404, `"[PD:region:ErrRegionNotFound]region 999999 not found"`, ErrNotFound, "PD:region:ErrRegionNotFound"},
		{500, `"[PD:region:ErrRegionNotFound]region 999999 not found"`, ErrNotFound, "PD:region:ErrRegionNotFound"},
		{500, `"\"[PD:core:ErrStoreNotFound]store 999 not found\"\n"`, ErrNotFound, "PD:core:ErrStoreNotFound"},
		{500, `"[PD:operator:ErrOperatorNotFound]operator not found"`, ErrNotFound, "PD:operator:ErrOperatorNotFound"},
		{400, `"config item no-such-key not found"`, ErrBadRequest, ""},
		{400, `{"code":"input","msg":"bad"}`, ErrBadRequest, "input"},
		{500, `"check policy nope is not supported"`, ErrBadRequest, ""},
		{500, `"region has no voter in store 4"`, ErrPrecondition, ""},
		{500, `"no operator step is built"`, ErrPrecondition, ""},
		{500, `"[PD:operator:ErrAddOperator]failed to add operator, maybe already have one"`, ErrPrecondition, "PD:operator:ErrAddOperator"},
		{500, `"cannot create operator: target leader is not allowed"`, ErrPrecondition, ""},
		{500, `"[PD:cluster:ErrNotBootstrapped]TiKV cluster not bootstrapped"`, ErrServer, "PD:cluster:ErrNotBootstrapped"},
		// A follower that could not forward to a leader (testdata/pd-redirect).
		{500, "[PD:apiutil:ErrRedirect]redirect failed\n", ErrUnavailable, "PD:apiutil:ErrRedirect"},
		{500, "redirect to not leader\n", ErrUnavailable, ""},
		{500, `"[PD:apiutil:ErrRedirectToNotLeader]redirect to not leader"`, ErrUnavailable, "PD:apiutil:ErrRedirectToNotLeader"},
		{404, `null`, ErrNotFound, ""},
	}
	for _, tt := range tests {
		t.Run(tt.body, func(t *testing.T) {
			msg, code := errorMessage([]byte(tt.body))
			require.Equal(t, tt.code, code)
			e := &APIError{Method: "GET", Path: "/x", Status: tt.status, Message: msg, Code: code,
				kind: classify(tt.status, code, msg)}
			require.ErrorIs(t, e, tt.want)
			require.Equal(t, tt.want, e.Kind())
			wrapped := errors.Join(errors.New("context"), e)
			require.ErrorIs(t, wrapped, tt.want)
		})
	}
}

func TestSentinelsMatchSubject(t *testing.T) {
	for _, tt := range []struct{ ours, theirs error }{
		{ErrNotFound, subject.ErrNotFound},
		{ErrBadRequest, subject.ErrInvalid},
		{ErrPrecondition, subject.ErrPrecondition},
	} {
		require.ErrorIs(t, tt.ours, tt.theirs)
		e := &APIError{Status: 500, kind: tt.ours}
		require.ErrorIs(t, e, tt.theirs)
		require.ErrorIs(t, e, tt.ours)
	}
	require.NotErrorIs(t, ErrServer, subject.ErrNotFound)
	require.NotErrorIs(t, &APIError{Status: 500, kind: ErrServer}, subject.ErrNotFound)
	require.NotErrorIs(t, ErrNotFound, subject.ErrInvalid)
}

func TestAPIErrorMessage(t *testing.T) {
	e := &APIError{Method: "POST", Path: "/pd/api/v1/operators", Status: 500,
		Message: "[PD:region:ErrRegionNotFound]region 999999 not found"}
	require.Equal(t, "pdclient: POST /pd/api/v1/operators: status 500: [PD:region:ErrRegionNotFound]region 999999 not found", e.Error())
	e = &APIError{Method: "DELETE", Path: "/pd/api/v1/schedulers/x", Status: 404}
	require.Equal(t, "pdclient: DELETE /pd/api/v1/schedulers/x: status 404: Not Found", e.Error())
	e = &APIError{Method: "GET", Endpoint: "https://pd-1:2379", Path: "/pd/api/v1/stores", Status: 500, Message: "oops"}
	require.Equal(t, "pdclient: GET https://pd-1:2379/pd/api/v1/stores: status 500: oops", e.Error())
}
