package main

import (
	"fmt"
	"os"

	"github.com/go-json-experiment/json/jsontext"
	jsoniter "github.com/json-iterator/go"
	"github.com/mailru/easyjson"

	"github.com/kvops/operator/internal/bench/regions/ejregion"
	"github.com/kvops/operator/internal/jsonstream"
	"github.com/kvops/operator/pdclient"
)

// decodeJSONText reads the answer as pdclient does.
func decodeJSONText(file string) (int, uint64, error) {
	f, err := os.Open(file)
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	sum := uint64(0)
	n, err := jsonstream.Elements(f, "regions", func(r *pdclient.Region) error {
		sum += r.ID
		return nil
	})
	return n, sum, err
}

// decodeSplitEasyJSON splits the regions array (split.go) and decodes each
// region with easyjson's generated code (ejregion).
func decodeSplitEasyJSON(file string) (int, uint64, error) {
	return decodeSplit(file, func(elem []byte) (uint64, error) {
		r := new(ejregion.Region)
		err := easyjson.Unmarshal(elem, r)
		return r.ID, err
	})
}

// decodeSplitJSONIter splits the regions array (split.go) and decodes each
// region with jsoniter from its bytes.
func decodeSplitJSONIter(file string) (int, uint64, error) {
	api := jsoniter.ConfigCompatibleWithStandardLibrary
	return decodeSplit(file, func(elem []byte) (uint64, error) {
		r := new(pdclient.Region)
		err := api.Unmarshal(elem, r)
		return r.ID, err
	})
}

// decodeSplit splits the regions array of the answer in file and decodes
// each region's bytes with decode, which returns the region's id.
func decodeSplit(file string, decode func(elem []byte) (id uint64, err error)) (int, uint64, error) {
	f, err := os.Open(file)
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	sum := uint64(0)
	n, err := splitElements(f, "regions", func(elem []byte, _ int64) error {
		id, err := decode(elem)
		sum += id
		return err
	})
	return n, sum, err
}

// decodeJSONIter streams the answer through jsoniter's Iterator (the
// library client_golang uses), one region at a time with ReadVal.
func decodeJSONIter(file string) (int, uint64, error) {
	f, err := os.Open(file)
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	it := jsoniter.Parse(jsoniter.ConfigCompatibleWithStandardLibrary, f, 64<<10)
	n, sum := 0, uint64(0)
	for field := it.ReadObject(); field != ""; field = it.ReadObject() {
		if field != "regions" {
			it.Skip()
			continue
		}
		for it.ReadArray() {
			r := new(pdclient.Region)
			it.ReadVal(r)
			n++
			sum += r.ID
		}
	}
	if it.Error != nil {
		return 0, 0, it.Error
	}
	return n, sum, nil
}

// decodeEasyJSON reads each region's bytes with jsontext and decodes them
// with easyjson's generated code: easyjson's lexer reads a []byte, not a
// stream.
func decodeEasyJSON(file string) (int, uint64, error) {
	f, err := os.Open(file)
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	// easyjson checks the regions again: the splitting need not track
	// names or check UTF-8.
	dec := jsontext.NewDecoder(f, jsontext.AllowDuplicateNames(true), jsontext.AllowInvalidUTF8(true))
	if tok, err := dec.ReadToken(); err != nil || tok.Kind() != '{' {
		return 0, 0, fmt.Errorf("want an object: %v", err)
	}
	n, sum := 0, uint64(0)
	for dec.PeekKind() != '}' {
		name, err := dec.ReadToken()
		if err != nil {
			return 0, 0, err
		}
		if name.String() != "regions" {
			if err := dec.SkipValue(); err != nil {
				return 0, 0, err
			}
			continue
		}
		if _, err := dec.ReadToken(); err != nil {
			return 0, 0, err
		}
		for dec.PeekKind() != ']' {
			raw, err := dec.ReadValue()
			if err != nil {
				return 0, 0, err
			}
			r := new(ejregion.Region)
			if err := easyjson.Unmarshal(raw, r); err != nil {
				return 0, 0, err
			}
			n++
			sum += r.ID
		}
		if _, err := dec.ReadToken(); err != nil {
			return 0, 0, err
		}
	}
	return n, sum, nil
}
