package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/kvops/operator/internal/progressline"
	"github.com/kvops/operator/invariant"
	"github.com/kvops/operator/subject"
)

// printer writes what watch sees, as text or as JSON lines. As text, an
// action's progress is one line redrawn in place on a terminal, under
// the lines printed meanwhile, and plain lines otherwise
// (internal/progressline); as JSON, one object per report.
type printer struct {
	mu   sync.Mutex
	w    io.Writer
	json bool
	line *progressline.Writer // text only
}

// newPrinter writes to w, which is a terminal when it is an *os.File that
// is one.
func newPrinter(w io.Writer, asJSON bool) *printer {
	f, ok := w.(*os.File)
	return newPrinterTo(w, asJSON, ok && progressline.IsTerminal(f))
}

func newPrinterTo(w io.Writer, asJSON, terminal bool) *printer {
	if asJSON {
		return &printer{w: w, json: true}
	}
	line := progressline.New(w, progressline.Config{Terminal: terminal})
	return &printer{w: line, line: line}
}

func (p *printer) emit(text string, obj map[string]any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.json {
		b, err := json.Marshal(obj)
		if err != nil {
			b = fmt.Appendf(nil, `{"type":"error","error":%q}`, err.Error())
		}
		fmt.Fprintf(p.w, "%s\n", b)
		return
	}
	fmt.Fprintln(p.w, text)
}

func (p *printer) info(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	p.emit("watch: "+msg, map[string]any{"type": "info", "message": msg})
}

func (p *printer) fault(at time.Time, what string) {
	p.emit(fmt.Sprintf("%s  fault     %s", clock(at), what), map[string]any{"type": "fault", "at": at, "message": what})
}

func (p *printer) acting(at time.Time, what string) {
	p.emit(fmt.Sprintf("%s  act       %s", clock(at), what), map[string]any{"type": "acting", "at": at, "message": what})
}

// progress shows the progress of the action under way; it is what
// subject.WithProgress takes.
func (p *printer) progress(pr subject.Progress) {
	if p.json {
		p.emit("", map[string]any{"type": "progress", "progress": pr})
		return
	}
	p.line.Progress(pr)
}

// action ends the action's progress with its outcome.
func (p *printer) action(at time.Time, res subject.Result, err error) {
	if p.line != nil {
		p.line.Done()
	}
	obj := map[string]any{"type": "action", "at": at, "result": res}
	text := fmt.Sprintf("%s  done      %s %s: %s", clock(at), res.Action, res.Target, res.Summary)
	if err != nil {
		obj["error"] = err.Error()
		text = fmt.Sprintf("%s  FAILED    %v", clock(at), err)
	}
	p.emit(text, obj)
}

func (p *printer) stores(at time.Time, stores []subject.Store) {
	p.emit(fmt.Sprintf("%s  stores    %s", clock(at), storesLine(stores)), map[string]any{"type": "stores", "at": at, "stores": stores})
}

func (p *printer) transition(tr invariant.Transition) {
	a := tr.Alert
	word, msg := strings.ToUpper(tr.To.String()), a.Message
	switch tr.To {
	case invariant.StateInactive:
		// A pending finding that cleared, or a resolved one forgotten.
		word, msg = "CLEARED", "no longer seen (was: "+a.Message+")"
	case invariant.StateResolved:
		msg = "no longer seen (was: " + a.Message + ")"
	}
	text := fmt.Sprintf("%s  %-9s %-8s %s %s: %s", clock(tr.At), word, a.Severity, tr.Invariant, tr.Key, msg)
	p.emit(text, map[string]any{
		"type": "transition", "at": tr.At, "invariant": tr.Invariant, "key": tr.Key,
		"from": tr.From, "to": tr.To, "severity": a.Severity, "message": a.Message, "value": a.Value,
	})
}

func (p *printer) checkError(at time.Time, ce invariant.CheckError) {
	p.emit(fmt.Sprintf("%s  cannot check %s (state kept): %v", clock(at), ce.Invariant, ce.Err),
		map[string]any{"type": "check_error", "at": at, "invariant": ce.Invariant, "error": ce.Err.Error()})
}

func clock(t time.Time) string { return t.Format("15:04:05") }

// storesLine summarises the stores' states and leader counts on one line.
func storesLine(stores []subject.Store) string {
	parts := make([]string, 0, len(stores))
	for _, s := range stores {
		parts = append(parts, fmt.Sprintf("%d:%s", s.ID, s.State))
	}
	return strings.Join(parts, "  ")
}
