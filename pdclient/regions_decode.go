package pdclient

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net/http"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	"github.com/mailru/easyjson"
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

//go:generate go run github.com/mailru/easyjson/easyjson@v0.9.2 -no_std_marshalers -disallow_unknown_fields regions_decode.go

// decodeRegions reads a body of PD's regions endpoints,
// {"count":N,"regions":[...]}, and returns its regions: an empty slice for
// "regions": null or absent, or a top-level null. It is readBody then
// decodePage, the two steps that AllRegions runs on two goroutines.
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
	body, err := readBody(nil, r, buf)
	if err != nil {
		return nil, body, err
	}
	regions, err := decodePage(body, plainAnswer(body), nil)
	return regions, body, err
}

// readBody reads a regions answer whole into buf, grown as needed and
// returned for reuse (to the answer's length at once when resp gives it).
// The answer is bounded by the client's MaxResponseBytes.
func readBody(resp *http.Response, r io.Reader, buf []byte) ([]byte, error) {
	if resp != nil && resp.ContentLength > 0 && int64(cap(buf)) <= resp.ContentLength && resp.ContentLength < maxPooledBody {
		buf = make([]byte, 0, resp.ContentLength+1) // +1: the read that finds io.EOF needs room
	}
	return readAll(r, buf[:0])
}

// decodePage decodes a regions answer, appending its regions to into[:0],
// in one of two ways that give the same regions and refuse the same
// answers (FuzzRegionDecoder holds them to encoding/json/v2). plain is
// plainAnswer(body), which AllRegions finds on the goroutine that reads the
// page.
//
// An answer as PD writes it takes one pass of easyjson's generated code
// (regions_decode_easyjson.go, made by go generate), plainAnswer having
// found in its bytes none of what easyjson's lexer would let through where
// JSON does not (TestEasyJSONLeniencyIsCovered): the lexer checks the
// structure, the literals and the commas and colons as JSON does, the
// generated code refuses a member it does not know (it would skip its
// value unchecked) and reads every number it knows with strconv, which
// refuses a malformed one; what the lexer does not check, the content of
// strings and a number's leading zero, plainAnswer does.
//
// Any other answer, and any answer easyjson refuses, takes decodeStrict:
// encoding/json/v2 decodes it, and when it is refused jsontext gives the
// typed syntax error and its offset. That is an answer that is not valid
// JSON, an answer with escapes, white space, non-ASCII or a negative
// number, none of which PD writes in a regions answer, and an answer with
// members the client does not know (a later PD's new fields), which takes
// about a third more CPU to read (1.2 to 1.4 times, measured on PD's
// recorded 2,000-region answer).
//
// The strings of the regions are copies: body may be reused.
func decodePage(body []byte, plain bool, into []Region) ([]Region, error) {
	if plain {
		// Size the list from PD's count, which it writes first, so that it
		// is not copied as it grows; a count larger than the body could
		// hold is not believed.
		if n := min(countHint(body), len(body)/minRegionBytes); cap(into) < n {
			into = make([]Region, 0, n)
		}
		a := regionsAnswer{Regions: into[:0]}
		if easyjson.Unmarshal(body, &a) == nil {
			if a.Regions == nil {
				a.Regions = []Region{}
			}
			return a.Regions, nil
		}
	}
	return decodeStrict(body)
}

// decodeStrict decodes body with json.Unmarshal
// (github.com/go-json-experiment/json, the design of Go's encoding/json/v2),
// which checks it whole and skips the members it does not know. A name that
// appears twice in one object costs a second pass, where a JSON null leaves
// the value it meets as it is, as in easyjson's generated code and
// encoding/json, where v2 would zero it (without repeated names a null only
// meets zero values). On an error, jsontext checks the syntax, so that a
// syntax error is reported as checkSyntax words it, before any semantic one.
func decodeStrict(body []byte) ([]Region, error) {
	var a regionsAnswer
	err := json.Unmarshal(body, &a)
	if errors.Is(err, jsontext.ErrDuplicateName) {
		a = regionsAnswer{}
		keep := json.JoinUnmarshalers(nullKeeps[uint64](), nullKeeps[int64](), nullKeeps[int](),
			nullKeeps[string](), nullKeeps[bool](), nullKeeps[RegionEpoch](), nullKeeps[Peer]())
		err = json.Unmarshal(body, &a, jsontext.AllowDuplicateNames(true), json.WithUnmarshalers(keep))
	}
	if err != nil {
		if serr := checkSyntax(body); serr != nil {
			return nil, serr
		}
		return nil, err
	}
	if a.Regions == nil {
		a.Regions = []Region{}
	}
	return a.Regions, nil
}

// nullKeeps unmarshals a JSON null into a T by leaving it as it is, and
// anything else as json.Unmarshal does.
func nullKeeps[T any]() *json.Unmarshalers {
	return json.UnmarshalFromFunc(func(dec *jsontext.Decoder, _ *T) error {
		if dec.PeekKind() == 'n' {
			_, err := dec.ReadToken()
			return err
		}
		return errors.ErrUnsupported
	})
}

// plainAnswer reports whether body, white space around it aside, is made
// only of printable ASCII other than space, backslash and minus, and has no
// number with a leading zero where easyjson would read one: right after a
// colon (':' then '0' then a digit), there being no white space for a
// number to start after.
//
// Its strings then have no control character, no invalid UTF-8 and no
// escape, so easyjson's lexer, which checks none of these, reads them as
// JSON does; its numbers have no sign, and easyjson's lexer, which lets
// through a leading zero, meets none. Anything else goes to decodeStrict:
// a false alarm costs time, never a misreading. PD writes a regions answer
// as compact JSON whose strings are hex keys, field names and role names,
// so it passes.
//
// It tests eight bytes at a time (SWAR): for bytes below 0x80, adding
// 0x80-k to a byte sets its top bit exactly where it is k or more, without
// a carry into the next byte, and each test keeps the top bits where it
// holds. A word with a byte of 0x80 or more is refused whatever the other
// tests say. It reads the answer at several GB/s, a small part of what
// decoding it takes.
func plainAnswer(body []byte) bool {
	body = bytes.Trim(body, " \t\r\n")
	var w screen
	// Two words at a time, which lets the processor run both at once.
	for ; len(body) >= 16; body = body[16:] {
		w.word(binary.LittleEndian.Uint64(body))
		w.word(binary.LittleEndian.Uint64(body[8:]))
	}
	if len(body) >= 8 {
		w.word(binary.LittleEndian.Uint64(body))
		body = body[8:]
	}
	if w.bad&tops != 0 {
		return false
	}
	// The last bytes, with what the last word carries.
	afterColon, afterColonZero := w.colon != 0, w.colonZero != 0
	for _, ch := range body {
		if ch < 0x21 || ch >= 0x80 || ch == '\\' || ch == '-' || (afterColonZero && '0' <= ch && ch <= '9') {
			return false
		}
		afterColon, afterColonZero = ch == ':', afterColon && ch == '0'
	}
	return true
}

// screen is plainAnswer's state between words.
type screen struct {
	// bad has top bits set where a word failed a test.
	bad uint64
	// colon and colonZero carry into the next word the top bit of a ':',
	// and of a '0' after a ':', in the last byte of the word before.
	colon, colonZero uint64
}

// word tests the eight bytes of x, the first in its low byte.
func (w *screen) word(x uint64) {
	// Non-ASCII (x's own top bits), or one of: below '!', a backslash, a
	// minus (where a sum's top bit is clear).
	w.bad |= x | ^((x + ones*(0x80-0x21)) & (x ^ ones*'\\' + ones*0x7F) & (x ^ ones*'-' + ones*0x7F))
	// A ':' at byte i, '0' at i+1, a digit at i+2 (byte i+1 is the 8 bits
	// above byte i).
	c := ^(x ^ ones*':' + ones*0x7F) & tops
	cz := (c<<8 | w.colon) &^ (x ^ ones*'0' + ones*0x7F)
	w.bad |= (cz<<8 | w.colonZero) & (x + ones*(0x80-'0')) &^ (x + ones*(0x80-'9'-1))
	w.colon, w.colonZero = c>>56, cz>>56
}

// ones has 1 in every byte, tops the top bit of every byte.
const (
	ones = 0x0101010101010101
	tops = 0x8080808080808080
)

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
