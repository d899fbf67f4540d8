package pdclient

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// regionsAnswer is what encoding/json makes of a regions answer: the
// reference the streaming decoder must agree with.
type regionsAnswer struct {
	Count   int      `json:"count"`
	Regions []Region `json:"regions"`
}

// streamed is what the streaming decoder makes of an answer.
type streamed struct {
	Count    int
	HasCount bool
	Regions  []Region
}

// nilIsEmpty: the decoder reuses slices, so an absent or null array may come
// back as an empty non-nil slice where encoding/json gives nil.
var nilIsEmpty = cmpopts.EquateEmpty()

func cloneRegion(r *Region) Region {
	c := *r
	c.Peers = slices.Clone(r.Peers)
	c.DownPeers = slices.Clone(r.DownPeers)
	c.PendingPeers = slices.Clone(r.PendingPeers)
	return c
}

// decodeStream reads every region from r with Next, copying each.
func decodeStream(r io.Reader) (streamed, error) {
	d := NewRegionDecoder(r)
	var out streamed
	var reg Region
	for {
		err := d.Next(&reg)
		if err == io.EOF {
			break
		}
		if err != nil {
			out.Count, out.HasCount = d.Count()
			return out, err
		}
		out.Regions = append(out.Regions, cloneRegion(&reg))
	}
	out.Count, out.HasCount = d.Count()
	return out, nil
}

// readers gives the ways the tests feed an answer to the decoder: whole, one
// byte at a time, half reads, and data with the final io.EOF.
func readers(data []byte) map[string]io.Reader {
	return map[string]io.Reader{
		"whole":   bytes.NewReader(data),
		"onebyte": iotest.OneByteReader(bytes.NewReader(data)),
		"half":    iotest.HalfReader(bytes.NewReader(data)),
		"dataerr": iotest.DataErrReader(bytes.NewReader(data)),
	}
}

// requireSameAsJSON checks that the decoder gives what encoding/json gives
// for data, whichever way it is read.
func requireSameAsJSON(t *testing.T, data []byte) {
	t.Helper()
	requireSameAsJSONReading(t, data, readers(data))
}

// requireSameAsJSONReading is requireSameAsJSON with the given readers of data.
func requireSameAsJSONReading(t *testing.T, data []byte, readers map[string]io.Reader) {
	t.Helper()
	var want regionsAnswer
	if err := json.Unmarshal(data, &want); err != nil {
		t.Fatalf("encoding/json refuses the input: %v", err)
	}
	for name, r := range readers {
		got, err := decodeStream(r)
		if err != nil {
			t.Fatalf("%s: Next: %v", name, err)
		}
		if got.Count != want.Count {
			t.Errorf("%s: Count() = %d, encoding/json gives %d", name, got.Count, want.Count)
		}
		if diff := cmp.Diff(want.Regions, got.Regions, nilIsEmpty); diff != "" {
			t.Errorf("%s: regions differ from encoding/json (-json +stream):\n%s", name, diff)
		}
	}
}

func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// reorderKeys re-encodes an answer through maps, which sorts every object's
// keys, so the decoder sees PD's fields in another order.
func reorderKeys(t *testing.T, data []byte) []byte {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatal(err)
	}
	out, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestRegionDecoderFixtures(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "regionstream-*.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 10 {
		t.Fatalf("found %d fixtures in testdata, want the 10 regions answers", len(files))
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			data := readFixture(t, filepath.Base(file))
			t.Run("compact", func(t *testing.T) { requireSameAsJSON(t, data) })
			if len(data) > 64<<10 {
				// The large answers repeat one region shape: the small ones
				// cover the other layouts, faster.
				return
			}
			t.Run("indented", func(t *testing.T) {
				var buf bytes.Buffer
				if err := json.Indent(&buf, data, "\r", " \t\n"); err != nil {
					t.Fatal(err)
				}
				requireSameAsJSONReading(t, buf.Bytes(), map[string]io.Reader{
					"whole": bytes.NewReader(buf.Bytes()),
					"half":  iotest.HalfReader(bytes.NewReader(buf.Bytes())),
				})
			})
			t.Run("reordered", func(t *testing.T) {
				reordered := reorderKeys(t, data)
				requireSameAsJSONReading(t, reordered, map[string]io.Reader{
					"whole": bytes.NewReader(reordered),
					"half":  iotest.HalfReader(bytes.NewReader(reordered)),
				})
			})
		})
	}
}

// TestRegionDecoderFixtureValues checks some values of the recorded answer
// directly, not only through encoding/json.
func TestRegionDecoderFixtureValues(t *testing.T) {
	got, err := decodeStream(bytes.NewReader(readFixture(t, "regionstream-regions-all.json")))
	if err != nil {
		t.Fatal(err)
	}
	if !got.HasCount || got.Count != 2000 || len(got.Regions) != 2000 {
		t.Fatalf("count %d (read: %v), %d regions; want 2000 of each", got.Count, got.HasCount, len(got.Regions))
	}
	want := Region{
		ID:       5373,
		StartKey: "7480000000000000FF015F728000000000FF00053CFF00000000FB",
		EndKey:   "7480000000000000FF015F728000000000FF00053DFF00000000FB",
		Epoch:    RegionEpoch{ConfVer: 1, Version: 1},
		Peers: []Peer{
			{RoleName: "Voter", ID: 5370, StoreID: 5},
			{RoleName: "Voter", ID: 5371, StoreID: 3},
			{RoleName: "Voter", ID: 5372, StoreID: 4},
		},
		Leader:          Peer{RoleName: "Voter", ID: 5370, StoreID: 5},
		ApproximateSize: 96,
		ApproximateKeys: 960000,
	}
	if diff := cmp.Diff(want, got.Regions[0], nilIsEmpty); diff != "" {
		t.Errorf("first region (-want +got):\n%s", diff)
	}

	count, err := decodeStream(bytes.NewReader(readFixture(t, "regionstream-regions-count.json")))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(streamed{Count: 2000, HasCount: true}, count, nilIsEmpty); diff != "" {
		t.Errorf("/regions/count answer (-want +got):\n%s", diff)
	}
}

func TestRegionDecoderInputs(t *testing.T) {
	voter := func(id, store uint64) Peer { return Peer{RoleName: "Voter", ID: id, StoreID: store} }
	tests := []struct {
		name string
		in   string
		// want, when set, is checked as well as agreement with encoding/json.
		want *streamed
	}{
		{
			name: "count after regions",
			in:   `{"regions":[{"id":7}],"count":1}`,
			want: &streamed{Count: 1, HasCount: true, Regions: []Region{{ID: 7}}},
		},
		{
			name: "no count",
			in:   `{"regions":[{"id":7}]}`,
			want: &streamed{Regions: []Region{{ID: 7}}},
		},
		{name: "regions null", in: `{"count":0,"regions":null}`, want: &streamed{HasCount: true}},
		{name: "empty object", in: `{}`, want: &streamed{}},
		{name: "empty regions", in: `{"count":0,"regions":[]}`, want: &streamed{HasCount: true}},
		{
			name: "whitespace everywhere",
			in:   " \t\r\n{ \"count\" \n:\t2 ,\r\"regions\" : [ { \"id\" : 1 , \"peers\" : [ { \"id\" : 2 } ] } ,\n{ } ] } \n\t ",
			want: &streamed{Count: 2, HasCount: true, Regions: []Region{{ID: 1, Peers: []Peer{{ID: 2}}}, {}}},
		},
		{
			name: "escapes in strings",
			in:   `{"regions":[{"start_key":"a\"b\\c\/d\b\f\n\r\t\u0041\u00e9\u4e16\ud83d\ude00","end_key":"\u0000"}]}`,
			want: &streamed{Regions: []Region{{StartKey: "a\"b\\c/d\b\f\n\r\tAé世😀", EndKey: "\x00"}}},
		},
		{
			name: "invalid surrogates become U+FFFD",
			in:   `{"regions":[{"start_key":"\ud800x\udc00\ud800\u0041","end_key":"\ud83d"}]}`,
			want: &streamed{Regions: []Region{{StartKey: "\uFFFDx\uFFFD\uFFFDA", EndKey: "\uFFFD"}}},
		},
		{
			name: "invalid UTF-8 becomes U+FFFD",
			in:   "{\"regions\":[{\"start_key\":\"a\xffb\xc3\",\"end_key\":\"é\"}]}",
			want: &streamed{Regions: []Region{{StartKey: "a\uFFFDb\uFFFD", EndKey: "é"}}},
		},
		{
			name: "escaped keys",
			in:   `{"\u0063ount":3,"re\u0067ions":[{"\u0069d":4,"peers":[{"store_\u0069d":5}]}]}`,
			want: &streamed{Count: 3, HasCount: true, Regions: []Region{{ID: 4, Peers: []Peer{{StoreID: 5}}}}},
		},
		{
			name: "keys match case-insensitively as in encoding/json",
			in:   `{"COUNT":1,"Regions":[{"ID":4,"Start_Key":"a","\u212Aey":1,"epoch":{"CONF_VER":2},"peers":[{"Role_Name":"Learner","IS_LEARNER":true}]}]}`,
			want: &streamed{Count: 1, HasCount: true, Regions: []Region{{
				ID: 4, StartKey: "a", Epoch: RegionEpoch{ConfVer: 2},
				Peers: []Peer{{RoleName: "Learner", IsLearner: true}},
			}}},
		},
		{
			name: "kelvin sign and long s fold to k and s",
			in:   "{\"regions\":[{\"\u017Ftart_\u212Aey\":\"x\",\"read_\u212aey\u017f\":9}]}",
			want: &streamed{Regions: []Region{{StartKey: "x", ReadKeys: 9}}},
		},
		{
			name: "unknown keys of every type are skipped",
			in: `{"x":{"a":[1,-2.5e+3,true,false,null,"s\"\\",{}],"b":{"c":[[]]}},"regions":[` +
				`{"id":1,"u1":"str","u2":12.5E-2,"u3":[{"id":99}],"u4":{"id":99,"peers":[1]},"u5":true,"u6":null,"u7":-0,` +
				`"epoch":{"x":[],"version":3},"leader":{"q":{},"id":2},"down_peers":[{"z":0,"peer":{"w":"","id":5},"down_seconds":6}]}` +
				`],"y":[],"z":"\u00e9"}`,
			want: &streamed{Regions: []Region{{
				ID: 1, Epoch: RegionEpoch{Version: 3}, Leader: Peer{ID: 2},
				DownPeers: []PeerStat{{Peer: Peer{ID: 5}, DownSeconds: 6}},
			}}},
		},
		{
			name: "number limits",
			in: `{"count":-1,"regions":[{"id":18446744073709551615,"cpu_usage":0,"approximate_size":-9223372036854775808,` +
				`"approximate_keys":9223372036854775807,"approximate_kv_size":-0,"written_bytes":10000000000000000000}]}`,
			want: &streamed{Count: -1, HasCount: true, Regions: []Region{{
				ID: 18446744073709551615, ApproximateSize: -9223372036854775808,
				ApproximateKeys: 9223372036854775807, WrittenBytes: 10000000000000000000,
			}}},
		},
		{
			name: "nulls leave fields zero",
			in:   `{"count":null,"regions":[null,{"id":null,"start_key":null,"epoch":null,"peers":null,"leader":null,"down_peers":null,"approximate_size":null},{"id":1}]}`,
			want: &streamed{Regions: []Region{{}, {}, {ID: 1}}},
		},
		{
			name: "all fields",
			in: `{"count":1,"regions":[{"id":1,"start_key":"","end_key":"74","epoch":{"conf_ver":2,"version":3},` +
				`"peers":[{"role_name":"Voter","id":2,"store_id":1},{"role_name":"Learner","is_learner":true,"id":3,"store_id":2},{"role_name":"IncomingVoter","id":4,"store_id":3},{"role_name":"DemotingVoter","id":5,"store_id":4},{"role_name":"Witness","id":6,"store_id":5}],` +
				`"leader":{"role_name":"Voter","id":2,"store_id":1},"down_peers":[{"peer":{"role_name":"Voter","id":4,"store_id":3},"down_seconds":60}],` +
				`"pending_peers":[{"role_name":"Voter","id":5,"store_id":4}],"cpu_usage":7,"written_bytes":8,"read_bytes":9,"written_keys":10,"read_keys":11,` +
				`"approximate_size":12,"approximate_keys":13,"approximate_kv_size":14,"approximate_columnar_kv_size":15}]}`,
			want: &streamed{Count: 1, HasCount: true, Regions: []Region{{
				ID: 1, EndKey: "74", Epoch: RegionEpoch{ConfVer: 2, Version: 3},
				Peers: []Peer{voter(2, 1), {RoleName: "Learner", IsLearner: true, ID: 3, StoreID: 2},
					{RoleName: "IncomingVoter", ID: 4, StoreID: 3}, {RoleName: "DemotingVoter", ID: 5, StoreID: 4}, {RoleName: "Witness", ID: 6, StoreID: 5}},
				Leader:       voter(2, 1),
				DownPeers:    []PeerStat{{Peer: voter(4, 3), DownSeconds: 60}},
				PendingPeers: []Peer{voter(5, 4)},
				CPUUsage:     7, WrittenBytes: 8, ReadBytes: 9, WrittenKeys: 10, ReadKeys: 11,
				ApproximateSize: 12, ApproximateKeys: 13, ApproximateKvSize: 14, ApproximateColumnarKvSize: 15,
			}}},
		},
		{
			// Slices are reused between regions: nothing of a region may
			// leak into the next one.
			name: "nothing carries over between regions",
			in: `{"regions":[{"id":1,"start_key":"a","peers":[{"role_name":"Voter","id":1,"store_id":1},{"id":2,"is_learner":true}],"down_peers":[{"down_seconds":1}],"pending_peers":[{"id":3}],"leader":{"id":1}},` +
				`{"id":2,"peers":[{"store_id":9}]},{"id":3}]}`,
			want: &streamed{Regions: []Region{
				{ID: 1, StartKey: "a", Peers: []Peer{voter(1, 1), {ID: 2, IsLearner: true}}, DownPeers: []PeerStat{{DownSeconds: 1}}, PendingPeers: []Peer{{ID: 3}}, Leader: Peer{ID: 1}},
				{ID: 2, Peers: []Peer{{StoreID: 9}}},
				{ID: 3},
			}},
		},
		{
			// encoding/json decodes a repeated key into what the first left.
			name: "repeated keys merge as in encoding/json",
			in: `{"count":1,"count":2,"regions":[{"leader":{"id":1},"leader":{"store_id":2},"peers":[{"id":1},{"id":2}],"peers":[{"store_id":3}],` +
				`"peers":[{"role_name":"Voter"},{"role_name":"Learner"},{"id":4}],"epoch":{"version":1},"epoch":{"conf_ver":2}}]}`,
			want: &streamed{Count: 2, HasCount: true, Regions: []Region{{
				Leader: Peer{ID: 1, StoreID: 2},
				Peers:  []Peer{{RoleName: "Voter", ID: 1, StoreID: 3}, {RoleName: "Learner", ID: 2}, {ID: 4}},
				Epoch:  RegionEpoch{ConfVer: 2, Version: 1},
			}}},
		},
		{
			name: "repeated keys after null or [] start afresh",
			in:   `{"regions":[{"peers":[{"id":1}],"peers":null,"peers":[{"store_id":3}],"pending_peers":[{"id":1}],"pending_peers":[],"pending_peers":[{"store_id":2}]}]}`,
			want: &streamed{Regions: []Region{{Peers: []Peer{{StoreID: 3}}, PendingPeers: []Peer{{StoreID: 2}}}}},
		},
		{
			name: "a second regions key before any region",
			in:   `{"regions":null,"regions":[],"regions":[{"id":1}]}`,
			want: &streamed{Regions: []Region{{ID: 1}}},
		},
		{
			name: "a long string in an unknown key is skipped, not kept",
			in:   `{"big":"` + strings.Repeat("x", maxTokenLen+1) + `","regions":[{"id":1}]}`,
			want: &streamed{Regions: []Region{{ID: 1}}},
		},
		{
			name: "a string as long as allowed",
			in:   `{"regions":[{"start_key":"` + strings.Repeat("ab", maxTokenLen/2) + `"}]}`,
			want: &streamed{Regions: []Region{{StartKey: strings.Repeat("ab", maxTokenLen/2)}}},
		},
		{
			name: "deep nesting in an unknown key",
			in:   `{"deep":` + strings.Repeat(`[{"a":`, 2000) + `1` + strings.Repeat(`}]`, 2000) + `,"regions":[{"id":1}]}`,
			want: &streamed{Regions: []Region{{ID: 1}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			requireSameAsJSON(t, []byte(tt.in))
			if tt.want == nil {
				return
			}
			got, err := decodeStream(iotest.OneByteReader(strings.NewReader(tt.in)))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(*tt.want, got, nilIsEmpty); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestRegionDecoderErrors(t *testing.T) {
	tests := []struct {
		name     string
		in       string
		want     DecodeError // Err is checked with errors.Is
		regions  int         // regions returned before the error
		notValid bool        // encoding/json refuses the input too
	}{
		{name: "empty", in: "", want: DecodeError{Offset: 0, Expected: "'{' opening the regions answer", Found: "end of input", Err: io.ErrUnexpectedEOF}, notValid: true},
		{name: "only spaces", in: " \n", want: DecodeError{Offset: 2, Expected: "'{' opening the regions answer", Found: "end of input", Err: io.ErrUnexpectedEOF}, notValid: true},
		{name: "top-level array", in: `[{"id":1}]`, want: DecodeError{Offset: 0, Expected: "'{' opening the regions answer", Found: "an array"}, notValid: true},
		{name: "top-level string", in: ` "x"`, want: DecodeError{Offset: 1, Expected: "'{' opening the regions answer", Found: "a string"}, notValid: true},
		// encoding/json accepts null as an empty answer; a regions answer is never null.
		{name: "top-level null", in: `null`, want: DecodeError{Offset: 0, Expected: "'{' opening the regions answer", Found: "null"}},
		{name: "byte order mark", in: "\xef\xbb\xbf{}", want: DecodeError{Offset: 0, Expected: "'{' opening the regions answer", Found: "byte 0xEF"}, notValid: true},
		{name: "truncated in a region", in: `{"count":1,"regions":[{"id":1`, want: DecodeError{Offset: 29, Expected: "',' or '}' in a region", Found: "end of input", Err: io.ErrUnexpectedEOF}, notValid: true},
		{name: "truncated in a string", in: `{"regions":[{"start_key":"74`, want: DecodeError{Offset: 28, Expected: "the rest of a string", Found: "end of input", Err: io.ErrUnexpectedEOF}, notValid: true},
		{name: "truncated after the regions", in: `{"regions":[{"id":1}]`, want: DecodeError{Offset: 21, Expected: "',' or '}' in the regions answer", Found: "end of input", Err: io.ErrUnexpectedEOF}, regions: 1, notValid: true},
		{name: "truncated between regions", in: `{"regions":[{"id":1},`, want: DecodeError{Offset: 21, Expected: `an object for "regions"`, Found: "end of input", Err: io.ErrUnexpectedEOF}, regions: 1, notValid: true},
		{name: "truncated literal", in: `{"regions":[{"is_x":nul`, want: DecodeError{Offset: 23, Expected: `"null"`, Found: "end of input", Err: io.ErrUnexpectedEOF}, notValid: true},
		{name: "trailing garbage", in: `{"regions":[]}x`, want: DecodeError{Offset: 14, Expected: "end of input after the regions answer", Found: "'x'"}, notValid: true},
		{name: "two answers", in: `{"regions":[{"id":1}]} {}`, want: DecodeError{Offset: 23, Expected: "end of input after the regions answer", Found: "an object"}, regions: 1, notValid: true},
		{name: "count as a string", in: `{"count":"2000","regions":null}`, want: DecodeError{Offset: 9, Expected: `an integer for "count"`, Found: "a string"}, notValid: true},
		{name: "count with a fraction", in: `{"count":1e3}`, want: DecodeError{Offset: 9, Expected: `an integer for "count"`, Found: "a number with a fraction or exponent"}, notValid: true},
		{name: "count out of range", in: `{"count":9223372036854775808}`, want: DecodeError{Offset: 9, Expected: `an integer for "count"`, Found: "a number out of range"}, notValid: true},
		{name: "id as a string", in: `{"regions":[{"id":"5"}]}`, want: DecodeError{Offset: 18, Expected: `an unsigned integer for "id"`, Found: "a string"}, notValid: true},
		{name: "id past uint64", in: `{"regions":[{"id":18446744073709551616}]}`, want: DecodeError{Offset: 18, Expected: `an unsigned integer for "id"`, Found: "a number out of range"}, notValid: true},
		{name: "id far past uint64", in: `{"regions":[{"id":123456789012345678901234567890}]}`, want: DecodeError{Offset: 18, Expected: `an unsigned integer for "id"`, Found: "a number out of range"}, notValid: true},
		{name: "negative id", in: `{"regions":[{"id":-1}]}`, want: DecodeError{Offset: 18, Expected: `an unsigned integer for "id"`, Found: "a negative number"}, notValid: true},
		{name: "minus zero id", in: `{"regions":[{"id":-0}]}`, want: DecodeError{Offset: 18, Expected: `an unsigned integer for "id"`, Found: "a negative number"}, notValid: true},
		{name: "fractional store id", in: `{"regions":[{"peers":[{"store_id":1.5}]}]}`, want: DecodeError{Offset: 34, Expected: `an unsigned integer for "store_id"`, Found: "a number with a fraction or exponent"}, notValid: true},
		{name: "size past int64", in: `{"regions":[{"approximate_size":9223372036854775808}]}`, want: DecodeError{Offset: 32, Expected: `an integer for "approximate_size"`, Found: "a number out of range"}, notValid: true},
		{name: "size below int64", in: `{"regions":[{"approximate_size":-9223372036854775809}]}`, want: DecodeError{Offset: 32, Expected: `an integer for "approximate_size"`, Found: "a number out of range"}, notValid: true},
		{name: "leading zero", in: `{"regions":[{"id":01}]}`, want: DecodeError{Offset: 19, Expected: "',' or '}' in a region", Found: "a number"}, notValid: true},
		{name: "lone minus", in: `{"regions":[{"id":-}]}`, want: DecodeError{Offset: 19, Expected: "a digit", Found: "'}'"}, notValid: true},
		{name: "dot without digits", in: `{"x":1.}`, want: DecodeError{Offset: 7, Expected: "a digit", Found: "'}'"}, notValid: true},
		{name: "exponent without digits", in: `{"x":1e+}`, want: DecodeError{Offset: 8, Expected: "a digit", Found: "'}'"}, notValid: true},
		{name: "key as a number", in: `{"regions":[{"id":1,2:3}]}`, want: DecodeError{Offset: 20, Expected: "a key in a region", Found: "a number"}, notValid: true},
		{name: "unquoted key", in: `{count:1}`, want: DecodeError{Offset: 1, Expected: "a key in the regions answer", Found: "'c'"}, notValid: true},
		{name: "trailing comma", in: `{"count":1,}`, want: DecodeError{Offset: 11, Expected: "a key in the regions answer", Found: "'}'"}, notValid: true},
		{name: "missing colon", in: `{"count" 1}`, want: DecodeError{Offset: 9, Expected: "':' after a key", Found: "a number"}, notValid: true},
		{name: "control character in a string", in: "{\"regions\":[{\"start_key\":\"a\x01\"}]}", want: DecodeError{Offset: 27, Expected: "a string character (control characters must be escaped)", Found: "byte 0x01"}, notValid: true},
		{name: "bad escape", in: `{"regions":[{"start_key":"\q"}]}`, want: DecodeError{Offset: 27, Expected: "an escape character after '\\'", Found: "'q'"}, notValid: true},
		{name: "bad unicode escape", in: `{"regions":[{"start_key":"a\u12G4"}]}`, want: DecodeError{Offset: 27, Expected: `four hex digits after "\u"`, Found: "something else"}, notValid: true},
		{name: "bad escape in a skipped string", in: `{"x":"\x"}`, want: DecodeError{Offset: 7, Expected: "an escape character after '\\'", Found: "'x'"}, notValid: true},
		{name: "bad unicode escape in a skipped string", in: `{"x":"\u00Z0"}`, want: DecodeError{Offset: 10, Expected: `a hex digit after "\u"`, Found: "'Z'"}, notValid: true},
		{name: "bad array in an unknown key", in: `{"x":[1,2,]}`, want: DecodeError{Offset: 10, Expected: "a value", Found: "']'"}, notValid: true},
		{name: "unclosed object in an unknown key", in: `{"x":{"a":1]}`, want: DecodeError{Offset: 11, Expected: "',' or '}'", Found: "']'"}, notValid: true},
		{name: "missing colon in an unknown key", in: `{"x":{"a" 1}}`, want: DecodeError{Offset: 10, Expected: "':' after a key", Found: "a number"}, notValid: true},
		{name: "bad literal", in: `{"x":tru}`, want: DecodeError{Offset: 8, Expected: `"true"`, Found: "'}'"}, notValid: true},
		{name: "regions as an object", in: `{"regions":{}}`, want: DecodeError{Offset: 11, Expected: `an array for "regions"`, Found: "an object"}, notValid: true},
		{name: "region as a number", in: `{"regions":[1]}`, want: DecodeError{Offset: 12, Expected: `an object for "regions"`, Found: "a number"}, notValid: true},
		{name: "region not followed by a comma", in: `{"regions":[{} {}]}`, want: DecodeError{Offset: 15, Expected: "',' or ']' after a region", Found: "an object"}, regions: 1, notValid: true},
		{name: "peers as an object", in: `{"regions":[{"peers":{}}]}`, want: DecodeError{Offset: 21, Expected: `an array for "peers"`, Found: "an object"}, notValid: true},
		{name: "peer as a string", in: `{"regions":[{"peers":["Voter"]}]}`, want: DecodeError{Offset: 22, Expected: `an object for "peers"`, Found: "a string"}, notValid: true},
		{name: "peers not separated", in: `{"regions":[{"peers":[{} {}]}]}`, want: DecodeError{Offset: 25, Expected: `',' or ']' in "peers"`, Found: "an object"}, notValid: true},
		{name: "leader as an array", in: `{"regions":[{"leader":[]}]}`, want: DecodeError{Offset: 22, Expected: `an object for "leader"`, Found: "an array"}, notValid: true},
		{name: "epoch as a number", in: `{"regions":[{"epoch":1}]}`, want: DecodeError{Offset: 21, Expected: `an object for "epoch"`, Found: "a number"}, notValid: true},
		{name: "is_learner as a number", in: `{"regions":[{"peers":[{"is_learner":1}]}]}`, want: DecodeError{Offset: 36, Expected: `a boolean for "is_learner"`, Found: "a number"}, notValid: true},
		{name: "role_name as a boolean", in: `{"regions":[{"leader":{"role_name":true}}]}`, want: DecodeError{Offset: 35, Expected: `a string for "role_name"`, Found: "a boolean"}, notValid: true},
		{name: "start_key as a number", in: `{"regions":[{"start_key":7}]}`, want: DecodeError{Offset: 25, Expected: `a string for "start_key"`, Found: "a number"}, notValid: true},
		{name: "down peer as a number", in: `{"regions":[{"down_peers":[{"peer":3}]}]}`, want: DecodeError{Offset: 35, Expected: `an object for "peer"`, Found: "a number"}, notValid: true},
		{
			name: "second regions array after regions were returned",
			in:   `{"regions":[{"id":1}],"regions":[{"id":2}]}`,
			want: DecodeError{Offset: 32, Expected: expectNoDuplicateRegions, Found: `a second "regions"`}, regions: 1,
		},
		{
			name: "string past the limit",
			in:   `{"regions":[{"start_key":"` + strings.Repeat("a", maxTokenLen+1) + `"}]}`,
			want: DecodeError{Offset: 26, Expected: "a string of at most 1048576 bytes", Found: "a longer string"},
		},
		{
			name: "key past the limit",
			in:   `{"` + strings.Repeat("\\u0041", maxTokenLen/6+1) + `":1}`,
			want: DecodeError{Offset: 2, Expected: "a string of at most 1048576 bytes", Found: "a longer string"},
		},
		{
			name:     "nesting past the limit",
			in:       `{"x":` + strings.Repeat("[", maxSkipDepth+1) + strings.Repeat("]", maxSkipDepth+1) + `}`,
			want:     DecodeError{Offset: 5 + maxSkipDepth, Expected: "at most 10000 levels of nesting", Found: "an array"},
			notValid: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.notValid {
				var v regionsAnswer
				if err := json.Unmarshal([]byte(tt.in), &v); err == nil {
					t.Fatalf("encoding/json accepts %q; the case must be invalid", tt.in)
				}
			}
			for name, r := range readers([]byte(tt.in)) {
				got, err := decodeStream(r)
				var de *DecodeError
				if !errors.As(err, &de) {
					t.Fatalf("%s: error %v (%T), want a *DecodeError", name, err, err)
				}
				if diff := cmp.Diff(tt.want, *de, cmpopts.IgnoreFields(DecodeError{}, "Err")); diff != "" {
					t.Errorf("%s: error (-want +got):\n%s", name, diff)
				}
				if tt.want.Err != nil && !errors.Is(err, tt.want.Err) {
					t.Errorf("%s: errors.Is(%v, %v) = false", name, err, tt.want.Err)
				}
				if tt.want.Err == nil && de.Err != nil {
					t.Errorf("%s: error wraps %v, want nothing", name, de.Err)
				}
				if len(got.Regions) != tt.regions {
					t.Errorf("%s: %d regions before the error, want %d", name, len(got.Regions), tt.regions)
				}
			}
		})
	}
}

// TestRegionDecoderErrorIsSticky checks that Next keeps returning its error
// and that All yields it once.
func TestRegionDecoderErrorIsSticky(t *testing.T) {
	const in = `{"regions":[{"id":1},{"id":"x"},{"id":3}]}`
	d := NewRegionDecoder(strings.NewReader(in))
	var r Region
	if err := d.Next(&r); err != nil || r.ID != 1 {
		t.Fatalf("first Next: region %d, error %v", r.ID, err)
	}
	first := d.Next(&r)
	var de *DecodeError
	if !errors.As(first, &de) {
		t.Fatalf("second Next: %v, want a *DecodeError", first)
	}
	if again := d.Next(&r); again != first {
		t.Errorf("third Next: %v, want the same error %v", again, first)
	}

	var ids []uint64
	var errs []error
	for r, err := range NewRegionDecoder(strings.NewReader(in)).All() {
		if err != nil {
			errs = append(errs, err)
			continue
		}
		ids = append(ids, r.ID)
	}
	if diff := cmp.Diff([]uint64{1}, ids); diff != "" {
		t.Errorf("All: ids (-want +got):\n%s", diff)
	}
	if len(errs) != 1 || !errors.As(errs[0], &de) {
		t.Errorf("All: errors %v, want one *DecodeError", errs)
	}
}

func TestRegionDecoderAll(t *testing.T) {
	data := readFixture(t, "regionstream-regions-all.json")
	var want regionsAnswer
	if err := json.Unmarshal(data, &want); err != nil {
		t.Fatal(err)
	}
	d := NewRegionDecoder(bytes.NewReader(data))
	var got []Region
	for r, err := range d.All() {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, cloneRegion(r))
	}
	if diff := cmp.Diff(want.Regions, got, nilIsEmpty); diff != "" {
		t.Errorf("All (-json +stream):\n%s", diff)
	}
	if n, ok := d.Count(); !ok || n != want.Count {
		t.Errorf("Count() = %d, %v; want %d, true", n, ok, want.Count)
	}

	// Breaking out of the loop stops the iteration; the decoder carries on
	// from there.
	d = NewRegionDecoder(bytes.NewReader(data))
	for range d.All() {
		break
	}
	var next Region
	if err := d.Next(&next); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want.Regions[1], next, nilIsEmpty); diff != "" {
		t.Errorf("region after breaking out of All (-want +got):\n%s", diff)
	}
}

// TestRegionDecoderCountBeforeRegions checks that PD's count is known as
// soon as the first region is.
func TestRegionDecoderCountBeforeRegions(t *testing.T) {
	d := NewRegionDecoder(bytes.NewReader(readFixture(t, "regionstream-regions-store-1-limit3.json")))
	if _, ok := d.Count(); ok {
		t.Fatal("Count() known before anything was read")
	}
	var r Region
	if err := d.Next(&r); err != nil {
		t.Fatal(err)
	}
	if n, ok := d.Count(); !ok || n != 1002 {
		t.Errorf("Count() = %d, %v after the first region; want 1002, true", n, ok)
	}
}

// TestRegionDecoderTruncated cuts a real answer at every byte: each cut must
// be an error that says the input ended, and only the whole answer decodes.
func TestRegionDecoderTruncated(t *testing.T) {
	data := readFixture(t, "regionstream-regions-key-limit5.json")
	for n := range len(data) {
		_, err := decodeStream(bytes.NewReader(data[:n]))
		var de *DecodeError
		if !errors.As(err, &de) || !errors.Is(err, io.ErrUnexpectedEOF) || de.Offset != int64(n) {
			t.Fatalf("cut at %d bytes: %v; want a *DecodeError at byte %d wrapping io.ErrUnexpectedEOF", n, err, n)
		}
	}
	got, err := decodeStream(bytes.NewReader(data))
	if err != nil || len(got.Regions) != 5 {
		t.Fatalf("whole answer: %d regions, error %v; want 5 regions", len(got.Regions), err)
	}
}

// TestRegionDecoderReadErrors checks that a failing reader gives a
// *DecodeError wrapping the reader's error.
func TestRegionDecoderReadErrors(t *testing.T) {
	data := readFixture(t, "regionstream-regions-key-limit5.json")
	readFail := errors.New("connection reset")
	tests := []struct {
		name string
		r    io.Reader
		want error
	}{
		{name: "timeout on the second read", r: iotest.TimeoutReader(iotest.OneByteReader(bytes.NewReader(data))), want: iotest.ErrTimeout},
		{name: "error mid-answer", r: io.MultiReader(bytes.NewReader(data[:100]), iotest.ErrReader(readFail)), want: readFail},
		{name: "error after the answer", r: io.MultiReader(bytes.NewReader(data), iotest.ErrReader(readFail)), want: readFail},
		{name: "reader that never progresses", r: emptyReader{}, want: io.ErrNoProgress},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := decodeStream(tt.r)
			var de *DecodeError
			if !errors.As(err, &de) || !errors.Is(err, tt.want) || de.Found != "a read error" {
				t.Fatalf("error %v, want a *DecodeError for a read error wrapping %v", err, tt.want)
			}
		})
	}
}

// emptyReader returns no data and no error, forever.
type emptyReader struct{}

func (emptyReader) Read([]byte) (int, error) { return 0, nil }

// TestRegionDecoderReusesMemory checks that, in steady state, decoding a
// region allocates only its two key strings.
func TestRegionDecoderReusesMemory(t *testing.T) {
	data := readFixture(t, "regionstream-regions-all.json")
	d := NewRegionDecoder(bytes.NewReader(data))
	var r Region
	if err := d.Next(&r); err != nil {
		t.Fatal(err)
	}
	allocs := testing.AllocsPerRun(1000, func() {
		if err := d.Next(&r); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 2 {
		t.Errorf("%.1f allocations per region, want at most 2 (start_key and end_key)", allocs)
	}
}

func TestDecodeErrorMessage(t *testing.T) {
	err := error(&DecodeError{Offset: 18, Expected: `an unsigned integer for "id"`, Found: "end of input", Err: io.ErrUnexpectedEOF})
	want := `pdclient: decoding regions at byte 18: expected an unsigned integer for "id", found end of input: unexpected EOF`
	if got := err.Error(); got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

// TestPlainPrefix checks the eight-bytes-at-a-time scan against a byte at a
// time, for every pair of byte values at several places in a word.
func TestPlainPrefix(t *testing.T) {
	naive := func(b []byte) int {
		for i, c := range b {
			if c == '"' || c == '\\' || c < ' ' || c >= 0x80 {
				return i
			}
		}
		return len(b)
	}
	buf := make([]byte, 20)
	for _, places := range [][2]int{{0, 1}, {3, 4}, {0, 7}, {6, 7}, {2, 5}, {7, 8}, {9, 17}} {
		for c1 := range 256 {
			for c2 := range 256 {
				for i := range buf {
					buf[i] = 'a'
				}
				buf[places[0]], buf[places[1]] = byte(c1), byte(c2)
				if got, want := plainPrefix(buf), naive(buf); got != want {
					t.Fatalf("plainPrefix(%q) = %d, want %d", buf, got, want)
				}
			}
		}
	}
	if got := plainPrefix([]byte("7480000000000000FF015F728000000000FF00053CFF00000000FB\",")); got != 54 {
		t.Errorf("plainPrefix of a PD key = %d, want 54", got)
	}
}
