package promclient

import (
	"fmt"
	"strings"

	"github.com/kvops/operator/subject"
)

// queryText is a query's PromQL with its placeholders found: the literal
// pieces of text, and the field named between each two.
//
// The queries were text/template templates. But text/template calls
// methods by name through reflection, which makes the linker keep every
// exported method of every type a program links: 1.9 MB of every program
// importing tikv, for three string substitutions. The three fields are
// written as text/template writes them, and a query text is refused where
// a template of them would have failed.
type queryText struct {
	lits   []string // one more than fields
	fields []string // "Window", "RestartWindow" or "Matchers"
}

// queryFields are the fields a query may name.
var queryFields = []string{"Window", "RestartWindow", "Matchers"}

// parseQuery finds text's placeholders: {{.Window}}, {{.RestartWindow}}
// and {{.Matchers}}, with spaces inside the braces or not. Any other
// action, or braces left open, is refused.
func parseQuery(text string) (queryText, error) {
	var q queryText
	rest := text
	for {
		before, after, found := strings.Cut(rest, "{{")
		if !found {
			q.lits = append(q.lits, rest)
			return q, nil
		}
		action, tail, closed := strings.Cut(after, "}}")
		if !closed {
			return queryText{}, fmt.Errorf("%w: %q: unclosed {{", subject.ErrInvalid, "{{"+after)
		}
		name, ok := strings.CutPrefix(strings.TrimSpace(action), ".")
		if !ok || !validField(name) {
			return queryText{}, fmt.Errorf("%w: {{%s}}: the only placeholders are {{.Window}}, {{.RestartWindow}} and {{.Matchers}}", subject.ErrInvalid, action)
		}
		q.lits = append(q.lits, before)
		q.fields = append(q.fields, name)
		rest = tail
	}
}

func validField(name string) bool {
	for _, f := range queryFields {
		if name == f {
			return true
		}
	}
	return false
}

// render writes the query with each placeholder replaced by its value.
func (q queryText) render(window, restartWindow, matchers string) string {
	var b strings.Builder
	for i, f := range q.fields {
		b.WriteString(q.lits[i])
		switch f {
		case "Window":
			b.WriteString(window)
		case "RestartWindow":
			b.WriteString(restartWindow)
		case "Matchers":
			b.WriteString(matchers)
		}
	}
	b.WriteString(q.lits[len(q.fields)])
	return b.String()
}
