package logparse

import (
	"bytes"
	"errors"
	"io"
	"iter"
	"strconv"
)

// DefaultMaxEntrySize is the default limit on the size of one entry (its
// line and its continuation lines) that a Reader accepts.
const DefaultMaxEntrySize = 64 << 20

const minRead = 256 << 10

// ReaderOption configures a Reader or an EventReader.
type ReaderOption func(*readerConfig)

type readerConfig struct {
	max    int
	follow bool
}

// WithMaxEntrySize sets the largest entry a reader accepts, in bytes. A
// longer one is skipped and reported as a [TooLongError]; the reader then
// goes on with the next line.
func WithMaxEntrySize(n int) ReaderOption {
	return func(c *readerConfig) {
		if n > 0 {
			c.max = n
		}
	}
}

// WithFollow makes a Reader wait for the rest of a line that the source has
// not finished writing: at io.EOF, a last line without its newline is kept
// for the next call instead of being parsed as it is. Use it to read a file
// that is still being written, calling Next again after io.EOF.
func WithFollow() ReaderOption {
	return func(c *readerConfig) { c.follow = true }
}

// lines is the buffer shared by Reader and EventReader: it reads from src
// in large chunks and keeps the unread bytes in buf[r:w].
type lines struct {
	cfg    readerConfig
	src    io.Reader
	buf    []byte
	r, w   int
	srcErr error
	// line is the number of lines before buf[r].
	line int64
}

func (l *lines) init(src io.Reader, opts []ReaderOption) {
	l.cfg = readerConfig{max: DefaultMaxEntrySize}
	for _, o := range opts {
		o(&l.cfg)
	}
	l.src = src
}

// reset points the buffer at a new source, dropping what it holds.
func (l *lines) reset(src io.Reader) {
	l.src, l.r, l.w, l.srcErr, l.line = src, 0, 0, nil, 0
}

// fill reads once from src into the buffer, compacting or growing it first
// when needed. It invalidates every slice of the buffer.
func (l *lines) fill() {
	if l.r > 0 && len(l.buf)-l.w < minRead {
		copy(l.buf, l.buf[l.r:l.w])
		l.w -= l.r
		l.r = 0
	}
	if len(l.buf)-l.w < minRead/2 {
		n := max(2*len(l.buf), minRead)
		n = min(n, l.cfg.max+minRead)
		if n > len(l.buf) {
			nb := make([]byte, n)
			l.w = copy(nb, l.buf[l.r:l.w])
			l.r = 0
			l.buf = nb
		}
	}
	for range 100 {
		n, err := l.src.Read(l.buf[l.w:])
		l.w += n
		if err != nil {
			l.srcErr = err
			return
		}
		if n > 0 {
			return
		}
	}
	l.srcErr = io.ErrNoProgress
}

// takeErr returns the source's error and forgets it, so that the next call
// reads again (a file being followed grows after io.EOF).
func (l *lines) takeErr() error {
	err := l.srcErr
	l.srcErr = nil
	return err
}

// lineEnd returns the offset, relative to l.r, of the end of the line that
// starts at relative offset from: the index of its newline, or the end of
// the data when the source ended without one (final is then true). It
// returns -1 when the line is not complete and no more data can be had now
// (the caller reports l.srcErr), and -2 when the unread data exceeds the
// size limit without a newline.
func (l *lines) lineEnd(from int) (end int, final bool) {
	scanned := from
	for {
		if i := bytes.IndexByte(l.buf[l.r+scanned:l.w], '\n'); i >= 0 {
			return scanned + i, false
		}
		scanned = l.w - l.r
		if l.w-l.r > l.cfg.max {
			return -2, false
		}
		if l.srcErr != nil {
			if scanned > from && (!l.cfg.follow || !errors.Is(l.srcErr, io.EOF)) {
				return scanned, true
			}
			return -1, false
		}
		l.fill()
	}
}

// skipLong discards the line at l.r, which is longer than the limit, up to
// and including its newline, and returns the error that reports it.
func (l *lines) skipLong() error {
	size := int64(0)
	for {
		if i := bytes.IndexByte(l.buf[l.r:l.w], '\n'); i >= 0 {
			size += int64(i)
			l.r += i + 1
			break
		}
		size += int64(l.w - l.r)
		l.r = l.w
		if l.srcErr != nil {
			break
		}
		l.fill()
	}
	l.line++
	return &TooLongError{Line: l.line, Size: size, Limit: l.cfg.max}
}

// startsEntry reports whether a line starting with b starts an entry: the
// '[' of a time, or the '{"' of a JSON entry.
func startsEntry(b []byte) bool {
	return len(b) >= 2 && ((b[0] == '[' && '0' <= b[1] && b[1] <= '9') || (b[0] == '{' && b[1] == '"'))
}

// Reader reads entries from a stream.
//
// Next and All hand out entries that own their memory: they may be kept,
// appended to a slice or used as map keys. For a caller that looks at each
// entry once and keeps nothing, NextRaw and AllRaw hand out the same
// entry as a [RawEntry] that borrows the reader's buffers, as
// bufio.Scanner's Bytes does: reading that way does not allocate once the
// buffers have grown to the size of the longest entry.
//
// A line that does not start an entry ("[" and a digit, or a JSON object)
// belongs to the entry before it, as its Continuation. An entry longer than
// the limit (see [WithMaxEntrySize]) and a line that does not parse are
// reported as errors for that entry only: the next call goes on with the
// next line.
//
// A Reader is not safe for concurrent use.
type Reader struct {
	l lines
	p parser
	// entry is the last entry parsed; its strings point into l.buf and
	// p.scratch, so it never leaves the package: Next hands out a copy,
	// NextRaw a RawEntry of []byte.
	entry Entry
	raw   RawEntry
}

// NewReader returns a Reader reading from src.
func NewReader(src io.Reader, opts ...ReaderOption) *Reader {
	r := &Reader{}
	r.l.init(src, opts)
	return r
}

// Reset makes the reader read from src, dropping what it had buffered from
// the previous source. Its buffers are kept.
func (r *Reader) Reset(src io.Reader) {
	r.l.reset(src)
}

// SetFollow turns follow mode (see [WithFollow]) on or off, for instance
// off to read a rotated file to its very end, a last line without its
// newline included.
func (r *Reader) SetFollow(on bool) { r.l.cfg.follow = on }

// Buffered returns the number of bytes read from the source and not yet
// returned as entries.
func (r *Reader) Buffered() int { return r.l.w - r.l.r }

// Next returns the next entry, which owns its memory. At the end of the
// source it returns io.EOF; a later call reads from the source again, so a
// growing file can be followed. Other errors of the source are returned as
// they are.
func (r *Reader) Next() (Entry, error) {
	if err := r.next(); err != nil {
		return Entry{}, err
	}
	return r.entry.Clone(), nil
}

// NextRaw is Next without the copy: it returns the next entry as a
// RawEntry that borrows the reader's buffers. The RawEntry and every byte
// slice in it are valid only until the next call to Next, NextRaw or
// Reset (or the next step of a loop over All or AllRaw); the reader then
// reuses them. Call [RawEntry.Entry] for a copy to keep. Its errors are
// Next's.
func (r *Reader) NextRaw() (*RawEntry, error) {
	if err := r.next(); err != nil {
		return nil, err
	}
	r.raw.set(&r.entry)
	return &r.raw, nil
}

// next parses the next entry into r.entry.
func (r *Reader) next() error {
	l := &r.l
	for {
		end, final := l.lineEnd(0)
		switch end {
		case -1:
			return l.takeErr()
		case -2:
			return l.skipLong()
		}
		if end > l.cfg.max {
			l.consume(end, final, 1)
			return &TooLongError{Line: l.line, Size: int64(end), Limit: l.cfg.max}
		}
		first := l.buf[l.r : l.r+end]
		if !startsEntry(first) && !(len(first) > 0 && (first[0] == '[' || first[0] == '{')) {
			// Lines that belong to no entry: before the first entry of
			// the stream, or left when an entry was cut. Blank ones go
			// unreported; the others make one error.
			if len(bytes.TrimSpace(first)) == 0 {
				l.consume(end, final, 1)
				continue
			}
			lastEnd, final, n := r.extend(end, final)
			err := syntaxErr(l.buf[l.r:l.r+end], 0, strconv.FormatInt(n, 10)+" line(s) without an entry before them")
			err.Line = l.line + 1
			l.consume(lastEnd, final, n)
			return err
		}
		lastEnd, final, n := r.extend(end, final)
		// lineEnd may have moved the buffer: take the slices now.
		first = l.buf[l.r : l.r+end]
		var cont []byte
		if lastEnd > end {
			cont = l.buf[l.r+end+1 : l.r+lastEnd]
		}
		lineNo := l.line + 1
		l.consume(lastEnd, final, n)
		err := r.p.parse(first, &r.entry)
		if err != nil {
			var se *SyntaxError
			if errors.As(err, &se) {
				se.Line = lineNo
			}
			return err
		}
		r.entry.Continuation = str(cont)
		return nil
	}
}

// extend finds the continuation lines of the line that ends at relative
// offset end: it returns the end of the last one, whether it ended the
// source, and the number of lines.
func (r *Reader) extend(end int, final bool) (lastEnd int, fin bool, n int64) {
	l := &r.l
	lastEnd, n = end, 1
	next := end + 1
	for !final {
		if !r.peekStart(next) {
			break
		}
		e2, f2 := l.lineEnd(next)
		if e2 < 0 || e2 > l.cfg.max {
			// No more data now, or too long with its continuation:
			// the entry ends here and the next call goes on.
			break
		}
		lastEnd, final, next = e2, f2, e2+1
		n++
	}
	return lastEnd, final, n
}

// peekStart reports whether the line at relative offset at exists and is a
// continuation line (does not start an entry), reading more if needed.
func (r *Reader) peekStart(at int) bool {
	l := &r.l
	for {
		avail := l.buf[l.r+at : l.w]
		if len(avail) >= 2 || (len(avail) == 1 && avail[0] == '\n') {
			return !startsEntry(avail)
		}
		if l.srcErr != nil {
			// No more data now: in follow mode the entry ends here.
			return len(avail) > 0 && !l.cfg.follow && avail[0] != '[' && avail[0] != '{'
		}
		if l.w-l.r > l.cfg.max {
			return false
		}
		l.fill()
	}
}

func (l *lines) consume(end int, final bool, n int64) {
	l.r += end
	if !final {
		l.r++
	}
	l.line += n
}

// All returns the entries up to the end of the source, with the errors of
// the lines that failed; it stops at io.EOF or at an error of the source.
// Each Entry owns its memory and may be kept.
func (r *Reader) All() iter.Seq2[Entry, error] { return all(r.Next) }

// AllRaw is All without the copies (see [Reader.NextRaw]): each RawEntry
// is valid only until the loop body returns, and is nil with an error.
func (r *Reader) AllRaw() iter.Seq2[*RawEntry, error] { return all(r.NextRaw) }

// all turns a Next method into an iterator that yields the errors about
// one line or entry and goes on, and stops at io.EOF or another error.
func all[T any](next func() (T, error)) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		for {
			v, err := next()
			if err != nil {
				if errors.Is(err, io.EOF) {
					return
				}
				if !errors.Is(err, ErrSyntax) && !errors.Is(err, ErrTooLong) {
					yield(v, err)
					return
				}
			}
			if !yield(v, err) {
				return
			}
		}
	}
}
