package alertmanager

import (
	"encoding/json"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/kvops/operator/invariant"
)

// AnnotationPrefix starts the labels of an [invariant.Alert] that carry
// annotations: label "__annotation_summary" is sent as annotation
// "summary". It is promclient/rules.AnnotationPrefix, spelled out so that
// this package does not link Prometheus' rule engine (a test checks that
// the two agree).
const AnnotationPrefix = "__annotation_"

// The labels an alert of a plain invariant (one without an alertname
// label of its own) is given, unless its labels already carry them.
const (
	// LabelAlertName is the invariant's name.
	LabelAlertName = "alertname"
	// LabelSeverity is the invariant's severity: "info", "warning" or
	// "critical".
	LabelSeverity = "severity"
	// LabelKey is the finding's key, when it is not empty: two findings
	// of one invariant are two alerts even when their labels are alike.
	LabelKey = "key"
	// AnnotationSummary is the annotation that carries the finding's
	// message.
	AnnotationSummary = "summary"
)

// postable is one alert of Alertmanager's API v2 postableAlerts schema
// (api/v2/openapi.yaml: labels, annotations, startsAt, endsAt,
// generatorURL). We never set generatorURL.
type postable struct {
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations,omitempty"`
	StartsAt    amTime            `json:"startsAt"`
	EndsAt      amTime            `json:"endsAt"`
}

// amTime is written as go-openapi's strfmt.DateTime writes it, which is
// what Prometheus sends: RFC 3339 in UTC with milliseconds.
type amTime time.Time

const amTimeLayout = "2006-01-02T15:04:05.000Z07:00"

func (t amTime) MarshalJSON() ([]byte, error) {
	b := make([]byte, 0, len(amTimeLayout)+2)
	b = append(b, '"')
	b = time.Time(t).UTC().AppendFormat(b, amTimeLayout)
	return append(b, '"'), nil
}

func (t *amTime) UnmarshalJSON(b []byte) error {
	var v time.Time
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*t = amTime(v)
	return nil
}

// convert returns the labels and annotations Alertmanager gets for a: see
// the package documentation.
func convert(a invariant.Alert, external map[string]string) (labels, annotations map[string]string) {
	labels = make(map[string]string, len(a.Labels)+3+len(external))
	annotations = map[string]string{}
	own := a.Labels[LabelAlertName] != ""
	// Sorted, so that of two names that sanitize alike the same one wins
	// every time; a valid name wins over a sanitized one.
	exact := map[string]bool{}
	for _, k := range slices.Sorted(maps.Keys(a.Labels)) {
		v := a.Labels[k]
		dst := labels
		if name, ok := strings.CutPrefix(k, AnnotationPrefix); ok {
			dst, k = annotations, name
		}
		put(dst, exact, k, v)
	}
	if !own {
		setDefault(labels, LabelAlertName, a.Invariant)
		if a.Severity.Valid() {
			setDefault(labels, LabelSeverity, a.Severity.String())
		}
		setDefault(labels, LabelKey, a.Key)
		setDefault(annotations, AnnotationSummary, a.Message)
	}
	// Prometheus adds an external label only where the alert has none
	// (notifier/alert.go, relabelAlerts).
	for k, v := range external {
		setDefault(labels, k, v)
	}
	return labels, annotations
}

// put sets dst[sanitize(name)] = value, dropping empty values (a label
// with an empty value is no label, in Prometheus and Alertmanager alike)
// and letting an exact name win over one that was sanitized into it.
func put(dst map[string]string, exact map[string]bool, name, value string) {
	if value == "" {
		return
	}
	value = strings.ToValidUTF8(value, "\uFFFD")
	clean := sanitize(name)
	if clean == "" {
		return
	}
	if _, taken := dst[clean]; taken && (clean != name || exact[clean]) {
		return
	}
	dst[clean] = value
	if clean == name {
		exact[clean] = true
	}
}

func setDefault(m map[string]string, name, value string) {
	if m[name] == "" && value != "" {
		m[name] = strings.ToValidUTF8(value, "\uFFFD")
	}
}

// validName reports whether name matches [a-zA-Z_][a-zA-Z0-9_]*, the
// label names every Alertmanager version accepts (newer ones accept any
// UTF-8 as well, older ones only these).
func validName(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || i > 0 && '0' <= c && c <= '9') {
			return false
		}
	}
	return true
}

// sanitize turns name into a valid label name: every other character
// becomes '_', and a leading digit gets a '_' before it. It returns "" for
// an empty name.
func sanitize(name string) string {
	if validName(name) || name == "" {
		return name
	}
	var b strings.Builder
	if c := name[0]; '0' <= c && c <= '9' {
		b.WriteByte('_')
	}
	for _, r := range name {
		if r == '_' || 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}

// fingerprint is the alert's identity in Alertmanager: its sorted label
// set, written {a="x", b="y"}.
func fingerprint(labels map[string]string) string {
	var b strings.Builder
	b.WriteByte('{')
	for i, k := range slices.Sorted(maps.Keys(labels)) {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(strconv.Quote(labels[k]))
	}
	b.WriteByte('}')
	return b.String()
}
