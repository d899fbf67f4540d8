package pdclient

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"
)

// TestStoreListOnePass checks that a list of stores decoded in one pass
// (storeWire) reads every recorded answer as Store's own UnmarshalJSON
// does.
func TestStoreListOnePass(t *testing.T) {
	for _, tt := range []struct{ dir, name string }{
		{"pd", "stores"}, {"pd", "stores-disconnected"}, {"pd", "stores-down"}, {"pd", "stores-evicting"},
		{"pd", "stores-check-down-after"}, {"pd-cluster", "stores-follower-leader-just-killed"}, {"pd-cluster", "stores-after-election"},
	} {
		t.Run(tt.dir+"/"+tt.name, func(t *testing.T) {
			body := responseBody(t, loadExchange(t, tt.dir, tt.name))
			var each struct {
				Stores []Store `json:"stores"`
			}
			require.NoError(t, json.Unmarshal(body, &each))
			require.NotEmpty(t, each.Stores)
			var a storesAnswer
			require.NoError(t, json.Unmarshal(body, &a))
			got, err := a.stores()
			require.NoError(t, err)
			if diff := cmp.Diff(each.Stores, got); diff != "" {
				t.Errorf("one pass (-per object +one pass):\n%s", diff)
			}
		})
	}
}

// TestStoreListBadSize checks that a bad size in a list is refused as in
// a single store.
func TestStoreListBadSize(t *testing.T) {
	body := []byte(`{"count":1,"stores":[{"store":{"id":1,"state_name":"Up"},"status":{"capacity":"lots"}}]}`)
	var a storesAnswer
	require.NoError(t, json.Unmarshal(body, &a))
	_, err := a.stores()
	var s Store
	wantErr := json.Unmarshal([]byte(`{"store":{"id":1,"state_name":"Up"},"status":{"capacity":"lots"}}`), &s)
	require.Error(t, wantErr)
	require.EqualError(t, err, wantErr.Error())
}
