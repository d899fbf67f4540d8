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

// Entry is one log entry.
//
// An Entry returned by a [Reader] or an [EventReader] shares memory with the
// reader's buffers: its strings and Fields are valid only until the next
// call to the reader. Call [Entry.Clone] to keep one. An Entry returned by
// [ParseLine] owns its memory.
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

// Clone returns a copy of the entry that shares no memory with the reader
// it came from. All its strings are copied into one allocation.
func (e Entry) Clone() Entry {
	n := len(e.Name) + len(e.Source) + len(e.Message) + len(e.Continuation)
	for _, f := range e.Fields {
		n += len(f.Key) + len(f.Value)
	}
	buf := make([]byte, 0, n)
	take := func(s string) string {
		if s == "" {
			return ""
		}
		start := len(buf)
		buf = append(buf, s...)
		return unsafe.String(&buf[start], len(s))
	}
	c := e
	c.Name = take(e.Name)
	c.Source = take(e.Source)
	c.Message = take(e.Message)
	c.Continuation = take(e.Continuation)
	if e.Fields != nil {
		c.Fields = make([]Field, len(e.Fields))
		for i, f := range e.Fields {
			c.Fields[i] = Field{Key: take(f.Key), Value: take(f.Value)}
		}
	}
	return c
}
