package tikvtest

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/kvops/operator/logparse"
)

// f returns a field of a log entry, its value written as TiKV and PD write
// numbers and strings.
func f(key string, value any) logparse.Field {
	switch v := value.(type) {
	case string:
		return logparse.Field{Key: key, Value: v}
	case uint64:
		return logparse.Field{Key: key, Value: strconv.FormatUint(v, 10)}
	case int:
		return logparse.Field{Key: key, Value: strconv.Itoa(v)}
	default:
		return logparse.Field{Key: key, Value: fmt.Sprint(v)}
	}
}

// entry returns a log entry as TiKV and PD write it: stamped in UTC, to the
// millisecond, with a source position,
//
//	[2026/11/27 12:47:12.982 +00:00] [INFO] [raft.rs:1228] ["became leader at term 6"] [term=6]
//
// The sinks write it with logparse.AppendFormat, so every line the
// simulator writes is one logparse reads back as the same entry.
func entry(t time.Time, level logparse.Level, source, msg string, fields ...logparse.Field) logparse.Entry {
	return logparse.Entry{Time: t.UTC().Truncate(time.Millisecond), Level: level, Source: source, Message: msg, Fields: fields}
}

// maxLogBytes bounds each in-memory log; older lines are dropped first.
const maxLogBytes = 4 << 20

// logSink keeps one component's log in memory and, optionally, in a file.
type logSink struct {
	mu   sync.Mutex
	buf  []byte
	line []byte // the line being written, reused
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
		return nil, fmt.Errorf("tikvtest: open log file: %w", err)
	}
	s.file = fh
	return s, nil
}

// write appends an entry to the log, in the unified format.
func (s *logSink) write(e logparse.Entry) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.line = logparse.AppendFormat(s.line[:0], e)
	line := s.line
	if len(s.buf)+len(line) > maxLogBytes {
		drop := len(s.buf) / 2
		if i := bytes.IndexByte(s.buf[drop:], '\n'); i >= 0 {
			drop += i + 1
		}
		s.buf = append(s.buf[:0], s.buf[drop:]...)
	}
	s.buf = append(s.buf, line...)
	if s.file != nil && s.err == nil {
		if _, err := s.file.Write(line); err != nil {
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
