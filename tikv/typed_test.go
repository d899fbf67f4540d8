package tikv_test

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"testing"

	"github.com/kvops/operator/pdclient"
	"github.com/kvops/operator/promclient"
)

// Helpers that read what a test checks from typed errors and from log
// records, not from their wording.

// proxyErrorBody is what a proxy in front of PD answers with a 500.
const proxyErrorBody = "upstream connect error or disconnect/reset before headers"

// pdRequestOf returns the PD endpoint and path a pdclient error names in
// its typed fields, whichever its type.
func pdRequestOf(t *testing.T, err error) (endpoint, path string) {
	t.Helper()
	var (
		ae *pdclient.APIError
		re *pdclient.ResponseError
		te *pdclient.TransportError
	)
	switch {
	case errors.As(err, &ae):
		return ae.Endpoint, ae.Path
	case errors.As(err, &re):
		return re.Endpoint, re.Path
	case errors.As(err, &te):
		return te.Endpoint, te.Path
	}
	t.Fatalf("%T is no pdclient request error: %v", err, err)
	return "", ""
}

// promAddressOf returns the Prometheus address a promclient error names
// in its typed fields.
func promAddressOf(t *testing.T, err error) string {
	t.Helper()
	var (
		se *promclient.SharedError
		qe *promclient.QueryError
	)
	switch {
	case errors.As(err, &se):
		return se.Address
	case errors.As(err, &qe):
		return qe.Address
	}
	t.Fatalf("%T is no promclient query error: %v", err, err)
	return ""
}

// logRecords keeps the records a logger of recordLogs handled.
type logRecords struct {
	mu   sync.Mutex
	recs []slog.Record
}

// recordLogs returns a logger that keeps every record, Debug included,
// with the attributes added to it, for checks on their typed values.
func recordLogs() (*logRecords, *slog.Logger) {
	l := &logRecords{}
	return l, slog.New(recordHandler{l: l})
}

// find returns the records of a level and message.
func (l *logRecords) find(level slog.Level, msg string) []slog.Record {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []slog.Record
	for _, r := range l.recs {
		if r.Level == level && r.Message == msg {
			out = append(out, r)
		}
	}
	return out
}

// anyError reports whether a record carries an error attribute for which
// match holds.
func (l *logRecords) anyError(match func(error) bool) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, r := range l.recs {
		found := false
		r.Attrs(func(a slog.Attr) bool {
			if err, ok := a.Value.Resolve().Any().(error); ok && match(err) {
				found = true
			}
			return !found
		})
		if found {
			return true
		}
	}
	return false
}

// attr returns a record's attribute of that key, or the zero Value.
func attr(r slog.Record, key string) slog.Value {
	var v slog.Value
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == key {
			v = a.Value
			return false
		}
		return true
	})
	return v
}

type recordHandler struct {
	l     *logRecords
	attrs []slog.Attr
}

func (recordHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h recordHandler) Handle(_ context.Context, r slog.Record) error {
	r = r.Clone()
	r.AddAttrs(h.attrs...)
	h.l.mu.Lock()
	defer h.l.mu.Unlock()
	h.l.recs = append(h.l.recs, r)
	return nil
}

func (h recordHandler) WithAttrs(as []slog.Attr) slog.Handler {
	h.attrs = append(slices.Clip(h.attrs), as...)
	return h
}

func (h recordHandler) WithGroup(string) slog.Handler { return h }
