// Package pdfixture reads the PD HTTP API exchanges recorded from a real PD
// (testdata/pd/*.json and testdata/pd-cluster/*.json in the packages that
// replay them), for tests and test doubles. Each file holds one exchange:
//
//	{"request":  {"method", "path", "body", "port"},
//	 "response": {"status", "content_type", "body_kind": "json"|"text", "body"}}
package pdfixture

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Exchange is one recorded request and PD's answer.
type Exchange struct {
	// Name is the file's name without its directory and ".json".
	Name    string `json:"-"`
	Request struct {
		Method string `json:"method"`
		// Path includes the query string.
		Path string `json:"path"`
		// Body is the JSON the client sent; null when it sent none.
		Body json.RawMessage `json:"body"`
		// Port is the PD member that answered, in the multi-member
		// recordings.
		Port int `json:"port,omitempty"`
	} `json:"request"`
	Response struct {
		Status      int    `json:"status"`
		ContentType string `json:"content_type"`
		// BodyKind is "json" when Body is the JSON PD sent, "text" when
		// Body is a JSON string holding the raw text PD sent.
		BodyKind string          `json:"body_kind"`
		Body     json.RawMessage `json:"body"`
	} `json:"response"`
}

// Read reads one exchange from a file.
func Read(path string) (Exchange, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Exchange{}, err
	}
	var ex Exchange
	if err := json.Unmarshal(b, &ex); err != nil {
		return Exchange{}, fmt.Errorf("pdfixture: %s: %w", path, err)
	}
	ex.Name = strings.TrimSuffix(filepath.Base(path), ".json")
	return ex, nil
}

// ResponseBody returns the bytes PD sent: the JSON value for body_kind
// json, the text for body_kind text.
func (ex Exchange) ResponseBody() ([]byte, error) {
	if ex.Response.BodyKind != "text" {
		return ex.Response.Body, nil
	}
	var s string
	if err := json.Unmarshal(ex.Response.Body, &s); err != nil {
		return nil, fmt.Errorf("pdfixture: %s: text body: %w", ex.Name, err)
	}
	return []byte(s), nil
}
