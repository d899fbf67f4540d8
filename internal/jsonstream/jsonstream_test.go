package jsonstream

import (
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/go-json-experiment/json/jsontext"
	"github.com/google/go-cmp/cmp"
)

type store struct {
	ID      uint64 `json:"id"`
	Address string `json:"address"`
}

func TestElements(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    []store
		wantErr error // matched with errors.Is; nil for success
	}{
		{name: "the array of the key", in: `{"count":2,"stores":[{"id":1,"address":"a"},{"id":2}],"regions":[{"id":9}]}`, want: []store{{1, "a"}, {ID: 2}}},
		{name: "key absent", in: `{"count":0}`},
		{name: "key null", in: `{"stores":null}`},
		{name: "top-level null", in: ` null `},
		{name: "empty input", in: "", wantErr: io.ErrUnexpectedEOF},
		{name: "cut after an element", in: `{"stores":[{"id":1}`, want: []store{{ID: 1}}, wantErr: io.ErrUnexpectedEOF},
		{name: "data after the object", in: `{"stores":[]} []`, wantErr: ErrTrailingData},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []store
			n, err := Elements(strings.NewReader(tt.in), "stores", func(s *store) error {
				got = append(got, *s)
				return nil
			})
			if !errors.Is(err, tt.wantErr) || (err == nil) != (tt.wantErr == nil) {
				t.Fatalf("error %v, want %v", err, tt.wantErr)
			}
			var se *jsontext.SyntacticError
			if err != nil && !errors.As(err, &se) {
				t.Errorf("error %v (%T), want a *jsontext.SyntacticError", err, err)
			}
			if n != len(got) {
				t.Errorf("counted %d, yielded %d", n, len(got))
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// TestElementsYieldError checks that an error from yield stops the reading
// and comes back as is, even io.EOF, which the decoder's own io.EOF would
// otherwise be turned from.
func TestElementsYieldError(t *testing.T) {
	for _, stop := range []error{io.EOF, errors.New("enough")} {
		n, err := Elements(strings.NewReader(`{"stores":[{"id":1},{"id":2},{"id":3}]}`), "stores", func(s *store) error {
			if s.ID == 2 {
				return stop
			}
			return nil
		})
		if err != stop || n != 1 {
			t.Errorf("yield returning %v: n %d, error %v; want 1, the same error", stop, n, err)
		}
	}
}
