package logparse

import (
	"bytes"
	"time"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"
)

// ParseLine parses one entry: a line of the unified log format
//
//	[2024/07/24 12:47:12.982 +00:00] [INFO] [raft.rs:1228] ["became leader at term 6"] [term=6] [raft_id=91] [region_id=90]
//
// or a line of TiKV's JSON format (log.format = "json"), which gives the
// same Entry. One trailing newline is ignored; lines after the first one are
// the entry's Continuation. The Entry owns its memory.
func ParseLine(line []byte) (Entry, error) {
	if len(line) > 0 && line[len(line)-1] == '\n' {
		line = line[:len(line)-1]
	}
	// One copy, which every string of the Entry then points into.
	s := string(line)
	b := unsafe.Slice(unsafe.StringData(s), len(s))
	first, cont := b, []byte(nil)
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		first, cont = b[:i], b[i+1:]
	}
	var p parser
	var e Entry
	if err := p.parse(first, &e); err != nil {
		return Entry{}, err
	}
	if cont != nil {
		e.Continuation = str(cont)
	}
	return e, nil
}

// str returns a string sharing b's memory.
func str(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

// parser holds the buffers that parsing reuses from one line to the next.
type parser struct {
	fields  []Field
	scratch []byte // unescaped strings
	zones   [8]zone
	nzones  int
	// The last second parsed: lines come many to a second.
	lastSec  [19]byte
	lastZone [7]byte
	lastTime time.Time
}

type zone struct {
	off int
	loc *time.Location
}

type tokenKind uint8

const (
	tokEmpty  tokenKind = iota // []
	tokBare                    // [word], no '='
	tokQuoted                  // ["text"], no '='
	tokField                   // [key=value]
)

type token struct {
	kind     tokenKind
	key, val string
}

// parse parses one line (without its newline) into e. e's strings point
// into line and into p's scratch buffer.
func (p *parser) parse(line []byte, e *Entry) error {
	for len(line) > 0 {
		c := line[len(line)-1]
		if c != ' ' && c != '\t' && c != '\r' {
			break
		}
		line = line[:len(line)-1]
	}
	p.scratch = p.scratch[:0]
	p.fields = p.fields[:0]
	*e = Entry{}
	if len(line) == 0 {
		return syntaxErr(line, 0, "empty line")
	}
	switch line[0] {
	case '[':
		return p.parseText(line, e)
	case '{':
		return p.parseJSON(line, e)
	}
	return syntaxErr(line, 0, "line starts with neither '[' nor '{'")
}

func (p *parser) parseText(line []byte, e *Entry) error {
	end := bytes.IndexByte(line, ']')
	if end < 0 {
		return syntaxErr(line, 0, "unterminated time")
	}
	t, ok := p.parseTime(line[1:end])
	if !ok {
		return syntaxErr(line, 1, "bad time")
	}
	e.Time = t
	i := skipSpaces(line, end+1)
	if i >= len(line) || line[i] != '[' {
		return syntaxErr(line, i, "missing level")
	}
	j := bytes.IndexByte(line[i:], ']')
	if j < 0 {
		return syntaxErr(line, i, "unterminated level")
	}
	lv, ok := ParseLevel(str(line[i+1 : i+j]))
	if !ok {
		return syntaxErr(line, i+1, "unknown level")
	}
	e.Level = lv
	i += j + 1

	// The header: up to three tokens before the fields (logger name,
	// source, message), told apart by their form.
	var head [3]token
	nh := 0
	for nh < len(head) {
		i = skipSpaces(line, i)
		if i >= len(line) {
			break
		}
		if line[i] != '[' {
			return syntaxErr(line, i, "expected '['")
		}
		var err *SyntaxError
		head[nh], i, err = p.token(line, i+1)
		if err != nil {
			return err
		}
		nh++
	}
	toks := head[:nh]
	switch {
	case len(toks) > 0 && toks[0].kind == tokBare && isSource(toks[0].val):
		e.Source = toks[0].val
		toks = toks[1:]
	case len(toks) > 1 && toks[0].kind == tokBare && !needQuote(toks[0].val) &&
		toks[1].kind == tokBare && isSource(toks[1].val):
		e.Name, e.Source = toks[0].val, toks[1].val
		toks = toks[2:]
	}
	if len(toks) > 0 && (toks[0].kind == tokBare || toks[0].kind == tokQuoted) {
		e.Message = toks[0].val
		toks = toks[1:]
	}
	for _, t := range toks {
		p.fields = append(p.fields, Field{Key: t.key, Value: t.val})
	}
	// The fields.
	for {
		i = skipSpaces(line, i)
		if i >= len(line) {
			break
		}
		if line[i] != '[' {
			return syntaxErr(line, i, "expected '['")
		}
		t, next, err := p.token(line, i+1)
		if err != nil {
			return err
		}
		i = next
		p.fields = append(p.fields, Field{Key: t.key, Value: t.val})
	}
	if len(p.fields) > 0 {
		e.Fields = p.fields
	}
	return nil
}

func skipSpaces(b []byte, i int) int {
	for i < len(b) && b[i] == ' ' {
		i++
	}
	return i
}

// token parses the bracketed token whose content starts at i (just after
// its '['), and returns the index after its ']'.
func (p *parser) token(line []byte, i int) (token, int, *SyntaxError) {
	if i >= len(line) {
		return token{}, i, syntaxErr(line, i, "unterminated '['")
	}
	if line[i] == ']' {
		return token{kind: tokEmpty}, i + 1, nil
	}
	var key string
	if line[i] == '"' {
		s, j, err := p.quoted(line, i)
		if err != nil {
			return token{}, j, err
		}
		if j < len(line) && line[j] == ']' {
			return token{kind: tokQuoted, val: s}, j + 1, nil
		}
		if j >= len(line) || line[j] != '=' {
			return token{}, j, syntaxErr(line, j, "expected '=' or ']' after quoted string")
		}
		key, i = s, j+1
	} else {
		j := i
		for j < len(line) && line[j] != '=' && line[j] != ']' {
			j++
		}
		if j >= len(line) {
			return token{}, j, syntaxErr(line, j, "unterminated '['")
		}
		if line[j] == ']' {
			return token{kind: tokBare, val: str(line[i:j])}, j + 1, nil
		}
		key, i = str(line[i:j]), j+1
	}
	// The value.
	if i < len(line) && line[i] == '"' {
		s, j, err := p.quoted(line, i)
		if err != nil {
			return token{}, j, err
		}
		if j >= len(line) || line[j] != ']' {
			return token{}, j, syntaxErr(line, j, "expected ']' after quoted value")
		}
		return token{kind: tokField, key: key, val: s}, j + 1, nil
	}
	j := bytes.IndexByte(line[i:], ']')
	if j < 0 {
		return token{}, len(line), syntaxErr(line, len(line), "unterminated '['")
	}
	return token{kind: tokField, key: key, val: str(line[i : i+j])}, i + j + 1, nil
}

// quoted decodes the JSON string starting at line[i] == '"' and returns the
// index after its closing quote. A string without escapes shares line's
// memory; one with escapes is decoded into p.scratch.
func (p *parser) quoted(line []byte, i int) (string, int, *SyntaxError) {
	start := i + 1
	q := bytes.IndexByte(line[start:], '"')
	if q < 0 {
		return "", len(line), syntaxErr(line, i, "unterminated string")
	}
	if bytes.IndexByte(line[start:start+q], '\\') < 0 {
		return str(line[start : start+q]), start + q + 1, nil
	}
	from := len(p.scratch)
	j := start
	q += start // the next quote, maybe escaped
	for {
		if q < j {
			n := bytes.IndexByte(line[j:], '"')
			if n < 0 {
				return "", len(line), syntaxErr(line, i, "unterminated string")
			}
			q = j + n
		}
		k := bytes.IndexByte(line[j:q], '\\')
		if k < 0 {
			p.scratch = append(p.scratch, line[j:q]...)
			return str(p.scratch[from:]), q + 1, nil
		}
		p.scratch = append(p.scratch, line[j:j+k]...)
		j += k + 1 // at the escaped character
		if j >= len(line) {
			return "", j, syntaxErr(line, j, "unterminated escape")
		}
		switch line[j] {
		case '"', '\\', '/':
			p.scratch = append(p.scratch, line[j])
		case 'b':
			p.scratch = append(p.scratch, '\b')
		case 'f':
			p.scratch = append(p.scratch, '\f')
		case 'n':
			p.scratch = append(p.scratch, '\n')
		case 'r':
			p.scratch = append(p.scratch, '\r')
		case 't':
			p.scratch = append(p.scratch, '\t')
		case 'u':
			r, ok := hex4(line, j+1)
			if !ok {
				return "", j, syntaxErr(line, j, "bad \\u escape")
			}
			j += 4
			if utf16.IsSurrogate(r) {
				r2, ok := hex4(line, j+3)
				if ok && line[j+1] == '\\' && line[j+2] == 'u' && utf16.DecodeRune(r, r2) != utf8.RuneError {
					r = utf16.DecodeRune(r, r2)
					j += 6
				} else {
					r = utf8.RuneError
				}
			}
			p.scratch = utf8.AppendRune(p.scratch, r)
		default:
			return "", j, syntaxErr(line, j, "bad escape")
		}
		j++
	}
}

func hex4(b []byte, i int) (rune, bool) {
	if i+4 > len(b) {
		return 0, false
	}
	var r rune
	for _, c := range b[i : i+4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		case 'A' <= c && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// isSource reports whether s reads as a source position: "file.rs:123" or
// "<unknown>".
func isSource(s string) bool {
	k := len(s) - 1
	if k < 2 || s[k] < '0' || s[k] > '9' {
		return s == "<unknown>"
	}
	for k >= 0 && '0' <= s[k] && s[k] <= '9' {
		k--
	}
	if k <= 0 || s[k] != ':' || len(s)-1-k > 10 {
		return false
	}
	for i := 0; i < k; i++ {
		c := s[i]
		if c <= ' ' || c == ':' || c == '"' || c == '\\' || c == '[' || c == ']' || c == '=' || c >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// needQuote reports whether s must be written as a JSON string: the rule of
// the unified log format, plus invalid UTF-8 so that such bytes survive.
func needQuote(s string) bool {
	high := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c == '"' || c == '\\' || c == '[' || c == ']' || c == '=' {
			return true
		}
		if c >= utf8.RuneSelf {
			high = true
		}
	}
	return high && !utf8.ValidString(s)
}

// parseTime parses "2006/01/02 15:04:05.000 -07:00" (1 to 9 fraction
// digits, or none) without allocating.
func (p *parser) parseTime(b []byte) (time.Time, bool) {
	if len(b) < 26 || b[4] != '/' || b[7] != '/' || b[10] != ' ' || b[13] != ':' || b[16] != ':' {
		return time.Time{}, false
	}
	i := 19
	nsec := 0
	if b[i] == '.' {
		i++
		n := 0
		for i < len(b) && '0' <= b[i] && b[i] <= '9' {
			if n == 9 {
				return time.Time{}, false
			}
			nsec = nsec*10 + int(b[i]-'0')
			n++
			i++
		}
		if n == 0 {
			return time.Time{}, false
		}
		for ; n < 9; n++ {
			nsec *= 10
		}
	}
	z := b[i:]
	if len(z) != 7 {
		return time.Time{}, false
	}
	if !p.lastTime.IsZero() && string(b[:19]) == string(p.lastSec[:]) && string(z) == string(p.lastZone[:]) {
		return p.lastTime.Add(time.Duration(nsec)), true
	}
	if z[0] != ' ' || (z[1] != '+' && z[1] != '-') || z[4] != ':' {
		return time.Time{}, false
	}
	year, ok1 := digits(b[0:4])
	month, ok2 := digits(b[5:7])
	day, ok3 := digits(b[8:10])
	hour, ok4 := digits(b[11:13])
	minute, ok5 := digits(b[14:16])
	sec, ok6 := digits(b[17:19])
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) {
		return time.Time{}, false
	}
	zh, ok1 := digits(z[2:4])
	zm, ok2 := digits(z[5:7])
	if !ok1 || !ok2 || zh > 23 || zm > 59 {
		return time.Time{}, false
	}
	if month < 1 || month > 12 || day < 1 || day > daysIn(month, year) || hour > 23 || minute > 59 || sec > 59 {
		return time.Time{}, false
	}
	off := zh*3600 + zm*60
	if z[1] == '-' {
		off = -off
	}
	t := time.Date(year, time.Month(month), day, hour, minute, sec, 0, p.zone(off))
	copy(p.lastSec[:], b[:19])
	copy(p.lastZone[:], z)
	p.lastTime = t
	return t.Add(time.Duration(nsec)), true
}

func digits(b []byte) (int, bool) {
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

func daysIn(month, year int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// zone returns a location for a zone offset, cached so that parsing a line
// does not allocate one.
func (p *parser) zone(off int) *time.Location {
	if off == 0 {
		return time.UTC
	}
	for i := 0; i < p.nzones; i++ {
		if p.zones[i].off == off {
			return p.zones[i].loc
		}
	}
	loc := time.FixedZone(string(appendOffset(nil, off)), off)
	slot := p.nzones
	if slot == len(p.zones) {
		slot = len(p.zones) - 1 // a stream with many zones: keep the first ones
	} else {
		p.nzones++
	}
	p.zones[slot] = zone{off: off, loc: loc}
	return loc
}
