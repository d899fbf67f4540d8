// jsonstream.go is the streaming candidate pdclient used before it moved to
// easyjson: the array member of a large JSON object read one element at a
// time with github.com/go-json-experiment/json's jsontext.Decoder, each
// element decoded by that package's Unmarshal.

package main

import (
	"errors"
	"io"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

// Elements reads one JSON object from r and calls yield, in order, with each
// element of its member named key. It returns the number of elements passed
// to yield.
//
// Each *T is a fresh value that yield may keep. Members other than key are
// skipped (validated, not kept); a key that is null or absent is an empty
// array, and a top-level null an empty object. Anything after the object is
// an error.
//
// A non-nil error from yield stops the reading and is returned as is. Any
// other error is the input's: a *jsontext.SyntacticError (invalid JSON; a
// truncated input wraps io.ErrUnexpectedEOF) or a *json.SemanticError (a
// value of the wrong type or out of range), both giving the byte offset, or
// the reader's error (io.ErrNoProgress for a reader that keeps returning
// no data and no error).
func Elements[T any](r io.Reader, key string, yield func(*T) error) (n int, err error) {
	dec := jsontext.NewDecoder(progressReader{r})
	var yieldErr error
	defer func() {
		switch {
		case yieldErr != nil:
			err = yieldErr
		case err == io.EOF:
			// The decoder says io.EOF when the input ends before a value.
			err = &jsontext.SyntacticError{ByteOffset: dec.InputOffset(), Err: io.ErrUnexpectedEOF}
		}
	}()
	if dec.PeekKind() != '{' {
		// Let Unmarshal accept null and word the error for anything else.
		if err := json.UnmarshalDecode(dec, new(struct{})); err != nil {
			return 0, err
		}
		return 0, end(dec)
	}
	if _, err := dec.ReadToken(); err != nil {
		return 0, err
	}
	for dec.PeekKind() != '}' {
		name, err := dec.ReadToken()
		if err != nil {
			return n, err
		}
		if name.String() != key {
			if err := dec.SkipValue(); err != nil {
				return n, err
			}
			continue
		}
		if dec.PeekKind() != '[' {
			// null is an empty array; Unmarshal words the error for
			// anything else.
			if err := json.UnmarshalDecode(dec, new([]T)); err != nil {
				return n, err
			}
			continue
		}
		if _, err := dec.ReadToken(); err != nil {
			return n, err
		}
		for dec.PeekKind() != ']' {
			v := new(T)
			if err := json.UnmarshalDecode(dec, v); err != nil {
				return n, err
			}
			if yieldErr = yield(v); yieldErr != nil {
				return n, yieldErr
			}
			n++
		}
		if _, err := dec.ReadToken(); err != nil {
			return n, err
		}
	}
	if _, err := dec.ReadToken(); err != nil {
		return n, err
	}
	return n, end(dec)
}

// ErrTrailingData is the Err of the *jsontext.SyntacticError for an input
// that goes on after its object.
var ErrTrailingData = errors.New("data after the top-level value")

// end checks that nothing but white space follows the value just read.
func end(dec *jsontext.Decoder) error {
	if dec.PeekKind() != 0 {
		return &jsontext.SyntacticError{ByteOffset: dec.InputOffset(), Err: ErrTrailingData}
	}
	// PeekKind found no value: ReadToken returns why, io.EOF at the end.
	if _, err := dec.ReadToken(); err != io.EOF {
		return err
	}
	return nil
}

// progressReader fails a reader that keeps returning no data and no error,
// as bufio does, where jsontext would call it forever.
type progressReader struct{ r io.Reader }

// maxEmptyReads is bufio's limit of empty reads before io.ErrNoProgress.
const maxEmptyReads = 100

func (p progressReader) Read(b []byte) (int, error) {
	for range maxEmptyReads {
		if n, err := p.r.Read(b); n > 0 || err != nil {
			return n, err
		}
	}
	return 0, io.ErrNoProgress
}
