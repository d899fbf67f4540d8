package promclient

import (
	"errors"
	"strings"
	"testing"
	"text/template"

	"github.com/kvops/operator/subject"
)

// execTemplate renders text as text/template did, for the tests to hold
// parseQuery to.
func execTemplate(text string, d queryData) (string, error) {
	t, err := template.New("q").Option("missingkey=error").Parse(text)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	err = t.Execute(&b, d)
	return b.String(), err
}

type queryData struct{ Window, RestartWindow, Matchers string }

func TestParseQuery(t *testing.T) {
	d := queryData{Window: "1m", RestartWindow: "5m", Matchers: `,k8s_cluster="prod"`}
	tests := []struct {
		name, text, want string
		bad              bool
	}{
		{"no placeholder", `up`, `up`, false},
		{"every default", DefaultQueries().Restarts, `sum(changes(process_start_time_seconds{job=~".*tikv",k8s_cluster="prod"}[5m])) by (instance)`, false},
		{"spaces", `rate(x{a="b"{{ .Matchers }}}[{{  .Window}}])`, `rate(x{a="b",k8s_cluster="prod"}[1m])`, false},
		{"brace after a placeholder", `x{a="b"{{.Matchers}}}`, `x{a="b",k8s_cluster="prod"}`, false},
		{"unclosed", `{{.Window`, "", true},
		{"unknown field", `{{.Nope}}`, "", true},
		{"a function", `{{printf "%s" .Window}}`, "", true},
		{"no dot", `{{Window}}`, "", true},
		{"empty action", `{{}}`, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q, err := parseQuery(tt.text)
			if tt.bad {
				if !errors.Is(err, subject.ErrInvalid) {
					t.Fatalf("parseQuery(%q): error %v, want ErrInvalid", tt.text, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := q.render(d.Window, d.RestartWindow, d.Matchers); got != tt.want {
				t.Errorf("render = %q, want %q", got, tt.want)
			}
		})
	}
}

// FuzzParseQuery: whatever parseQuery accepts, text/template renders the
// same way.
func FuzzParseQuery(f *testing.F) {
	for _, q := range []string{DefaultQueries().WriteLatencyP99, DefaultQueries().Restarts, `{{ .Matchers }}}}{`, `a{{.Window}}b{{.RestartWindow}}c`} {
		f.Add(q)
	}
	d := queryData{Window: "1m", RestartWindow: "5m", Matchers: `,job="x"`}
	f.Fuzz(func(t *testing.T, text string) {
		q, err := parseQuery(text)
		if err != nil {
			return
		}
		want, err := execTemplate(text, d)
		if err != nil {
			t.Fatalf("parseQuery accepted %q, text/template refused it: %v", text, err)
		}
		if got := q.render(d.Window, d.RestartWindow, d.Matchers); got != want {
			t.Errorf("%q rendered %q, text/template %q", text, got, want)
		}
	})
}
