package pdclient

import (
	"bytes"
	"errors"
	"io"
	"net/http"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	"github.com/mailru/easyjson"
	"github.com/mailru/easyjson/jlexer"
)

// regionsAnswer is the body of PD's regions endpoints. PD writes it with
// easyjson; the client reads it with easyjson's generated decoder
// (regions_decode_easyjson.go, made by go generate).
//
//easyjson:json
type regionsAnswer struct {
	Count   int      `json:"count"`
	Regions []Region `json:"regions"`
}

//go:generate go run github.com/mailru/easyjson/easyjson@v0.9.2 -no_std_marshalers regions_decode.go

// decodeRegions reads a body of PD's regions endpoints,
// {"count":N,"regions":[...]}, and returns its regions: an empty slice for
// "regions": null or absent, or a top-level null. It is readChecked then
// decodeChecked, the two steps that AllRegions runs on two goroutines.
//
// Names match the json tags exactly (PD's own spelling), as in
// encoding/json/v2; unknown names are skipped and "count" must be an int
// (the client does not use it beyond sizing the list); of a name that
// appears twice in one object the last value wins, as in encoding/json (a
// null leaves the earlier value). Invalid JSON, invalid UTF-8 and anything
// after the object are refused.
//
// Bad input is a *jsontext.SyntacticError (truncated input wraps
// io.ErrUnexpectedEOF) or a *json.SemanticError (a value of the wrong type
// or out of range), both giving the byte offset; the client returns each
// inside a *ResponseError matching ErrBadResponse. A read error comes back
// as the reader gave it; nothing of a bad answer is returned.
func decodeRegions(r io.Reader, buf []byte) ([]Region, []byte, error) {
	body, err := readChecked(nil, r, buf)
	if err != nil {
		return nil, body, err
	}
	regions, err := decodeChecked(body, nil)
	return regions, body, err
}

// readChecked reads a regions answer whole into buf, grown as needed and
// returned for reuse (to the answer's length at once when resp gives it),
// and checks its syntax with jsontext (github.com/go-json-experiment/json,
// the design of Go's encoding/json/v2). The answer is bounded by the
// client's MaxResponseBytes.
//
// The check is a pass of its own, because easyjson's lexer, which decodes
// the answer afterwards, lets through invalid JSON that PD never writes
// but a broken proxy or a corrupted answer could: control characters and
// invalid UTF-8 in strings, bad escapes in a skipped string, unpaired
// surrogates, numbers with leading zeros, and malformed numbers ("1.",
// "-", "1e") in a skipped value (TestEasyJSONAloneIsLenient). AllRegions
// runs it on the goroutine that reads the next page, while the page before
// is decoded.
func readChecked(resp *http.Response, r io.Reader, buf []byte) ([]byte, error) {
	if resp != nil && resp.ContentLength > 0 && int64(cap(buf)) <= resp.ContentLength && resp.ContentLength < maxPooledBody {
		buf = make([]byte, 0, resp.ContentLength+1) // +1: the read that finds io.EOF needs room
	}
	body, err := readAll(r, buf[:0])
	if err != nil {
		return body, err
	}
	return body, checkSyntax(body)
}

// decodeChecked decodes an answer that readChecked accepted with easyjson's
// generated code (regions_decode_easyjson.go, made by go generate), in one
// pass, appending the regions to into[:0]. The strings of the regions are
// copies: body may be reused. A value easyjson refuses (of the wrong type
// or out of range) is reported as encoding/json/v2 reports it.
func decodeChecked(body []byte, into []Region) ([]Region, error) {
	// Size the list from PD's count, which it writes first, so that it is
	// not copied as it grows; a count larger than the body could hold is
	// not believed.
	if n := min(countHint(body), len(body)/minRegionBytes); cap(into) < n {
		into = make([]Region, 0, n)
	}
	a := regionsAnswer{Regions: into[:0]}
	if err := easyjson.Unmarshal(body, &a); err != nil {
		return nil, semanticError(body, err)
	}
	if a.Regions == nil {
		a.Regions = []Region{}
	}
	return a.Regions, nil
}

// minRegionBytes is fewer bytes than any region PD writes takes.
const minRegionBytes = 64

// countHint returns N when body starts as PD writes it, {"count":N, and 0
// otherwise.
func countHint(body []byte) int {
	rest, ok := bytes.CutPrefix(body, []byte(`{"count":`))
	n := 0
	for _, c := range rest {
		if !ok || c < '0' || c > '9' || n > 1<<30 {
			break
		}
		n = n*10 + int(c-'0')
	}
	return n
}

// checkSyntax checks that body is one JSON value, with only white space
// after it, returning jsontext's error where it is not. The decoder parses
// the bytes in place (it does for a *bytes.Buffer), without tracking names.
func checkSyntax(body []byte) error {
	dec := jsontext.NewDecoder(bytes.NewBuffer(body), jsontext.AllowDuplicateNames(true))
	if _, err := dec.ReadValue(); err != nil {
		if err == io.EOF {
			// jsontext says io.EOF when the input ends before a value.
			return &jsontext.SyntacticError{ByteOffset: dec.InputOffset(), Err: io.ErrUnexpectedEOF}
		}
		return err
	}
	switch _, err := dec.ReadToken(); err {
	case io.EOF:
		return nil
	case nil:
		return &jsontext.SyntacticError{ByteOffset: dec.InputOffset(), Err: errTrailingData}
	default:
		return err
	}
}

// errTrailingData is the Err of the *jsontext.SyntacticError for an answer
// that goes on after its object.
var errTrailingData = errors.New("data after the top-level value")

// semanticError returns encoding/json/v2's error for valid JSON that the
// generated decoder refused (a value of the wrong type or out of range).
// Should v2 accept it, easyjson's own error is returned, without the rest
// of the body that it carries.
func semanticError(body []byte, err error) error {
	var a regionsAnswer
	if verr := json.Unmarshal(body, &a, jsontext.AllowDuplicateNames(true)); verr != nil {
		return verr
	}
	var le *jlexer.LexerError
	if errors.As(err, &le) {
		return &json.SemanticError{ByteOffset: int64(le.Offset), Err: errors.New(le.Reason)}
	}
	return &json.SemanticError{Err: err}
}

// readAll is io.ReadAll, appending to b, that fails a reader returning no
// data and no error 100 times in a row with io.ErrNoProgress, as bufio
// does, where io.ReadAll would call it forever.
func readAll(r io.Reader, b []byte) ([]byte, error) {
	if cap(b) == 0 {
		b = make([]byte, 0, 64<<10)
	}
	empty := 0
	for {
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		switch {
		case err == io.EOF:
			return b, nil
		case err != nil:
			return b, err
		case n > 0:
			empty = 0
		default:
			if empty++; empty >= 100 {
				return b, io.ErrNoProgress
			}
		}
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
	}
}
