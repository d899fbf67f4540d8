package main

// The splitter candidates: a minimal splitter finds each element of the
// regions array by its brackets, minding strings and escapes, and hands its
// bytes to a fast []byte decoder (easyjson's generated code, or jsoniter).
// Members other than "regions" are checked with encoding/json's Valid; the
// decoders check each region. It stands here as a candidate only: it did not
// beat pdclient's decoder reliably (see the package comment), and it has not
// been through pdclient's error tests and fuzz targets; TestSynthesise checks
// that it reads the synthesised answer as encoding/json does.

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"

	"github.com/mailru/easyjson/jlexer"
)

// splitError is the error for input that is not the JSON object
// splitElements reads. Offset is the byte offset in the input where the
// fault was found. Err says what it is: io.ErrUnexpectedEOF for a truncated
// input, errTrailingData, errSyntax, or a *jlexer.LexerError for a member
// name.
type splitError struct {
	Offset int64
	Err    error
}

func (e *splitError) Error() string { return fmt.Sprintf("json at byte %d: %v", e.Offset, e.Err) }

func (e *splitError) Unwrap() error { return e.Err }

// errTrailingData is the Err of the *splitError for an input that goes on
// after its object.
var errTrailingData = errors.New("data after the top-level value")

// errSyntax is the Err of a *splitError for malformed JSON outside the
// elements: the object around them, and the strings of elements.
var errSyntax = errors.New("invalid JSON")

// splitElements reads one JSON object from r and calls yield, in order,
// with the bytes of each element of its member named key and the element's
// offset in the input. It returns the number of elements passed to yield.
//
// The bytes are borrowed: they are valid until yield returns. Each holds
// one value, whose strings have no control characters and are valid UTF-8,
// and whose brackets match; the rest, yield checks as it decodes them.
// Members other than key are skipped (validated, not kept); a key that is
// null or absent is an empty array, and a top-level null an empty object. A
// second member named key and anything after the object are errors.
//
// A non-nil error from yield stops the reading and is returned as is. Any
// other error is the input's, a *splitError, or the reader's error
// (io.ErrNoProgress for a reader that keeps returning no data and no
// error).
func splitElements(r io.Reader, key string, yield func(elem []byte, offset int64) error) (n int, err error) {
	s := splitter{r: bufio.NewReaderSize(r, 64<<10)}
	c, err := s.next()
	if err != nil {
		return 0, err
	}
	if c != '{' {
		v, err := s.scalarOrValue()
		if err != nil {
			return 0, err
		}
		if string(v) != "null" {
			return 0, s.fail(fmt.Errorf("%w: want an object", errSyntax))
		}
		return 0, s.end()
	}
	s.skip()
	seen := false
	for first := true; ; first = false {
		c, err := s.next()
		if err != nil {
			return n, err
		}
		if c == '}' && first {
			s.skip()
			break
		}
		if c != '"' {
			return n, s.fail(fmt.Errorf("%w: want a member name", errSyntax))
		}
		raw, err := s.value()
		if err != nil {
			return n, err
		}
		name, err := unquote(raw)
		if err != nil {
			return n, s.fail(err)
		}
		if err := s.colon(); err != nil {
			return n, err
		}
		if name == key {
			if seen {
				return n, s.fail(fmt.Errorf("%w: a second member %q", errSyntax, key))
			}
			seen = true
			if n, err = elements(&s, n, yield); err != nil {
				return n, err
			}
		} else {
			v, err := s.scalarOrValue()
			if err != nil {
				return n, err
			}
			if !json.Valid(v) {
				return n, s.fail(fmt.Errorf("%w: member %q", errSyntax, name))
			}
		}
		if c, err = s.next(); err != nil {
			return n, err
		}
		s.skip()
		if c == '}' {
			break
		}
		if c != ',' {
			return n, s.fail(fmt.Errorf("%w: want , or } after a member", errSyntax))
		}
	}
	return n, s.end()
}

// elements reads the key's value, an array or null, yielding each element.
func elements(s *splitter, n int, yield func([]byte, int64) error) (int, error) {
	c, err := s.next()
	if err != nil {
		return n, err
	}
	if c != '[' {
		v, err := s.scalarOrValue()
		if err != nil {
			return n, err
		}
		if string(v) != "null" {
			return n, s.fail(fmt.Errorf("%w: want an array", errSyntax))
		}
		return n, nil
	}
	s.skip()
	if c, err = s.next(); err != nil {
		return n, err
	}
	if c == ']' {
		s.skip()
		return n, nil
	}
	for {
		if _, err := s.next(); err != nil {
			return n, err
		}
		start := s.off
		v, err := s.value()
		if err != nil {
			return n, err
		}
		if len(v) == 0 {
			return n, s.fail(fmt.Errorf("%w: want an element", errSyntax))
		}
		if !utf8.Valid(v) {
			return n, &splitError{Offset: start, Err: fmt.Errorf("%w: invalid UTF-8", errSyntax)}
		}
		if err := yield(v, start); err != nil {
			return n, err
		}
		n++
		if c, err = s.next(); err != nil {
			return n, err
		}
		s.skip()
		if c == ']' {
			return n, nil
		}
		if c != ',' {
			return n, s.fail(fmt.Errorf("%w: want , or ] after an element", errSyntax))
		}
	}
}

// unquote decodes a member name, raw with its quotes.
func unquote(raw []byte) (string, error) {
	if bytes.IndexByte(raw, '\\') < 0 {
		if !utf8.Valid(raw) {
			return "", fmt.Errorf("%w: invalid UTF-8", errSyntax)
		}
		return string(raw[1 : len(raw)-1]), nil
	}
	l := jlexer.Lexer{Data: raw}
	name := l.String()
	if err := l.Error(); err != nil {
		return "", err
	}
	return name, nil
}

// splitter reads JSON values from a bufio.Reader, finding where each ends.
type splitter struct {
	r   *bufio.Reader
	off int64  // input offset of the next byte
	buf []byte // the last value, reused

	// The scan's state within a value.
	depth       int
	inStr, esc  bool
	scalar, eof bool
}

// fail is an *splitError at the current offset.
func (s *splitter) fail(err error) error { return &splitError{Offset: s.off, Err: err} }

// readErr turns the reader's io.EOF into a truncation.
func (s *splitter) readErr(err error) error {
	if err == io.EOF {
		return s.fail(io.ErrUnexpectedEOF)
	}
	return err
}

// next returns the next byte that is not white space, without consuming
// it.
func (s *splitter) next() (byte, error) {
	for {
		b, err := s.r.Peek(1)
		if err != nil {
			return 0, s.readErr(err)
		}
		switch b[0] {
		case ' ', '\t', '\n', '\r':
			s.skip()
		default:
			return b[0], nil
		}
	}
}

// skip consumes the byte next returned.
func (s *splitter) skip() {
	s.r.Discard(1)
	s.off++
}

// colon consumes the colon after a member name.
func (s *splitter) colon() error {
	c, err := s.next()
	if err != nil {
		return err
	}
	if c != ':' {
		return s.fail(fmt.Errorf("%w: want : after a member name", errSyntax))
	}
	s.skip()
	return nil
}

// end checks that nothing but white space follows the object.
func (s *splitter) end() error {
	if _, err := s.next(); err == nil {
		return s.fail(errTrailingData)
	} else if !errors.Is(err, io.ErrUnexpectedEOF) {
		return err
	}
	return nil
}

// scalarOrValue is value where a number or literal may end the input: one
// that does not parse there is a truncation.
func (s *splitter) scalarOrValue() ([]byte, error) {
	v, err := s.value()
	if err == nil && s.eof && !json.Valid(v) {
		return nil, s.fail(io.ErrUnexpectedEOF)
	}
	return v, err
}

// value reads the value that starts at the next byte, which is not white
// space, and returns its bytes, valid until the next call. It checks
// nothing but that strings hold no control characters: a string, object or
// array ends at its closing quote or bracket, anything else at white space
// or a delimiter, or at the end of the input (s.eof).
func (s *splitter) value() ([]byte, error) {
	s.buf = s.buf[:0]
	s.depth, s.inStr, s.esc, s.eof = 0, false, false, false
	b, err := s.r.Peek(1)
	if err != nil {
		return nil, s.readErr(err)
	}
	s.scalar = b[0] != '{' && b[0] != '[' && b[0] != '"'
	for {
		if s.r.Buffered() == 0 {
			if _, err := s.r.Peek(1); err != nil {
				if err == io.EOF && s.scalar {
					s.eof = true
					return s.buf, nil
				}
				return nil, s.readErr(err)
			}
		}
		chunk, _ := s.r.Peek(s.r.Buffered())
		i, done, err := s.scan(chunk)
		s.buf = append(s.buf, chunk[:i]...)
		s.r.Discard(i)
		s.off += int64(i)
		if err != nil {
			return nil, err
		}
		if done {
			return s.buf, nil
		}
	}
}

// scan goes on with the value in chunk, returning how much of it belongs to
// the value and whether the value ended there.
func (s *splitter) scan(chunk []byte) (int, bool, error) {
	i := 0
	for i < len(chunk) {
		if s.inStr {
			// Most bytes of a string are plain: skip them in a tight loop.
			for i < len(chunk) && strPlain[chunk[i]] {
				i++
			}
			if i == len(chunk) {
				break
			}
			c := chunk[i]
			i++
			switch {
			case s.esc:
				s.esc = false
			case c == '\\':
				s.esc = true
			case c == '"':
				s.inStr = false
				if s.depth == 0 {
					return i, true, nil
				}
			default: // below 0x20
				return i - 1, false, &splitError{Offset: s.off + int64(i-1), Err: fmt.Errorf("%w: control character in a string", errSyntax)}
			}
			continue
		}
		if s.scalar {
			for i < len(chunk) && !ends[chunk[i]] {
				i++
			}
			if i < len(chunk) {
				return i, true, nil
			}
			break
		}
		for i < len(chunk) && !structural[chunk[i]] {
			i++
		}
		if i == len(chunk) {
			break
		}
		switch chunk[i] {
		case '"':
			s.inStr = true
		case '{', '[':
			s.depth++
		default: // '}', ']'
			s.depth--
			if s.depth == 0 {
				return i + 1, true, nil
			}
		}
		i++
	}
	return len(chunk), false, nil
}

// Byte classes for scan: plain bytes of a string (not a quote, backslash
// or control character), bytes that end a number or literal, and the
// bytes that matter outside strings.
var strPlain, ends, structural = func() (p, e, st [256]bool) {
	for c := range 256 {
		p[c] = c >= 0x20 && c != '"' && c != '\\'
	}
	for _, c := range " \t\n\r,:[]{}\"" {
		e[c] = true
	}
	for _, c := range "\"{}[]" {
		st[c] = true
	}
	return
}()
