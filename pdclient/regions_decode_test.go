package pdclient

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/mailru/easyjson"
	"github.com/mailru/easyjson/jlexer"
)

// nilIsEmpty: an absent or null array may come back as an empty slice on one
// side and nil on the other.
var nilIsEmpty = cmpopts.EquateEmpty()

// decodeAll reads every region of an answer with decodeRegions, into a
// buffer that holds garbage from an earlier answer.
func decodeAll(r io.Reader) ([]Region, error) {
	buf := bytes.Repeat([]byte(`{"regions":[{"id":99,"start_key":"ff"}]}`), 4)
	got, _, err := decodeRegions(r, buf)
	if err != nil && got != nil {
		return got, errors.New("decodeRegions returned regions with its error")
	}
	return got, err
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
func requireSameAsJSON(t *testing.T, data []byte, readers map[string]io.Reader) {
	t.Helper()
	var want regionsAnswer
	if err := json.Unmarshal(data, &want); err != nil {
		t.Fatalf("encoding/json refuses the input: %v", err)
	}
	for name, r := range readers {
		got, err := decodeAll(r)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if diff := cmp.Diff(want.Regions, got, nilIsEmpty); diff != "" {
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

// TestDecodeRegionsFixtures replays PD's recorded regions answers, compact,
// indented and with their keys reordered, read whole and in pieces: the
// regions are those encoding/json finds.
func TestDecodeRegionsFixtures(t *testing.T) {
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
			t.Run("compact", func(t *testing.T) { requireSameAsJSON(t, data, readers(data)) })
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
				requireSameAsJSON(t, buf.Bytes(), map[string]io.Reader{
					"whole": bytes.NewReader(buf.Bytes()),
					"half":  iotest.HalfReader(bytes.NewReader(buf.Bytes())),
				})
			})
			t.Run("reordered", func(t *testing.T) {
				reordered := reorderKeys(t, data)
				requireSameAsJSON(t, reordered, map[string]io.Reader{
					"whole": bytes.NewReader(reordered),
					"half":  iotest.HalfReader(bytes.NewReader(reordered)),
				})
			})
		})
	}
}

// TestDecodeRegionsFixtureValues checks some values of the recorded answers
// directly, not only through encoding/json.
func TestDecodeRegionsFixtureValues(t *testing.T) {
	got, err := decodeAll(bytes.NewReader(readFixture(t, "regionstream-regions-all.json")))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2000 {
		t.Fatalf("%d regions, want 2000", len(got))
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
	if diff := cmp.Diff(want, got[0], nilIsEmpty); diff != "" {
		t.Errorf("first region (-want +got):\n%s", diff)
	}

	// /regions/count answers {"count":2000,"regions":null}.
	count, err := decodeAll(bytes.NewReader(readFixture(t, "regionstream-regions-count.json")))
	if err != nil || len(count) != 0 {
		t.Errorf("/regions/count answer: %d regions, error %v; want none", len(count), err)
	}
}

func TestDecodeRegionsInputs(t *testing.T) {
	voter := func(id, store uint64) Peer { return Peer{RoleName: "Voter", ID: id, StoreID: store} }
	tests := []struct {
		name string
		in   string
		want []Region
	}{
		{name: "count after regions", in: `{"regions":[{"id":7}],"count":1}`, want: []Region{{ID: 7}}},
		{name: "no count", in: `{"regions":[{"id":7}]}`, want: []Region{{ID: 7}}},
		{name: "regions null", in: `{"count":0,"regions":null}`},
		{name: "empty object", in: `{}`},
		{name: "empty regions", in: `{"count":0,"regions":[]}`},
		{
			name: "whitespace everywhere",
			in:   " \t\r\n{ \"count\" \n:\t2 ,\r\"regions\" : [ { \"id\" : 1 , \"peers\" : [ { \"id\" : 2 } ] } ,\n{ } ] } \n\t ",
			want: []Region{{ID: 1, Peers: []Peer{{ID: 2}}}, {}},
		},
		{
			name: "escapes in strings",
			in:   `{"regions":[{"start_key":"a\"b\\c\/d\b\f\n\r\t\u0041\u00e9\u4e16\ud83d\ude00","end_key":"\u0000"}]}`,
			want: []Region{{StartKey: "a\"b\\c/d\b\f\n\r\tAé世😀", EndKey: "\x00"}},
		},
		{
			name: "escaped keys",
			in:   `{"\u0063ount":3,"re\u0067ions":[{"\u0069d":4,"peers":[{"store_\u0069d":5}]}]}`,
			want: []Region{{ID: 4, Peers: []Peer{{StoreID: 5}}}},
		},
		{
			name: "unknown keys of every type are skipped",
			in: `{"x":{"a":[1,-2.5e+3,true,false,null,"s\"\\",{}],"b":{"c":[[]]}},"regions":[` +
				`{"id":1,"u1":"str","u2":12.5E-2,"u3":[{"id":99}],"u4":{"id":99,"peers":[1]},"u5":true,"u6":null,"u7":-0,` +
				`"epoch":{"x":[],"version":3},"leader":{"q":{},"id":2},"down_peers":[{"z":0,"peer":{"w":"","id":5},"down_seconds":6}]}` +
				`],"y":[],"z":"\u00e9"}`,
			want: []Region{{
				ID: 1, Epoch: RegionEpoch{Version: 3}, Leader: Peer{ID: 2},
				DownPeers: []PeerStat{{Peer: Peer{ID: 5}, DownSeconds: 6}},
			}},
		},
		{
			name: "number limits",
			in: `{"count":-1,"regions":[{"id":18446744073709551615,"cpu_usage":0,"approximate_size":-9223372036854775808,` +
				`"approximate_keys":9223372036854775807,"approximate_kv_size":-0,"written_bytes":10000000000000000000}]}`,
			want: []Region{{
				ID: 18446744073709551615, ApproximateSize: -9223372036854775808,
				ApproximateKeys: 9223372036854775807, WrittenBytes: 10000000000000000000,
			}},
		},
		{
			name: "nulls leave fields zero",
			in:   `{"count":null,"regions":[null,{"id":null,"start_key":null,"epoch":null,"peers":null,"leader":null,"down_peers":null,"approximate_size":null},{"id":1}]}`,
			want: []Region{{}, {}, {ID: 1}},
		},
		{
			name: "all fields",
			in: `{"count":1,"regions":[{"id":1,"start_key":"","end_key":"74","epoch":{"conf_ver":2,"version":3},` +
				`"peers":[{"role_name":"Voter","id":2,"store_id":1},{"role_name":"Learner","is_learner":true,"id":3,"store_id":2},{"role_name":"IncomingVoter","id":4,"store_id":3},{"role_name":"DemotingVoter","id":5,"store_id":4},{"role_name":"Witness","id":6,"store_id":5}],` +
				`"leader":{"role_name":"Voter","id":2,"store_id":1},"down_peers":[{"peer":{"role_name":"Voter","id":4,"store_id":3},"down_seconds":60}],` +
				`"pending_peers":[{"role_name":"Voter","id":5,"store_id":4}],"cpu_usage":7,"written_bytes":8,"read_bytes":9,"written_keys":10,"read_keys":11,` +
				`"approximate_size":12,"approximate_keys":13,"approximate_kv_size":14,"approximate_columnar_kv_size":15}]}`,
			want: []Region{{
				ID: 1, EndKey: "74", Epoch: RegionEpoch{ConfVer: 2, Version: 3},
				Peers: []Peer{voter(2, 1), {RoleName: "Learner", IsLearner: true, ID: 3, StoreID: 2},
					{RoleName: "IncomingVoter", ID: 4, StoreID: 3}, {RoleName: "DemotingVoter", ID: 5, StoreID: 4}, {RoleName: "Witness", ID: 6, StoreID: 5}},
				Leader:       voter(2, 1),
				DownPeers:    []PeerStat{{Peer: voter(4, 3), DownSeconds: 60}},
				PendingPeers: []Peer{voter(5, 4)},
				CPUUsage:     7, WrittenBytes: 8, ReadBytes: 9, WrittenKeys: 10, ReadKeys: 11,
				ApproximateSize: 12, ApproximateKeys: 13, ApproximateKvSize: 14, ApproximateColumnarKvSize: 15,
			}},
		},
		{
			name: "nothing carries over between regions",
			in: `{"regions":[{"id":1,"start_key":"a","peers":[{"role_name":"Voter","id":1,"store_id":1},{"id":2,"is_learner":true}],"down_peers":[{"down_seconds":1}],"pending_peers":[{"id":3}],"leader":{"id":1}},` +
				`{"id":2,"peers":[{"store_id":9}]},{"id":3}]}`,
			want: []Region{
				{ID: 1, StartKey: "a", Peers: []Peer{voter(1, 1), {ID: 2, IsLearner: true}}, DownPeers: []PeerStat{{DownSeconds: 1}}, PendingPeers: []Peer{{ID: 3}}, Leader: Peer{ID: 1}},
				{ID: 2, Peers: []Peer{{StoreID: 9}}},
				{ID: 3},
			},
		},
		{name: "second regions array", in: `{"regions":[{"id":1},{"id":3}],"regions":[{"id":2}]}`, want: []Region{{ID: 2}}},
		{
			name: "repeated names: the last wins, a null keeps the earlier value",
			in:   `{"regions":[{"id":1,"id":2,"leader":{"id":3},"leader":null,"epoch":{"version":1},"epoch":{"conf_ver":2},"peers":[{"id":3}],"peers":[{"id":4}]}]}`,
			want: []Region{{ID: 2, Leader: Peer{ID: 3}, Epoch: RegionEpoch{ConfVer: 2, Version: 1}, Peers: []Peer{{ID: 4}}}},
		},
		{
			name: "deep nesting in an unknown key",
			in:   `{"deep":` + strings.Repeat(`[{"a":`, 2000) + `1` + strings.Repeat(`}]`, 2000) + `,"regions":[{"id":1}]}`,
			want: []Region{{ID: 1}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			requireSameAsJSON(t, []byte(tt.in), readers([]byte(tt.in)))
			got, err := decodeAll(iotest.OneByteReader(strings.NewReader(tt.in)))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got, nilIsEmpty); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			strict, err := decodeStrict([]byte(tt.in))
			if err != nil {
				t.Fatalf("decodeStrict: %v", err)
			}
			if diff := cmp.Diff(tt.want, strict, nilIsEmpty); diff != "" {
				t.Errorf("decodeStrict (-want +got):\n%s", diff)
			}
		})
	}
}

// isDecodeError reports whether err is one of the decoder's typed errors for
// bad input.
func isDecodeError(err error) bool {
	var se *jsontext.SyntacticError
	var me *jsonv2.SemanticError
	return errors.As(err, &se) || errors.As(err, &me)
}

// TestDecodeRegionsErrors feeds bad answers: each is a typed error (a
// *jsontext.SyntacticError or *json.SemanticError), a truncated one wraps
// io.ErrUnexpectedEOF, and no region of a bad answer is returned.
func TestDecodeRegionsErrors(t *testing.T) {
	tests := []struct {
		name      string
		in        string
		truncated bool // the error wraps io.ErrUnexpectedEOF
		// jsonAccepts: encoding/json accepts the input; the decoder is
		// stricter, as documented on decodeRegions.
		jsonAccepts bool
	}{
		{name: "empty", in: "", truncated: true},
		{name: "only spaces", in: " \n", truncated: true},
		{name: "top-level array", in: `[{"id":1}]`},
		{name: "top-level string", in: ` "x"`},
		{name: "byte order mark", in: "\xef\xbb\xbf{}"},
		{name: "truncated in a region", in: `{"count":1,"regions":[{"id":1`, truncated: true},
		{name: "truncated in a string", in: `{"regions":[{"start_key":"74`, truncated: true},
		{name: "truncated after the regions", in: `{"regions":[{"id":1}]`, truncated: true},
		{name: "truncated between regions", in: `{"regions":[{"id":1},`, truncated: true},
		{name: "truncated literal", in: `{"regions":[{"is_x":nul`, truncated: true},
		{name: "trailing garbage", in: `{"regions":[]}x`},
		{name: "two answers", in: `{"regions":[{"id":1}]} {}`},
		{name: "id as a string", in: `{"regions":[{"id":"5"}]}`},
		{name: "id past uint64", in: `{"regions":[{"id":18446744073709551616}]}`},
		{name: "negative id", in: `{"regions":[{"id":-1}]}`},
		{name: "minus zero id", in: `{"regions":[{"id":-0}]}`},
		{name: "fractional store id", in: `{"regions":[{"peers":[{"store_id":1.5}]}]}`},
		{name: "exponent in a size", in: `{"regions":[{"approximate_size":1e3}]}`},
		{name: "size past int64", in: `{"regions":[{"approximate_size":9223372036854775808}]}`},
		{name: "leading zero", in: `{"regions":[{"id":01}]}`},
		{name: "key as a number", in: `{"regions":[{"id":1,2:3}]}`},
		{name: "unquoted key", in: `{count:1}`},
		{name: "count as an array", in: `{"count":[]}`},
		{name: "trailing comma", in: `{"count":1,}`},
		{name: "missing colon", in: `{"count" 1}`},
		{name: "control character in a string", in: "{\"regions\":[{\"start_key\":\"a\x01\"}]}"},
		{name: "bad escape", in: `{"regions":[{"start_key":"\q"}]}`},
		{name: "bad escape in a skipped string", in: `{"x":"\x"}`},
		{name: "bad array in an unknown key", in: `{"x":[1,2,]}`},
		{name: "bad literal", in: `{"x":tru}`},
		{name: "regions as an object", in: `{"regions":{}}`},
		{name: "region as a number", in: `{"regions":[1]}`},
		{name: "region not followed by a comma", in: `{"regions":[{} {}]}`},
		{name: "peers as an object", in: `{"regions":[{"peers":{}}]}`},
		{name: "peer as a string", in: `{"regions":[{"peers":["Voter"]}]}`},
		{name: "leader as an array", in: `{"regions":[{"leader":[]}]}`},
		{name: "is_learner as a number", in: `{"regions":[{"peers":[{"is_learner":1}]}]}`},
		{name: "start_key as a number", in: `{"regions":[{"start_key":7}]}`},
		{name: "nesting past 10000 levels", in: `{"x":` + strings.Repeat("[", 10001) + strings.Repeat("]", 10001) + `}`},
		{name: "invalid UTF-8", in: "{\"regions\":[{\"start_key\":\"a\xffb\"}]}", jsonAccepts: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var v regionsAnswer
			if err := json.Unmarshal([]byte(tt.in), &v); (err == nil) != tt.jsonAccepts {
				t.Fatalf("encoding/json says %v; jsonAccepts is %v", err, tt.jsonAccepts)
			}
			for name, r := range readers([]byte(tt.in)) {
				_, err := decodeAll(r)
				if !isDecodeError(err) {
					t.Fatalf("%s: error %v (%T), want a *jsontext.SyntacticError or *json.SemanticError", name, err, err)
				}
				if errors.Is(err, io.ErrUnexpectedEOF) != tt.truncated {
					t.Errorf("%s: errors.Is(%v, io.ErrUnexpectedEOF) = %v, want %v", name, err, !tt.truncated, tt.truncated)
				}
			}
		})
	}
}

// TestDecodeRegionsTruncated cuts a real answer at every byte: each cut must
// be an error that says the input ended, and only the whole answer decodes.
func TestDecodeRegionsTruncated(t *testing.T) {
	data := readFixture(t, "regionstream-regions-key-limit5.json")
	for n := range len(data) {
		_, err := decodeAll(bytes.NewReader(data[:n]))
		if !isDecodeError(err) || !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("cut at %d bytes: %v; want a typed error wrapping io.ErrUnexpectedEOF", n, err)
		}
	}
	got, err := decodeAll(bytes.NewReader(data))
	if err != nil || len(got) != 5 {
		t.Fatalf("whole answer: %d regions, error %v; want 5 regions", len(got), err)
	}
}

// TestDecodeRegionsReadErrors checks that a failing reader's error comes
// back, and that a reader that never progresses is an error, not a hang.
func TestDecodeRegionsReadErrors(t *testing.T) {
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
			_, err := decodeAll(tt.r)
			if !errors.Is(err, tt.want) {
				t.Fatalf("error %v, want one wrapping %v", err, tt.want)
			}
		})
	}
}

// emptyReader returns no data and no error, forever.
type emptyReader struct{}

func (emptyReader) Read([]byte) (int, error) { return 0, nil }

// FuzzRegionDecoder checks the decoder against go-json-experiment/json's
// Unmarshal of the whole body into the same types (with repeated names
// allowed, as the decoder allows them): both accept or both refuse, with
// the same regions where no name repeats (where one does, a null after a
// value keeps it in the decoder, as in encoding/json, and zeroes it in
// v2); reading one byte at a time changes nothing; errors are typed; what
// decodePage reads, through easyjson or not, decodeStrict reads alike. The
// seed corpus is in testdata/fuzz/FuzzRegionDecoder.
func FuzzRegionDecoder(f *testing.F) {
	for _, name := range []string{
		"regionstream-regions-key-limit5.json",
		"regionstream-regions-writeflow-active.json",
		"regionstream-regions-count.json",
		"regionstream-regions-check-down-peer.json",
	} {
		f.Add(readFixture(f, name))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var want regionsAnswer
		wantErr := jsonv2.Unmarshal(data, &want, jsontext.AllowDuplicateNames(true))

		whole, err := decodeAll(bytes.NewReader(data))
		oneByte, errOneByte := decodeAll(iotest.OneByteReader(bytes.NewReader(data)))
		if (err == nil) != (errOneByte == nil) {
			t.Fatalf("whole read: %v; one byte at a time: %v", err, errOneByte)
		}
		if diff := cmp.Diff(whole, oneByte, nilIsEmpty); diff != "" {
			t.Fatalf("whole read and one byte at a time differ (-whole +onebyte):\n%s", diff)
		}
		if err != nil && !isDecodeError(err) {
			t.Fatalf("error %v (%T), want a *jsontext.SyntacticError or *json.SemanticError", err, err)
		}
		if (err == nil) != (wantErr == nil) {
			t.Fatalf("decoder: %v; v2 Unmarshal: %v", err, wantErr)
		}
		if err == nil {
			// Both of decodePage's ways give the same regions, where a
			// name repeats too.
			strict, err := decodeStrict(data)
			if err != nil {
				t.Fatalf("decodeStrict refuses what decodePage accepts: %v", err)
			}
			if diff := cmp.Diff(strict, whole, nilIsEmpty); diff != "" {
				t.Fatalf("decodeStrict and decodePage differ (-strict +page):\n%s", diff)
			}
		}
		if err != nil || !jsontext.Value(data).IsValid() {
			return // refused, or a name repeats
		}
		if diff := cmp.Diff(want.Regions, whole, nilIsEmpty); diff != "" {
			t.Errorf("regions differ from v2 Unmarshal (-v2 +decoder):\n%s", diff)
		}
	})
}

// TestTrailingDataIsTyped checks the one error the stream words itself.
func TestTrailingDataIsTyped(t *testing.T) {
	_, err := decodeAll(strings.NewReader(`{"regions":[]} {}`))
	if !errors.Is(err, errTrailingData) {
		t.Errorf("error %v, want one matching errTrailingData", err)
	}
}

// TestPDAnswersArePlain checks that PD's recorded regions answers take
// easyjson's way: they pass plainAnswer and the generated decoder reads
// them.
func TestPDAnswersArePlain(t *testing.T) {
	names, err := filepath.Glob(filepath.Join("testdata", "regionstream-*.json"))
	if err != nil || len(names) == 0 {
		t.Fatalf("no recorded answers: %v", err)
	}
	for _, name := range names {
		data := readFixture(t, filepath.Base(name))
		if !plainAnswer(data) {
			t.Errorf("%s: plainAnswer refuses it", name)
		}
		if err := easyjson.Unmarshal(data, new(regionsAnswer)); err != nil {
			t.Errorf("%s: the generated decoder refuses it: %v", name, err)
		}
	}
}

// TestPlainAnswer checks the screen on answers that differ from PD's in one
// way: each one it refuses is still read, by decodeStrict.
func TestPlainAnswer(t *testing.T) {
	tests := []struct {
		in    string
		plain bool
	}{
		{in: `{"count":1,"regions":[{"id":10,"start_key":"7480","cpu_usage":0,"approximate_size":0}]}`, plain: true},
		{in: " \n{\"count\":0,\"regions\":[]}\n", plain: true}, // white space around the answer
		{in: `{"count":1,"regions":[{"id":10,"start_key":"a b"}]}`},
		{in: "{\"count\":1,\n\"regions\":[{\"id\":10}]}"},
		{in: `{"count":1,"regions":[{"id":10,"start_key":"\u0041"}]}`},
		{in: `{"count":1,"regions":[{"id":10,"start_key":"é"}]}`},
		{in: `{"count":1,"regions":[{"id":10,"approximate_size":-5}]}`},
		{in: `{"count":1,"regions":[{"id":10,"approximate_size":0}],"x":":01"}`}, // a false alarm: ':0' then a digit in a string
		{in: `{"count":1,"regions":[{"id":10,"a_much_longer_field_name_to_cross_a_word":0}]}`, plain: true},
	}
	for _, tt := range tests {
		if got := plainAnswer([]byte(tt.in)); got != tt.plain {
			t.Errorf("plainAnswer(%q) = %v, want %v", tt.in, got, tt.plain)
		}
		if _, err := decodeAll(strings.NewReader(tt.in)); err != nil {
			t.Errorf("%q: %v", tt.in, err)
		}
	}
	// Every byte value, and every leading zero, at every position of a
	// word and across words, is told apart.
	base := []byte(`{"count":0,"regions":[{"start_key":"GHIJKLMNOPQRSTUVWXYZghijkl"}]}`)
	at := bytes.Index(base, []byte("GHIJ"))
	for c := range 256 {
		want := c > 0x20 && c < 0x80 && c != '\\' && c != '-'
		for i := range 26 {
			in := bytes.Clone(base)
			in[at+i] = byte(c)
			if got := plainAnswer(in); got != want {
				t.Fatalf("plainAnswer with byte %#x at %d = %v, want %v", c, at+i, got, want)
			}
		}
	}
	for i := range 24 {
		for _, tt := range []struct {
			s     string
			plain bool
		}{{":00", false}, {":01", false}, {":09", false}, {":0,", true}, {":1", true}, {":0}", true}, {":0A", true}, {";01", true}, {"::0", true}, {"0:0", true}} {
			in := bytes.Clone(base)
			copy(in[at+i:], tt.s)
			want := tt.plain
			if got := plainAnswer(in); got != want {
				t.Fatalf("plainAnswer(%s) = %v, want %v", in, got, want)
			}
		}
	}
	// Near the end, where fewer than eight bytes are left.
	for n := range 16 {
		for _, id := range []string{"01", "00", "0"} {
			in := fmt.Sprintf(`{"count":1,"regions":[{"%s":1,"id":%s}]}`, strings.Repeat("x", n), id)
			if got, want := plainAnswer([]byte(in)), id == "0"; got != want {
				t.Fatalf("plainAnswer(%s) = %v, want %v", in, got, want)
			}
		}
	}
}

// TestEasyJSONLeniencyIsCovered keeps the reasons for plainAnswer and for
// generating the decoder with -disallow_unknown_fields: easyjson's lexer
// lets each of these invalid answers through, and the decoder refuses each
// with a typed error, because plainAnswer sends it to decodeStrict or
// because the generated decoder refuses the member it does not know (whose
// value its lexer would skip unchecked).
func TestEasyJSONLeniencyIsCovered(t *testing.T) {
	tests := []struct {
		name, in string
		// skipped: the invalid value is a member the client does not know.
		skipped bool
	}{
		{name: "control character in a string", in: "{\"regions\":[{\"start_key\":\"a\x01\"}]}"},
		{name: "invalid UTF-8", in: "{\"regions\":[{\"start_key\":\"a\xffb\"}]}"},
		{name: "unpaired surrogate", in: `{"regions":[{"start_key":"\ud800"}]}`},
		{name: "leading zero", in: `{"regions":[{"id":01}]}`},
		{name: "leading zero in the count", in: `{"count":00,"regions":[]}`},
		{name: "leading zero after a minus", in: `{"regions":[{"approximate_size":-01}]}`},
		{name: "bad escape in a skipped string", in: `{"x":"\q"}`, skipped: true},
		{name: "control character in a skipped string", in: "{\"x\":\"\x1f\"}", skipped: true},
		{name: "leading zero in a skipped number", in: `{"x":01}`, skipped: true},
		{name: "skipped number ending in a dot", in: `{"x":1.}`, skipped: true},
		{name: "skipped minus alone", in: `{"x":-}`, skipped: true},
		{name: "skipped number ending in its exponent", in: `{"x":1e}`, skipped: true},
		{name: "skipped number ending in a signed exponent", in: `{"x":1E+}`, skipped: true},
		{name: "skipped number without an integer part", in: `{"x":-.5}`, skipped: true},
		{name: "skipped number with a dot before its exponent", in: `{"x":1.e5}`, skipped: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.skipped {
				if err := lexerSkips(tt.in); err != nil {
					t.Errorf("easyjson's lexer refuses to skip it now (%v): -disallow_unknown_fields may no longer be needed", err)
				}
				if easyjson.Unmarshal([]byte(tt.in), new(regionsAnswer)) == nil {
					t.Error("the generated decoder accepts a member it does not know")
				}
			} else {
				if err := easyjson.Unmarshal([]byte(tt.in), new(regionsAnswer)); err != nil {
					t.Errorf("easyjson refuses it now (%v): plainAnswer may no longer be needed for it", err)
				}
				if plainAnswer([]byte(tt.in)) {
					t.Error("plainAnswer lets it through")
				}
			}
			if _, err := decodeAll(strings.NewReader(tt.in)); !isDecodeError(err) {
				t.Errorf("error %v, want a typed decoding error", err)
			}
		})
	}
}

// lexerSkips reads an object's members as easyjson's generated code does
// for members it does not know, skipping their values.
func lexerSkips(in string) error {
	l := jlexer.Lexer{Data: []byte(in)}
	l.Delim('{')
	for !l.IsDelim('}') {
		l.UnsafeFieldName(false)
		l.WantColon()
		l.SkipRecursive()
		l.WantComma()
	}
	l.Delim('}')
	l.Consumed()
	return l.Error()
}
