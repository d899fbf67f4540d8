package logparse

import (
	"errors"
	"fmt"
	"strconv"
)

// ErrSyntax is matched (with errors.Is) by every error about a line that is
// not in the unified log format.
var ErrSyntax = errors.New("logparse: syntax error")

// ErrTooLong is matched by the error a reader returns for an entry longer
// than its limit; the reader skips that entry and goes on with the next.
var ErrTooLong = errors.New("logparse: entry too long")

// SyntaxError describes a line that could not be parsed.
type SyntaxError struct {
	// Line is the 1-based line number in the stream, 0 when unknown.
	Line int64
	// Offset is the byte offset in the line where parsing failed.
	Offset int
	// Msg says what was wrong.
	Msg string
	// Text is the start of the line (at most 256 bytes), so that nothing
	// read is lost without trace.
	Text string
}

// Error implements error.
func (e *SyntaxError) Error() string {
	s := "logparse: "
	if e.Line > 0 {
		s += "line " + strconv.FormatInt(e.Line, 10) + ": "
	}
	return s + e.Msg + " at byte " + strconv.Itoa(e.Offset) + ": " + strconv.Quote(e.Text)
}

// Unwrap returns ErrSyntax.
func (e *SyntaxError) Unwrap() error { return ErrSyntax }

// TooLongError describes an entry that exceeded a reader's size limit.
type TooLongError struct {
	// Line is the 1-based number of the entry's first line, 0 when unknown.
	Line int64
	// Size is the number of bytes of the line that were read before it was
	// skipped; the whole line is at least that long.
	Size int64
	// Limit is the reader's limit.
	Limit int
}

// Error implements error.
func (e *TooLongError) Error() string {
	return fmt.Sprintf("logparse: line %d: entry of at least %d bytes exceeds the limit of %d bytes; skipped", e.Line, e.Size, e.Limit)
}

// Unwrap returns ErrTooLong.
func (e *TooLongError) Unwrap() error { return ErrTooLong }

const excerptLen = 256

func syntaxErr(line []byte, off int, msg string) *SyntaxError {
	t := line
	if len(t) > excerptLen {
		t = t[:excerptLen]
	}
	return &SyntaxError{Offset: off, Msg: msg, Text: string(t)}
}
