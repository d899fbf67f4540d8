package promclient

import (
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/kvops/operator/subject"
)

// FuzzRenderMatchers checks that any label value lands in the PromQL as a
// string literal that reads back as the same value, so that a value cannot
// break out of its selector; and that bad names are refused.
func FuzzRenderMatchers(f *testing.F) {
	f.Add("tidb_cluster", "=~", "prod|staging")
	f.Add("job", "=", `ti"kv\`)
	f.Add("k8s-cluster", "=", "x")
	f.Add("job", "==", "x")
	f.Add("instance", "!=", "}) or vector(1) #\n")
	f.Fuzz(func(t *testing.T, name, op, value string) {
		got, err := renderMatchers([]Matcher{{Name: name, Op: MatchOp(op), Value: value}})
		if err != nil {
			if !errors.Is(err, subject.ErrInvalid) {
				t.Fatalf("error %v does not match ErrInvalid", err)
			}
			return
		}
		if !labelName.MatchString(name) {
			t.Fatalf("accepted label name %q", name)
		}
		if op == "" {
			op = "="
		}
		prefix := "," + name + op
		lit, ok := strings.CutPrefix(got, prefix)
		if !ok {
			t.Fatalf("rendered %q, want prefix %q", got, prefix)
		}
		back, err := strconv.Unquote(lit)
		if err != nil || back != value {
			t.Fatalf("literal %s reads back as %q (%v), want %q", lit, back, err, value)
		}
	})
}
