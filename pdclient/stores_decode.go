package pdclient

import (
	"bytes"
	"errors"
	"io"
	"unicode/utf8"

	"github.com/go-json-experiment/json/jsontext"
	"github.com/mailru/easyjson"
)

// storesJSON is the body of GET /stores and /stores/check with easyjson's
// generated decoder (stores_decode_easyjson.go, made by go generate): at a
// thousand stores, encoding/json's reflection spent more CPU on this one
// answer than the rest of an evaluation together.
//
//easyjson:json
type storesJSON storesAnswer

//go:generate go run github.com/mailru/easyjson/easyjson@v0.9.2 -no_std_marshalers stores_decode.go

// decodeStores reads a stores answer whole (into the client's pooled
// buffers) and decodes it. It decodes exactly what encoding/json would, as
// decodeJSON did: the generated decoder is used only on an answer that is
// valid UTF-8 and that jsontext finds to be one JSON value (easyjson's
// lexer alone lets some invalid JSON through, see TestEasyJSONAloneIsLenient),
// and anything else, or anything easyjson refuses, goes through
// encoding/json, whose errors the caller gets as before. (One difference
// remains: encoding/json also matches member names that differ from PD's in
// case only.)
func (c *Client) decodeStores(body io.Reader) (storesAnswer, error) {
	buf := c.getBody()
	defer c.putBody(buf)
	b, err := readAll(body, (*buf)[:0])
	*buf = b
	if err != nil {
		return storesAnswer{}, err
	}
	var a storesAnswer
	if utf8.Valid(b) && validJSON(b) && easyjson.Unmarshal(b, (*storesJSON)(&a)) == nil {
		return a, nil
	}
	a = storesAnswer{}
	err = decodeJSON(bytes.NewReader(b), &a)
	return a, err
}

// validJSON reports whether b is one JSON value and white space, as
// encoding/json's Valid does (repeated names allowed; the caller checks
// UTF-8), at jsontext's speed.
func validJSON(b []byte) bool {
	dec := jsontext.NewDecoder(bytes.NewBuffer(b), jsontext.AllowDuplicateNames(true), jsontext.AllowInvalidUTF8(true))
	if _, err := dec.ReadValue(); err != nil {
		return false
	}
	_, err := dec.ReadToken()
	return errors.Is(err, io.EOF)
}
