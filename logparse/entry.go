package logparse

import (
	"strconv"
	"strings"
	"time"
	"unsafe"
)

// Level is an entry's severity.
type Level uint8

// The levels of the unified log format, least severe first. The zero value
// is LevelUnknown, which no parsed entry has.
const (
	LevelUnknown Level = iota
	LevelTrace
	LevelDebug
	LevelInfo
	LevelWarn
	LevelError
	LevelFatal
)

var levelNames = [...]string{"UNKNOWN", "TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"}

// String returns the level as the log spells it ("INFO", "WARN", ...).
func (l Level) String() string {
	if int(l) < len(levelNames) {
		return levelNames[l]
	}
	return "Level(" + strconv.Itoa(int(l)) + ")"
}

// ParseLevel parses a level name. Letter case is ignored; "WARNING" and
// "CRITICAL" (slog's names) are accepted as LevelWarn and LevelFatal.
func ParseLevel(name string) (Level, bool) {
	// ToUpper returns an upper-case name as it is, without allocating.
	switch strings.ToUpper(name) {
	case "INFO":
		return LevelInfo, true
	case "WARN", "WARNING":
		return LevelWarn, true
	case "ERROR":
		return LevelError, true
	case "DEBUG":
		return LevelDebug, true
	case "TRACE":
		return LevelTrace, true
	case "FATAL", "CRITICAL":
		return LevelFatal, true
	}
	return LevelUnknown, false
}

// Field is one key=value pair of an entry, unquoted. A field written
// without a key ("[]", or a bare word after the message) has an empty Key.
type Field struct {
	Key   string
	Value string
}

// Entry is one log entry. Every Entry the package hands out owns its
// memory: it may be kept, and its strings used as map keys. (The
// zero-allocation form of a [Reader] is a [RawEntry], which borrows.)
type Entry struct {
	// Time is when the entry was written, in the zone offset of the line.
	Time  time.Time
	Level Level
	// Name is the logger's name, which PD's embedded etcd writes between
	// the level and the source ("[raft]"); usually empty.
	Name string
	// Source is "file.rs:123", "<unknown>", or empty when the line has no
	// source.
	Source  string
	Message string
	// Fields are the entry's fields in the order of the line; TiKV's
	// trailing [thread_id=N] is one of them.
	Fields []Field
	// Continuation holds the lines that followed the entry without
	// starting an entry of their own (a panic message, a stack trace),
	// joined by "\n", without a final newline.
	Continuation string
}

// Lookup returns the value of the first field with the given key.
func (e *Entry) Lookup(key string) (string, bool) {
	for i := range e.Fields {
		if e.Fields[i].Key == key {
			return e.Fields[i].Value, true
		}
	}
	return "", false
}

// Uint returns the value of the first field with the given key as an
// unsigned decimal integer; ok is false when the field is missing or is not
// such a number.
func (e *Entry) Uint(key string) (v uint64, ok bool) {
	s, found := e.Lookup(key)
	if !found {
		return 0, false
	}
	return parseUint(s)
}

func parseUint(s string) (uint64, bool) {
	if len(s) == 0 || len(s) > 20 {
		return 0, false
	}
	var v uint64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		d := uint64(c - '0')
		if v > (1<<64-1-d)/10 {
			return 0, false
		}
		v = v*10 + d
	}
	return v, true
}

// Clone returns a copy of the entry with all its strings in one
// allocation. Entries are owned already; Clone is for one that a caller
// built over memory it will reuse.
func (e Entry) Clone() Entry {
	n := len(e.Name) + len(e.Source) + len(e.Message) + len(e.Continuation)
	for _, f := range e.Fields {
		n += len(f.Key) + len(f.Value)
	}
	c := e
	if e.Fields != nil {
		c.Fields = make([]Field, len(e.Fields))
	}
	if n == 0 {
		copy(c.Fields, e.Fields)
		return c
	}
	// The buffer is written here and never again, so strings over it are
	// as immutable as any other.
	buf := make([]byte, n)
	at := 0
	take := func(s string) string {
		if s == "" {
			return ""
		}
		k := copy(buf[at:], s)
		out := unsafe.String(&buf[at], k)
		at += k
		return out
	}
	c.Name = take(e.Name)
	c.Source = take(e.Source)
	c.Message = take(e.Message)
	c.Continuation = take(e.Continuation)
	for i, f := range e.Fields {
		c.Fields[i] = Field{Key: take(f.Key), Value: take(f.Value)}
	}
	return c
}

// RawField is a [Field] borrowed from a [Reader]'s buffers.
type RawField struct {
	Key   []byte
	Value []byte
}

// RawEntry is an [Entry] borrowed from a [Reader]'s buffers, handed out by
// [Reader.NextRaw] and [Reader.AllRaw] for reading without allocating. It
// holds only []byte, never a string: like bufio.Scanner's Bytes, it and
// all its slices are valid until the next call to the reader that made it
// (Next, NextRaw, Reset, or the next step of a loop over All or AllRaw),
// which overwrites them. Keep nothing of it; call [RawEntry.Entry] for an
// owned copy, or string(b) for one field.
type RawEntry struct {
	Time         time.Time
	Level        Level
	Name         []byte
	Source       []byte
	Message      []byte
	Fields       []RawField
	Continuation []byte
}

// set points r at e's memory, reusing r's Fields.
func (r *RawEntry) set(e *Entry) {
	r.Time, r.Level = e.Time, e.Level
	r.Name, r.Source, r.Message, r.Continuation = bytesOf(e.Name), bytesOf(e.Source), bytesOf(e.Message), bytesOf(e.Continuation)
	r.Fields = r.Fields[:0]
	for _, f := range e.Fields {
		r.Fields = append(r.Fields, RawField{Key: bytesOf(f.Key), Value: bytesOf(f.Value)})
	}
}

// bytesOf returns the bytes of a string that the parser made over one of
// its own buffers (see str): they are a []byte to begin with.
func bytesOf(s string) []byte {
	if s == "" {
		return nil
	}
	return unsafe.Slice(unsafe.StringData(s), len(s))
}

// Lookup returns the value of the first field with the given key,
// borrowed as the RawEntry is.
func (r *RawEntry) Lookup(key string) ([]byte, bool) {
	for i := range r.Fields {
		if string(r.Fields[i].Key) == key {
			return r.Fields[i].Value, true
		}
	}
	return nil, false
}

// Entry returns an owned copy of the entry, all its strings in one
// allocation.
func (r *RawEntry) Entry() Entry {
	n := len(r.Name) + len(r.Source) + len(r.Message) + len(r.Continuation)
	for _, f := range r.Fields {
		n += len(f.Key) + len(f.Value)
	}
	buf := make([]byte, 0, n)
	take := func(b []byte) string {
		if len(b) == 0 {
			return ""
		}
		start := len(buf)
		buf = append(buf, b...)
		return unsafe.String(&buf[start], len(b))
	}
	e := Entry{Time: r.Time, Level: r.Level, Name: take(r.Name), Source: take(r.Source), Message: take(r.Message)}
	if len(r.Fields) > 0 {
		e.Fields = make([]Field, len(r.Fields))
		for i, f := range r.Fields {
			e.Fields[i] = Field{Key: take(f.Key), Value: take(f.Value)}
		}
	}
	e.Continuation = take(r.Continuation)
	return e
}
