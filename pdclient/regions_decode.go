package pdclient

import (
	"io"

	"github.com/kvops/operator/internal/jsonstream"
)

// decodeRegions decodes a body of PD's regions endpoints,
// {"count":N,"regions":[...]}, one region at a time (internal/jsonstream over
// github.com/go-json-experiment/json), calling yield for each region in
// order without holding the whole list. It returns the number of regions
// passed to yield.
//
// Each *Region passed to yield is a fresh value, so yield may keep it; a
// non-nil error from yield stops the decoding and is returned as is.
// "regions": null or absent is an empty list; "count" and other keys are
// skipped; names match Region's json tags exactly, as PD writes them.
// Invalid JSON, a value of the wrong type or out of range, two members of
// one name, invalid UTF-8 and anything after the object are errors giving
// the byte offset (a *jsontext.SyntacticError or *json.SemanticError); a
// truncated body wraps io.ErrUnexpectedEOF. The client reports them as a
// *ResponseError matching ErrBadResponse.
func decodeRegions(r io.Reader, yield func(*Region) error) (count int, err error) {
	return jsonstream.Elements(r, "regions", yield)
}
