package sim

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// field is one [key=value] pair of a unified-format log line.
type field struct{ key, value string }

func f(key string, value any) field {
	switch v := value.(type) {
	case string:
		return field{key, v}
	case uint64:
		return field{key, strconv.FormatUint(v, 10)}
	case int:
		return field{key, strconv.Itoa(v)}
	default:
		return field{key, fmt.Sprint(v)}
	}
}

// formatLine writes one line of TiKV's unified log format:
//
//	[2026/11/27 12:47:12.982 +00:00] [INFO] [raft.rs:1228] ["became leader at term 6"] [term=6]
//
// The message and field values are quoted, JSON-style, when they hold
// characters that would break the brackets (space, quote, =, [, ], control
// characters). It is the only place the format is written; it is meant to
// give way to logparse.Format.
func formatLine(t time.Time, level, source, msg string, fields ...field) string {
	var b strings.Builder
	b.WriteByte('[')
	b.WriteString(t.UTC().Format("2006/01/02 15:04:05.000 -07:00"))
	b.WriteString("] [")
	b.WriteString(level)
	b.WriteString("] [")
	b.WriteString(source)
	b.WriteString("] [")
	b.WriteString(quoteIfNeeded(msg))
	b.WriteByte(']')
	for _, fl := range fields {
		b.WriteString(" [")
		b.WriteString(quoteIfNeeded(fl.key))
		b.WriteByte('=')
		b.WriteString(quoteIfNeeded(fl.value))
		b.WriteByte(']')
	}
	b.WriteByte('\n')
	return b.String()
}

func quoteIfNeeded(s string) string {
	if s == "" {
		return `""`
	}
	for _, r := range s {
		if r <= ' ' || r == '"' || r == '=' || r == '[' || r == ']' || r == '\\' || r == 0x7f {
			return strconv.Quote(s)
		}
	}
	return s
}

// maxLogBytes bounds each in-memory log; older lines are dropped first.
const maxLogBytes = 4 << 20

// logSink keeps one component's log in memory and, optionally, in a file.
type logSink struct {
	mu   sync.Mutex
	buf  []byte
	file *os.File
	err  error // first write error of the file, reported by Close
}

func newLogSink(dir, name string) (*logSink, error) {
	s := &logSink{}
	if dir == "" {
		return s, nil
	}
	fh, err := os.OpenFile(filepath.Join(dir, name), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("sim: open log file: %w", err)
	}
	s.file = fh
	return s, nil
}

func (s *logSink) write(line string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.buf)+len(line) > maxLogBytes {
		drop := len(s.buf) / 2
		if i := strings.IndexByte(string(s.buf[drop:]), '\n'); i >= 0 {
			drop += i + 1
		}
		s.buf = append(s.buf[:0], s.buf[drop:]...)
	}
	s.buf = append(s.buf, line...)
	if s.file != nil && s.err == nil {
		if _, err := s.file.WriteString(line); err != nil {
			s.err = err
		}
	}
}

func (s *logSink) snapshot() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]byte(nil), s.buf...)
}

func (s *logSink) close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.file == nil {
		return s.err
	}
	err := s.file.Close()
	s.file = nil
	if s.err != nil {
		return s.err
	}
	return err
}
