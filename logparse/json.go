package logparse

import "unsafe"

// parseJSON parses a line of TiKV's JSON log format:
//
//	{"time":"2024/07/24 12:47:12.982 +00:00","level":"INFO","caller":"raft.rs:1228","message":"became leader at term 6","term":6,"raft_id":91,"region_id":90}
//
// The keys time, level, caller and message fill the Entry's header (caller
// only when it reads as a source position); every other key is a field, in
// the order of the line. A string value is unquoted; any other value
// (number, boolean, null, object, array) is kept as its JSON text, which is
// what the text format writes for the same value.
func (p *parser) parseJSON(line []byte, e *Entry) error {
	i := skipWS(line, 1)
	var haveTime, haveLevel bool
	if i < len(line) && line[i] == '}' {
		i++
	} else {
		for {
			if i >= len(line) || line[i] != '"' {
				return syntaxErr(line, i, "expected a JSON key")
			}
			key, j, err := p.quoted(line, i)
			if err != nil {
				return err
			}
			i = skipWS(line, j)
			if i >= len(line) || line[i] != ':' {
				return syntaxErr(line, i, "expected ':'")
			}
			i = skipWS(line, i+1)
			var val string
			isString := i < len(line) && line[i] == '"'
			if isString {
				val, i, err = p.quoted(line, i)
			} else {
				val, i, err = rawJSON(line, i)
			}
			if err != nil {
				return err
			}
			switch {
			case key == "time" && isString:
				t, ok := p.parseTime(unsafe.Slice(unsafe.StringData(val), len(val)))
				if !ok {
					return syntaxErr(line, i, "bad time")
				}
				e.Time, haveTime = t, true
			case key == "level" && isString:
				lv, ok := ParseLevel(val)
				if !ok {
					return syntaxErr(line, i, "unknown level")
				}
				e.Level, haveLevel = lv, true
			case key == "caller" && isString && isSource(val):
				e.Source = val
			case key == "message" || key == "msg":
				e.Message = val
			default:
				p.fields = append(p.fields, Field{Key: key, Value: val})
			}
			i = skipWS(line, i)
			if i < len(line) && line[i] == ',' {
				i = skipWS(line, i+1)
				continue
			}
			if i < len(line) && line[i] == '}' {
				i++
				break
			}
			return syntaxErr(line, i, "expected ',' or '}'")
		}
	}
	if i = skipWS(line, i); i != len(line) {
		return syntaxErr(line, i, "text after the JSON object")
	}
	if !haveTime || !haveLevel {
		return syntaxErr(line, 0, "JSON entry without time or level")
	}
	if len(p.fields) > 0 {
		e.Fields = p.fields
	}
	return nil
}

func skipWS(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\r') {
		i++
	}
	return i
}

// rawJSON returns the text of the non-string JSON value at line[i]: a
// scalar, or an object or array with its nesting balanced.
func rawJSON(line []byte, i int) (string, int, *SyntaxError) {
	start := i
	depth := 0
	for i < len(line) {
		c := line[i]
		switch {
		case c == '{' || c == '[':
			depth++
		case c == '}' || c == ']':
			if depth == 0 {
				goto done
			}
			depth--
		case c == '"':
			if depth == 0 {
				return "", i, syntaxErr(line, i, "unexpected '\"'")
			}
			i++
			for i < len(line) && line[i] != '"' {
				if line[i] == '\\' {
					i++
				}
				i++
			}
			if i >= len(line) {
				return "", i, syntaxErr(line, start, "unterminated string")
			}
		case depth == 0 && (c == ',' || c == ' ' || c == '\t' || c == '\r'):
			goto done
		}
		i++
		if depth == 0 && (c == '}' || c == ']') {
			goto done
		}
	}
done:
	if depth != 0 {
		return "", i, syntaxErr(line, start, "unbalanced JSON value")
	}
	if i == start {
		return "", i, syntaxErr(line, i, "missing JSON value")
	}
	return str(line[start:i]), i, nil
}
