package logparse

// Format writes an entry as a line of the unified log format, ending with a
// newline; a Continuation follows on its own lines. ParseLine(Format(e))
// gives back e for every e that ParseLine or a Reader returned, and for
// every entry built with a Source of the form "file:line" (or "<unknown>")
// and a Name that is a plain word.
func Format(e Entry) []byte { return AppendFormat(nil, e) }

// AppendFormat appends Format(e) to dst and returns the extended buffer.
func AppendFormat(dst []byte, e Entry) []byte {
	dst = append(dst, '[')
	dst = appendTime(dst, e)
	dst = append(dst, "] ["...)
	dst = append(dst, e.Level.String()...)
	dst = append(dst, ']')
	if e.Name != "" {
		dst = append(dst, " ["...)
		dst = append(dst, e.Name...)
		dst = append(dst, ']')
		if e.Source == "" {
			dst = append(dst, " [<unknown>]"...)
		}
	}
	if e.Source != "" {
		dst = append(dst, " ["...)
		dst = append(dst, e.Source...)
		dst = append(dst, ']')
	}
	// A missing message is written as [""] when a key-less field follows,
	// which would otherwise be read back as the message.
	if e.Message != "" || (len(e.Fields) > 0 && e.Fields[0].Key == "") {
		dst = append(dst, " ["...)
		dst = appendWord(dst, e.Message, e.Message == "")
		dst = append(dst, ']')
	}
	for _, f := range e.Fields {
		dst = append(dst, " ["...)
		if f.Key == "" {
			dst = appendWord(dst, f.Value, false)
		} else {
			dst = appendString(dst, f.Key, needQuote(f.Key))
			dst = append(dst, '=')
			dst = appendString(dst, f.Value, needQuote(f.Value))
		}
		dst = append(dst, ']')
	}
	dst = append(dst, '\n')
	if e.Continuation != "" {
		dst = append(dst, e.Continuation...)
		dst = append(dst, '\n')
	}
	return dst
}

// appendWord writes a header word or a key-less field, quoting it also when
// it would read as a source position.
func appendWord(dst []byte, s string, forceQuote bool) []byte {
	return appendString(dst, s, forceQuote || needQuote(s) || isSource(s))
}

const hexDigits = "0123456789abcdef"

// appendString writes s, as a JSON string when quote is set. Bytes that are
// not valid UTF-8 are written as they are, so that they read back the same.
func appendString(dst []byte, s string, quote bool) []byte {
	if !quote {
		return append(dst, s...)
	}
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		dst = append(dst, s[start:i]...)
		switch c {
		case '"', '\\':
			dst = append(dst, '\\', c)
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case '\t':
			dst = append(dst, '\\', 't')
		default:
			dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		}
		start = i + 1
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

func appendTime(dst []byte, e Entry) []byte {
	t := e.Time
	year, month, day := t.Date()
	hour, minute, sec := t.Clock()
	dst = appendInt(dst, year, 4)
	dst = append(dst, '/')
	dst = appendInt(dst, int(month), 2)
	dst = append(dst, '/')
	dst = appendInt(dst, day, 2)
	dst = append(dst, ' ')
	dst = appendInt(dst, hour, 2)
	dst = append(dst, ':')
	dst = appendInt(dst, minute, 2)
	dst = append(dst, ':')
	dst = appendInt(dst, sec, 2)
	dst = append(dst, '.')
	ns := t.Nanosecond()
	switch {
	case ns%1e6 == 0:
		dst = appendInt(dst, ns/1e6, 3)
	case ns%1e3 == 0:
		dst = appendInt(dst, ns/1e3, 6)
	default:
		dst = appendInt(dst, ns, 9)
	}
	dst = append(dst, ' ')
	_, off := t.Zone()
	return appendOffset(dst, off)
}

// appendOffset writes a zone offset as "+08:00".
func appendOffset(dst []byte, off int) []byte {
	sign := byte('+')
	if off < 0 {
		sign, off = '-', -off
	}
	dst = append(dst, sign)
	dst = appendInt(dst, off/3600, 2)
	dst = append(dst, ':')
	return appendInt(dst, off%3600/60, 2)
}

// appendInt writes a non-negative n with at least width digits.
func appendInt(dst []byte, n, width int) []byte {
	var b [20]byte
	i := len(b)
	for n > 0 || width > 0 || i == len(b) {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
		width--
	}
	return append(dst, b[i:]...)
}
