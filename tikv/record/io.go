package record

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/kvops/operator/subject"
)

// ErrTruncated says that a recording ends before its end line: the
// writer stopped (a crash, a full disk) or the file was cut. It wraps
// subject.ErrInvalid. The entries read before it are whole and may be
// used, knowing that the recording stops there.
var ErrTruncated = fmt.Errorf("record: recording ends before its end line: %w", subject.ErrInvalid)

// UnsupportedError says that a file is not a recording this package
// reads: another format, or a newer version. It wraps subject.ErrNotSupported.
type UnsupportedError struct {
	Format  string
	Version int
}

func (e *UnsupportedError) Error() string {
	return fmt.Sprintf("record: %q version %d is not a recording this package reads (%q up to version %d)",
		e.Format, e.Version, Format, Version)
}

// Unwrap makes errors.Is(err, subject.ErrNotSupported) hold.
func (e *UnsupportedError) Unwrap() error { return subject.ErrNotSupported }

// SyntaxError says that a line of a recording is not what its format
// says. It wraps subject.ErrInvalid, and the decoding error.
type SyntaxError struct {
	// Line is the 1-based line number.
	Line int64
	Err  error
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("record: line %d: %v", e.Line, e.Err)
}

// Unwrap makes errors.Is(err, subject.ErrInvalid) hold and exposes the
// decoding error.
func (e *SyntaxError) Unwrap() []error { return []error{subject.ErrInvalid, e.Err} }

// MarshalJSON writes s as [unix milliseconds, "value"].
func (s Sample) MarshalJSON() ([]byte, error) {
	b := make([]byte, 0, 32)
	b = append(b, '[')
	b = strconv.AppendInt(b, s.T.UnixMilli(), 10)
	b = append(b, ',', '"')
	b = strconv.AppendFloat(b, s.V, 'g', -1, 64)
	return append(b, '"', ']'), nil
}

// UnmarshalJSON reads what MarshalJSON writes.
func (s *Sample) UnmarshalJSON(b []byte) error {
	var pair [2]json.RawMessage
	if err := json.Unmarshal(b, &pair); err != nil {
		return err
	}
	var ms int64
	if err := json.Unmarshal(pair[0], &ms); err != nil {
		return fmt.Errorf("sample time: %w", err)
	}
	var text string
	if err := json.Unmarshal(pair[1], &text); err != nil {
		return fmt.Errorf("sample value: %w", err)
	}
	v, err := strconv.ParseFloat(text, 64)
	if err != nil {
		return fmt.Errorf("sample value %q: %w", text, err)
	}
	s.T, s.V = time.UnixMilli(ms).UTC(), v
	return nil
}

// Writer writes a recording line by line. It buffers: Close (or Flush)
// writes what is buffered. It is not safe for concurrent use.
type Writer struct {
	w       *bufio.Writer
	entries int64
	last    time.Time
	closed  bool
	err     error
}

// NewWriter writes h, with Format and Version filled in, as the first line
// of a recording on w.
func NewWriter(w io.Writer, h Header) (*Writer, error) {
	h.Format, h.Version = Format, Version
	if h.End.Before(h.Start) {
		return nil, fmt.Errorf("record: header ends (%v) before it starts (%v): %w", h.End, h.Start, subject.ErrInvalid)
	}
	rw := &Writer{w: bufio.NewWriterSize(w, 256<<10)}
	if err := rw.Write(Entry{Kind: KindHeader, Header: &h}); err != nil {
		return nil, err
	}
	return rw, nil
}

// Write writes e as one line. Its kind must match the field it sets; a
// header or an end line is written by NewWriter and Close only.
func (w *Writer) Write(e Entry) error {
	if w.err != nil {
		return w.err
	}
	if w.closed {
		return fmt.Errorf("record: write after Close: %w", subject.ErrPrecondition)
	}
	if err := e.check(); err != nil {
		return err
	}
	if (e.Kind == KindHeader) != (w.entries == 0) || e.Kind == KindEnd && w.entries == 0 {
		return fmt.Errorf("record: a %s line at line %d: %w", e.Kind, w.entries+1, subject.ErrInvalid)
	}
	b, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("record: %s line: %w: %w", e.Kind, subject.ErrInvalid, err)
	}
	if _, err := w.w.Write(append(b, '\n')); err != nil {
		w.err = err
		return err
	}
	w.entries++
	if at := e.At(); at.After(w.last) {
		w.last = at
	}
	return nil
}

// Entries is the number of lines written so far.
func (w *Writer) Entries() int64 { return w.entries }

// Flush writes what is buffered to the underlying writer.
func (w *Writer) Flush() error {
	if w.err != nil {
		return w.err
	}
	if err := w.w.Flush(); err != nil {
		w.err = err
	}
	return w.err
}

// Close writes the end line, at the time of the latest entry written (or
// at, when later), and flushes. It does not close the underlying writer;
// a caller writing a file syncs and closes it after.
func (w *Writer) Close(at time.Time) error {
	if w.closed {
		return nil
	}
	if at.Before(w.last) {
		at = w.last
	}
	err := w.Write(Entry{Kind: KindEnd, End: &End{At: at, Entries: w.entries}})
	w.closed = true
	if err != nil {
		return err
	}
	return w.Flush()
}

func (e Entry) check() error {
	n := 0
	for _, set := range []bool{e.Header != nil, e.PD != nil, e.Regions != nil, e.Series != nil, e.Log != nil, e.End != nil} {
		if set {
			n++
		}
	}
	ok := n == 1
	switch e.Kind {
	case KindHeader:
		ok = ok && e.Header != nil
	case KindPD:
		ok = ok && e.PD != nil
	case KindRegions:
		ok = ok && e.Regions != nil
	case KindSeries:
		ok = ok && e.Series != nil
	case KindLog:
		ok = ok && e.Log != nil
	case KindEnd:
		ok = ok && e.End != nil
	default:
		return fmt.Errorf("record: unknown kind %q: %w", e.Kind, subject.ErrInvalid)
	}
	if !ok {
		return fmt.Errorf("record: a %q entry must set exactly its own field: %w", e.Kind, subject.ErrInvalid)
	}
	return nil
}

// MaxLine is the longest line a Reader accepts unless told otherwise.
const MaxLine = 64 << 20

// Reader reads a recording line by line, holding one line in memory.
type Reader struct {
	r       *bufio.Reader
	header  Header
	line    int64
	maxLine int
	done    bool
	err     error
}

// NewReader reads the header of the recording on r. A file of another
// format or a newer version is refused with an *UnsupportedError; a
// first line that is not a header with a *SyntaxError.
func NewReader(r io.Reader) (*Reader, error) {
	rd := &Reader{r: bufio.NewReaderSize(r, 256<<10), maxLine: MaxLine}
	e, err := rd.next()
	if errors.Is(err, io.EOF) {
		return nil, ErrTruncated
	}
	if err != nil {
		return nil, err
	}
	if e.Kind != KindHeader {
		return nil, &SyntaxError{Line: 1, Err: fmt.Errorf("the first line is a %q, not a header", e.Kind)}
	}
	if e.Header.Format != Format || e.Header.Version < 1 || e.Header.Version > Version {
		return nil, &UnsupportedError{Format: e.Header.Format, Version: e.Header.Version}
	}
	rd.header = *e.Header
	return rd, nil
}

// Header is the recording's header.
func (r *Reader) Header() Header { return r.header }

// Next returns the next entry, io.EOF after the end line has been read
// and checked, ErrTruncated when the input ends before it (or with a
// line cut short), and a *SyntaxError for a line that does not decode.
// After an error, Next returns it again.
func (r *Reader) Next() (Entry, error) {
	if r.err != nil {
		return Entry{}, r.err
	}
	if r.done {
		return Entry{}, io.EOF
	}
	e, err := r.next()
	switch {
	case errors.Is(err, io.EOF):
		err = ErrTruncated
	case err != nil:
	case e.Kind == KindHeader:
		err = &SyntaxError{Line: r.line, Err: errors.New("a second header")}
	case e.Kind == KindEnd:
		if e.End.Entries != r.line-1 {
			err = &SyntaxError{Line: r.line, Err: fmt.Errorf("the end line counts %d lines before it, the file has %d", e.End.Entries, r.line-1)}
			break
		}
		r.done = true
		if _, perr := r.r.Peek(1); perr == nil {
			err = &SyntaxError{Line: r.line + 1, Err: errors.New("lines after the end line")}
			break
		}
		return e, nil
	}
	if err != nil {
		r.err = err
		return Entry{}, err
	}
	return e, nil
}

func (r *Reader) next() (Entry, error) {
	var line []byte
	for {
		chunk, err := r.r.ReadSlice('\n')
		if len(line)+len(chunk) > r.maxLine {
			return Entry{}, &SyntaxError{Line: r.line + 1, Err: fmt.Errorf("line longer than %d bytes", r.maxLine)}
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			line = append(line, chunk...)
			continue
		}
		if err != nil {
			if len(line)+len(chunk) > 0 {
				// A last line without its newline: written in part.
				return Entry{}, ErrTruncated
			}
			return Entry{}, err
		}
		if line == nil {
			line = chunk
		} else {
			line = append(line, chunk...)
		}
		break
	}
	r.line++
	var e Entry
	d := json.NewDecoder(bytes.NewReader(line))
	d.DisallowUnknownFields()
	if err := d.Decode(&e); err != nil {
		return Entry{}, &SyntaxError{Line: r.line, Err: err}
	}
	if err := e.check(); err != nil {
		return Entry{}, &SyntaxError{Line: r.line, Err: err}
	}
	return e, nil
}
