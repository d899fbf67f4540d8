package pdclient

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/go-json-experiment/json/jsontext"
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

// storeAnswers are the recorded stores answers the decoding tests replay.
var storeAnswers = []struct{ dir, name string }{
	{"pd", "stores"}, {"pd", "stores-disconnected"}, {"pd", "stores-down"}, {"pd", "stores-evicting"},
	{"pd", "stores-check-down-after"}, {"pd-cluster", "stores-follower-leader-just-killed"}, {"pd-cluster", "stores-after-election"},
}

// requireStoresAsJSON checks that decodeStores reads body as encoding/json
// (decodeJSON) does: the same stores, or an error both times.
func requireStoresAsJSON(t *testing.T, c *Client, body []byte) {
	t.Helper()
	var want storesAnswer
	wantErr := decodeJSON(bytes.NewReader(body), &want)
	got, err := c.decodeStores(bytes.NewReader(body))
	if (err == nil) != (wantErr == nil) {
		t.Fatalf("decodeStores: %v; encoding/json: %v", err, wantErr)
	}
	if err != nil {
		return
	}
	require.Equal(t, want.Count, got.Count)
	wantStores, wantErr := want.stores()
	gotStores, err := got.stores()
	if (err == nil) != (wantErr == nil) {
		t.Fatalf("converting decodeStores': %v; encoding/json's: %v", err, wantErr)
	}
	if diff := cmp.Diff(wantStores, gotStores); diff != "" {
		t.Errorf("stores differ from encoding/json's (-json +decodeStores):\n%s", diff)
	}
}

// TestDecodeStoresAsJSON replays the recorded answers, and some that are
// not what PD writes, through the generated decoder and encoding/json.
func TestDecodeStoresAsJSON(t *testing.T) {
	c := newTestClient(t, "http://127.0.0.1:1")
	for _, tt := range storeAnswers {
		t.Run(tt.dir+"/"+tt.name, func(t *testing.T) {
			requireStoresAsJSON(t, c, responseBody(t, loadExchange(t, tt.dir, tt.name)))
		})
	}
	for name, body := range map[string]string{
		"invalid UTF-8":         "{\"stores\":[{\"store\":{\"id\":1,\"address\":\"a\xffb\"}}]}",
		"control character":     "{\"stores\":[{\"store\":{\"id\":1,\"address\":\"a\x01\"}}]}",
		"leading zero":          `{"stores":[{"store":{"id":01}}]}`,
		"bad skipped number":    `{"x":1.,"stores":[]}`,
		"bad escape, skipped":   `{"x":"\q","stores":[]}`,
		"id as a string":        `{"stores":[{"store":{"id":"1"}}]}`,
		"float count":           `{"count":1.5,"stores":[]}`,
		"bad time":              `{"stores":[{"status":{"start_ts":"yesterday"}}]}`,
		"repeated names":        `{"stores":[{"store":{"id":1,"id":2}}],"stores":[{"store":{"id":3}}]}`,
		"null stores":           `{"count":0,"stores":null}`,
		"truncated":             `{"count":1,"stores":[{"store":{"id":1`,
		"trailing data":         `{"stores":[]} {}`,
		"escapes in an address": `{"stores":[{"store":{"id":1,"address":"a\u00e9\n"}}]}`,
	} {
		t.Run(name, func(t *testing.T) { requireStoresAsJSON(t, c, []byte(body)) })
	}
}

// FuzzDecodeStores checks decodeStores against encoding/json on arbitrary
// stores answers: both accept with the same stores, or both refuse.
func FuzzDecodeStores(f *testing.F) {
	for _, tt := range storeAnswers[:3] {
		f.Add(responseBody(f, loadExchange(f, tt.dir, tt.name)))
	}
	f.Add([]byte(`{"count":1,"stores":[{"store":{"id":1,"labels":[{"key":"zone","value":"a"}]},"status":{"capacity":"1GiB","uptime":"1h","start_ts":"2024-01-01T00:00:00Z"}}]}`))
	c := newTestClient(f, "http://127.0.0.1:1")
	f.Fuzz(func(t *testing.T, body []byte) {
		if foldedName(body) {
			t.Skip("encoding/json matches names in any case; the generated decoder matches PD's")
		}
		requireStoresAsJSON(t, c, body)
	})
}

// foldedName reports whether a member name of the JSON in b is not plain
// lower-case ASCII, as every name of PD's stores answers is: encoding/json
// would match it to a field that the generated decoder, as PD's own, does
// not ("ID" for "id").
func foldedName(b []byte) bool {
	dec := jsontext.NewDecoder(bytes.NewReader(b), jsontext.AllowDuplicateNames(true), jsontext.AllowInvalidUTF8(true))
	for {
		tok, err := dec.ReadToken()
		if err != nil {
			return false
		}
		if kind, n := dec.StackIndex(dec.StackDepth()); tok.Kind() == '"' && kind == '{' && n%2 == 1 {
			name := tok.String()
			for i := range len(name) {
				if name[i] >= 0x80 || 'A' <= name[i] && name[i] <= 'Z' {
					return true
				}
			}
		}
	}
}
