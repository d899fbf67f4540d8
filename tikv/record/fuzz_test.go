package record_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/kvops/operator/subject"
	"github.com/kvops/operator/tikv/record"
)

// FuzzReader: whatever the bytes, a Reader either reads a whole recording
// or says why not with one of the package's typed errors, and never
// panics; a recording it reads whole, written again, reads the same.
func FuzzReader(f *testing.F) {
	whole, _ := sample(f)
	f.Add(whole)
	f.Add(whole[:len(whole)/2])
	f.Add([]byte(`{"kind":"header","header":{"format":"kvops-recording","version":1,"start":"2026-01-01T00:00:00Z","end":"2026-01-01T00:00:00Z","interval":"1s"}}` + "\n" + `{"kind":"end","end":{"at":"2026-01-01T00:00:00Z","entries":1}}` + "\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		h, entries, err := readAll(in)
		if err != nil {
			var se *record.SyntaxError
			var ue *record.UnsupportedError
			if !errors.Is(err, record.ErrTruncated) && !errors.As(err, &se) && !errors.As(err, &ue) {
				t.Fatalf("untyped error %T: %v", err, err)
			}
			if !errors.Is(err, subject.ErrInvalid) && !errors.Is(err, subject.ErrNotSupported) {
				t.Fatalf("error %v matches no sentinel", err)
			}
			return
		}
		var buf bytes.Buffer
		w, err := record.NewWriter(&buf, h)
		if err != nil {
			t.Fatalf("a header read back is refused: %v", err)
		}
		end := entries[len(entries)-1]
		for _, e := range entries[:len(entries)-1] {
			if err := w.Write(e); err != nil {
				t.Fatalf("an entry read back is refused: %v", err)
			}
		}
		if err := w.Close(end.End.At); err != nil {
			t.Fatal(err)
		}
		h2, entries2, err := readAll(buf.Bytes())
		if err != nil {
			t.Fatalf("written again, it does not read: %v", err)
		}
		if diff := cmp.Diff(entries[:len(entries)-1], entries2[:len(entries2)-1], cmpopts.EquateEmpty()); diff != "" || !cmp.Equal(h, h2, cmpopts.EquateEmpty()) {
			t.Fatalf("written again, it reads otherwise (-first +second):\n%s", diff)
		}
	})
}
