// Package progressline shows the progress of an action (subject.Progress)
// the way a person expects in a terminal: on a terminal, one line redrawn
// in place (a carriage return and an erase, as curl or apt do), with
// everything else the program prints scrolling above it; anywhere else (a
// file, a pipe, a CI log) plain lines, few enough to read.
//
// The examples share it (restart-store and watch); it is internal because
// a program of one's own will want its own look.
package progressline

import (
	"bytes"
	"cmp"
	"io"
	"os"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/kvops/operator/subject"
)

// erase returns the cursor to the start of the line and erases it (CR,
// then ANSI "erase in line", which every terminal emulator in use knows).
const erase = "\r\x1b[K"

// Config configures a Writer. Zero fields take the defaults named.
type Config struct {
	// Terminal redraws one progress line in place; otherwise progress is
	// written as plain lines.
	Terminal bool
	// Width is the terminal's width in columns (default: $COLUMNS when
	// the shell exports it, otherwise 80). The live
	// line is cut to fit: a line that wraps cannot be redrawn by a
	// carriage return, which goes back to the start of its last row only.
	Width int
	// Every is, for plain lines, how long a wait goes on (by its own
	// clock, Progress.Waited) before a report that changed nothing but
	// the counts is written anyway (default 10s).
	Every time.Duration
}

// Writer writes a program's output and the progress of its actions to
// one io.Writer. It is safe for concurrent use: an action's progress and
// the program's other lines may come from different goroutines.
type Writer struct {
	mu    sync.Mutex
	w     io.Writer
	cfg   Config
	live  string // the progress line, on a terminal; "" when none
	drawn bool   // live is on the screen
	open  bool   // the last write did not end its line
	// For plain lines: the last report, and the last one written.
	last, printed subject.Progress
	have, wrote   bool
}

// New returns a Writer to w.
func New(w io.Writer, cfg Config) *Writer {
	cfg.Width = cmp.Or(cfg.Width, columns(), 80)
	cfg.Every = cmp.Or(cfg.Every, 10*time.Second)
	return &Writer{w: w, cfg: cfg}
}

// IsTerminal reports whether f is a terminal a person looks at: a
// character device, and TERM is not "dumb". The standard library says
// which files are character devices (os.ModeCharDevice), which spares a
// dependency (golang.org/x/term asks the kernel for the terminal's modes);
// the one character device that is not a terminal and gets written to,
// /dev/null, reads nothing, so the redrawing it receives costs nothing.
func IsTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0 && os.Getenv("TERM") != "dumb"
}

// Write writes b above the progress line, which it redraws once b ends
// its line.
func (w *Writer) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(b) == 0 {
		return 0, nil
	}
	if err := w.hide(); err != nil {
		return 0, err
	}
	n, err := w.w.Write(b)
	if err != nil {
		return n, err
	}
	w.open = b[len(b)-1] != '\n'
	return n, w.show()
}

// Progress shows p: on a terminal, in place of the previous progress
// line; otherwise as a plain line when the wait began, its status or its
// read error changed, or Config.Every has passed since the last line
// written. It has the signature subject.WithProgress takes.
func (w *Writer) Progress(p subject.Progress) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.cfg.Terminal {
		w.live = fit(p.String(), w.cfg.Width-1)
		_ = w.show()
		return
	}
	prev := w.printed
	w.last, w.have = p, true
	if !w.wrote || p.Waiting != prev.Waiting || p.Reads < prev.Reads || p.Status != prev.Status ||
		p.ReadError != prev.ReadError || p.Waited-prev.Waited >= w.cfg.Every {
		_ = w.line(p)
	}
}

// Done ends the action's progress: on a terminal the line is erased (the
// program then prints the action's outcome in its place); in plain lines
// the last report is written if it was not.
func (w *Writer) Done() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.cfg.Terminal {
		_ = w.hide()
		w.live = ""
		return
	}
	if w.have && w.last != w.printed {
		_ = w.line(w.last)
	}
	w.have, w.wrote = false, false
	w.last, w.printed = subject.Progress{}, subject.Progress{}
}

// line writes p as a plain line.
func (w *Writer) line(p subject.Progress) error {
	w.printed, w.wrote = p, true
	var b bytes.Buffer
	if w.open {
		b.WriteByte('\n')
		w.open = false
	}
	b.WriteString("  ... " + p.String() + "\n")
	_, err := w.w.Write(b.Bytes())
	return err
}

// hide erases the progress line from the screen.
func (w *Writer) hide() error {
	if !w.drawn {
		return nil
	}
	w.drawn = false
	_, err := io.WriteString(w.w, erase)
	return err
}

// show draws the progress line, unless a line of the program's is open.
func (w *Writer) show() error {
	if w.live == "" || w.open {
		return nil
	}
	w.drawn = true
	_, err := io.WriteString(w.w, erase+w.live)
	return err
}

// columns reads $COLUMNS, 0 when unset or not a width.
func columns() int {
	n, err := strconv.Atoi(os.Getenv("COLUMNS"))
	if err != nil || n <= 0 {
		return 0
	}
	return n
}

// fit cuts s to n runes, ending with "…" when cut.
func fit(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:max(n-1, 0)]) + "…"
}

// Screen returns the lines a terminal shows after b, for tests of what
// a person sees: it moves to the start of the
// line on "\r", erases to the end of the line on ESC [ K, starts a new
// line on "\n", and otherwise writes over what is under the cursor.
func Screen(b []byte) []string {
	lines := [][]rune{nil}
	col := 0
	for len(b) > 0 {
		cur := &lines[len(lines)-1]
		if rest, ok := bytes.CutPrefix(b, []byte("\x1b[K")); ok {
			*cur, b = (*cur)[:col], rest
			continue
		}
		r, n := utf8.DecodeRune(b)
		b = b[n:]
		switch r {
		case '\r':
			col = 0
		case '\n':
			lines, col = append(lines, nil), 0
		default:
			if col < len(*cur) {
				(*cur)[col] = r
			} else {
				*cur = append(*cur, r)
			}
			col++
		}
	}
	out := make([]string, len(lines))
	for i, l := range lines {
		out[i] = string(l)
	}
	return out
}
