package logparse

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"os"
	"regexp"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"
)

// result is what a reader gave for one call: an entry or an error.
type result struct {
	Msg, Cont string
	Err       string
}

func readAll(t *testing.T, r *Reader) []result {
	t.Helper()
	var out []result
	for e, err := range r.All() {
		if err != nil {
			var se *SyntaxError
			var tl *TooLongError
			switch {
			case errors.As(err, &se):
				out = append(out, result{Err: "syntax@" + itoa(se.Line)})
			case errors.As(err, &tl):
				out = append(out, result{Err: "toolong@" + itoa(tl.Line)})
			default:
				out = append(out, result{Err: err.Error()})
			}
			continue
		}
		out = append(out, result{Msg: e.Message, Cont: e.Continuation})
	}
	return out
}

func itoa(n int64) string { return string(appendInt(nil, int(n), 1)) }

func line(msg string) string {
	return `[2024/07/24 12:47:12.981 +00:00] [INFO] [a.rs:1] ["` + msg + `"] [k=v]` + "\n"
}

func TestReader(t *testing.T) {
	long := `[2024/07/24 12:47:12.981 +00:00] [INFO] [a.rs:1] ["` + strings.Repeat("x", 5000) + `"]` + "\n"
	tests := []struct {
		name  string
		input string
		max   int
		want  []result
	}{{
		name:  "plain",
		input: line("one") + line("two"),
		want:  []result{{Msg: "one"}, {Msg: "two"}},
	}, {
		name:  "continuation lines, CRLF, no final newline",
		input: line("panic") + "goroutine 1 [running]:\n\tmain.go:12\n\n" + strings.TrimSuffix(line("after"), "\n") + "\r\n" + line("last") + "trace",
		want:  []result{{Msg: "panic", Cont: "goroutine 1 [running]:\n\tmain.go:12\n"}, {Msg: "after"}, {Msg: "last", Cont: "trace"}},
	}, {
		name:  "lines before the first entry",
		input: "\n  \nstray text\n\tmore stray text\n" + line("one"),
		want:  []result{{Err: "syntax@3"}, {Msg: "one"}},
	}, {
		name:  "a bad line fails alone",
		input: line("one") + "[2024/07/24 12:47:12.981 +00:00] [LOUD] [a.rs:1] [x]\n" + line("three"),
		want:  []result{{Msg: "one"}, {Err: "syntax@2"}, {Msg: "three"}},
	}, {
		name:  "a line over the limit fails alone",
		input: line("one") + long + line("three") + long,
		max:   1000,
		want:  []result{{Msg: "one"}, {Err: "toolong@2"}, {Msg: "three"}, {Err: "toolong@4"}},
	}, {
		name:  "an entry whose continuation goes over the limit is cut before it",
		input: line("one") + strings.Repeat("y", 600) + "\n" + strings.Repeat("z", 600) + "\n" + line("two"),
		max:   1000,
		want:  []result{{Msg: "one", Cont: strings.Repeat("y", 600)}, {Err: "syntax@3"}, {Msg: "two"}},
	}, {
		name:  "JSON lines",
		input: `{"time":"2024/07/24 12:47:12.981 +00:00","level":"INFO","message":"j"}` + "\n" + line("t"),
		want:  []result{{Msg: "j"}, {Msg: "t"}},
	}}
	for _, tt := range tests {
		for _, mode := range []string{"whole", "byte at a time"} {
			t.Run(tt.name+"/"+mode, func(t *testing.T) {
				var src io.Reader = strings.NewReader(tt.input)
				if mode != "whole" {
					src = iotest.OneByteReader(src)
				}
				var opts []ReaderOption
				if tt.max > 0 {
					opts = append(opts, WithMaxEntrySize(tt.max))
				}
				got := readAll(t, NewReader(src, opts...))
				if diff := cmp.Diff(tt.want, got); diff != "" {
					t.Errorf("entries (-want +got):\n%s", diff)
				}
			})
		}
	}
}

func TestReaderLinesOfSeveralMB(t *testing.T) {
	big := `[2024/07/24 12:47:12.981 +00:00] [INFO] [a.rs:1] [big] [v="` + strings.Repeat(`ab\"`, 1<<20) + `"]` + "\n"
	r := NewReader(strings.NewReader(line("one") + big + line("three")))
	got := readAll(t, r)
	want := []result{{Msg: "one"}, {Msg: "big"}, {Msg: "three"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// errAfter returns its data, then an error that is not io.EOF.
type errAfter struct {
	r   io.Reader
	err error
}

func (e *errAfter) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err == io.EOF {
		return n, e.err
	}
	return n, err
}

func TestReaderSourceError(t *testing.T) {
	boom := errors.New("boom")
	r := NewReader(&errAfter{r: strings.NewReader(line("one") + "partial"), err: boom})
	e, err := r.Next()
	require.NoError(t, err)
	if e.Message != "one" || e.Continuation != "partial" {
		t.Errorf("got %q %q", e.Message, e.Continuation)
	}
	if _, err := r.Next(); !errors.Is(err, boom) {
		t.Errorf("Next = %v, want boom", err)
	}
}

// TestReaderFollow reads a stream that grows: with WithFollow a line
// without its newline waits for the rest, and io.EOF is not final.
func TestReaderFollow(t *testing.T) {
	var buf bytes.Buffer
	r := NewReader(&buf, WithFollow())
	full := line("first")
	buf.WriteString(full[:20])
	if _, err := r.Next(); err != io.EOF {
		t.Fatalf("Next on half a line = %v, want io.EOF", err)
	}
	buf.WriteString(full[20:])
	e, err := r.Next()
	require.NoError(t, err)
	if e.Message != "first" {
		t.Errorf("message %q", e.Message)
	}
	if _, err := r.Next(); err != io.EOF {
		t.Fatalf("Next = %v, want io.EOF", err)
	}
	buf.WriteString(line("second"))
	e, err = r.Next()
	require.NoError(t, err)
	if e.Message != "second" {
		t.Errorf("message %q", e.Message)
	}
}

// TestReaderRealPDLog reads the real PD log: every line parses, and every
// entry survives Format and ParseLine.
func TestReaderRealPDLog(t *testing.T) {
	f, err := os.Open("testdata/pd-balance-leader.log")
	require.NoError(t, err)
	defer f.Close()
	r := NewReader(f)
	var n, long, leader int
	for e, err := range r.All() {
		require.NoError(t, err)
		n++
		if e.Message == "leader changed" {
			leader++
		}
		text := Format(e)
		if len(text) > 1000 {
			long++
		}
		again, err := ParseLine(text)
		require.NoError(t, err)
		if diff := cmp.Diff(e, again); diff != "" {
			t.Fatalf("round trip of %q (-want +got):\n%s", text, diff)
		}
	}
	if n != 6000 || leader != 1356 || long != 14 {
		t.Errorf("entries %d, leader changed %d, long %d; want 6000, 1356, 14 (lines over 1,000 bytes)", n, leader, long)
	}
}

// TestReaderMatchesParseLine checks the streaming path against ParseLine
// line by line, and Format against the original lines.
var bareTime = regexp.MustCompile(`=\d{4}/\d\d/\d\d \d\d:\d\d:\d\d\.\d+ [+-]\d\d:\d\d\]`)

func TestReaderMatchesParseLine(t *testing.T) {
	data, err := os.ReadFile("testdata/pd-balance-leader.log")
	require.NoError(t, err)
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	r := NewReader(bytes.NewReader(data))
	for sc.Scan() {
		want, err := ParseLine(sc.Bytes())
		require.NoError(t, err)
		got, err := r.Next()
		require.NoError(t, err)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("(-ParseLine +Reader):\n%s", diff)
		}
		// Format writes every real line exactly as PD wrote it, but for
		// time values, which zap writes unquoted despite their spaces.
		if f := Format(got); string(f) != sc.Text()+"\n" && !bareTime.Match(sc.Bytes()) {
			t.Fatalf("Format =\n%s\nwant\n%s", f, sc.Bytes())
		}
	}
	if _, err := r.Next(); err != io.EOF {
		t.Errorf("Next at the end = %v", err)
	}
}

// TestReaderZeroAllocs: the borrowing form does not allocate once the
// buffers have grown.
func TestReaderZeroAllocs(t *testing.T) {
	data, err := os.ReadFile("testdata/pd-balance-leader.log")
	require.NoError(t, err)
	r := NewReader(nil)
	pass := readPass(data, r.Reset, func() error { _, err := r.NextRaw(); return err })
	read := func() { require.NoError(t, pass()) }
	read() // grow the buffers
	if n := testing.AllocsPerRun(5, read); n != 0 {
		t.Errorf("%v allocations per pass over 6,000 lines, want 0", n)
	}
}
