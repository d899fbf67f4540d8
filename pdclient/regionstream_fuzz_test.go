package pdclient

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"
	"testing/iotest"

	"github.com/google/go-cmp/cmp"
)

// FuzzRegionDecoder checks the decoder against encoding/json: on an input
// encoding/json accepts, both give the same count and regions; on one it
// refuses, the decoder returns a *DecodeError. The decoder never panics.
// The seed corpus is in testdata/fuzz/FuzzRegionDecoder.
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
		jsonErr := json.Unmarshal(data, &want)

		whole, err := decodeStream(bytes.NewReader(data))
		oneByte, errOneByte := decodeStream(iotest.OneByteReader(bytes.NewReader(data)))
		if (err == nil) != (errOneByte == nil) {
			t.Fatalf("whole read: %v; one byte at a time: %v", err, errOneByte)
		}
		if diff := cmp.Diff(whole, oneByte, nilIsEmpty); diff != "" {
			t.Fatalf("whole read and one byte at a time differ (-whole +onebyte):\n%s", diff)
		}
		var de *DecodeError
		if err != nil && !errors.As(err, &de) {
			t.Fatalf("error %v (%T), want a *DecodeError", err, err)
		}

		if jsonErr != nil {
			// encoding/json also refuses nesting deeper than 10000 levels
			// in all, where the decoder counts only inside unknown keys.
			if err == nil && bytes.Count(data, []byte("["))+bytes.Count(data, []byte("{")) < maxSkipDepth-10 {
				t.Fatalf("encoding/json refuses the input (%v), the decoder accepts it", jsonErr)
			}
			return
		}
		if err != nil {
			// The two documented differences: a top-level null, and a
			// second "regions" array once regions have been returned.
			if string(bytes.Trim(data, " \t\r\n")) == "null" || de.Expected == expectNoDuplicateRegions {
				return
			}
			t.Fatalf("encoding/json accepts the input, the decoder says: %v", err)
		}
		if whole.Count != want.Count {
			t.Errorf("Count() = %d, encoding/json gives %d", whole.Count, want.Count)
		}
		if diff := cmp.Diff(want.Regions, whole.Regions, nilIsEmpty); diff != "" {
			t.Errorf("regions differ from encoding/json (-json +stream):\n%s", diff)
		}
	})
}
