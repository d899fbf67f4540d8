package main

import (
	"context"
	"fmt"
	"io"
	"net/http"

	"github.com/go-json-experiment/json/jsontext"
	jsoniter "github.com/json-iterator/go"
	"github.com/mailru/easyjson"

	"github.com/kvops/operator/internal/bench/regions/ejregion"
	"github.com/kvops/operator/pdclient"
)

// decodeJSONText streams the answer through jsonstream.go, as pdclient did
// before easyjson.
func decodeJSONText(f io.Reader) (int, uint64, error) {
	sum := uint64(0)
	n, err := Elements(f, "regions", func(r *pdclient.Region) error {
		sum += r.ID
		return nil
	})
	return n, sum, err
}

// decodeSplitEasyJSON splits the regions array (split.go) and decodes each
// region with easyjson's generated code (ejregion).
func decodeSplitEasyJSON(f io.Reader) (int, uint64, error) {
	return decodeSplit(f, func(elem []byte) (uint64, error) {
		r := new(ejregion.Region)
		err := easyjson.Unmarshal(elem, r)
		return r.ID, err
	})
}

// decodeSplitJSONIter splits the regions array (split.go) and decodes each
// region with jsoniter from its bytes.
func decodeSplitJSONIter(f io.Reader) (int, uint64, error) {
	api := jsoniter.ConfigCompatibleWithStandardLibrary
	return decodeSplit(f, func(elem []byte) (uint64, error) {
		r := new(pdclient.Region)
		err := api.Unmarshal(elem, r)
		return r.ID, err
	})
}

// decodeSplit splits the regions array of the answer read from f and decodes
// each region's bytes with decode, which returns the region's id.
func decodeSplit(f io.Reader, decode func(elem []byte) (id uint64, err error)) (int, uint64, error) {
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
func decodeJSONIter(f io.Reader) (int, uint64, error) {
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
func decodeEasyJSON(f io.Reader) (int, uint64, error) {
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

// decodeAllRegions reads every region as pdclient does: AllRegions, one
// page of pageSize regions after another.
func decodeAllRegions(base string, pageSize int) (int, uint64, error) {
	c, err := pdclient.New(pdclient.Config{Endpoints: []string{base}})
	if err != nil {
		return 0, 0, err
	}
	n, sum := 0, uint64(0)
	for r, err := range c.AllRegions(context.Background(), pdclient.WithPageSize(pageSize)) {
		if err != nil {
			return 0, 0, err
		}
		n++
		sum += r.ID
	}
	return n, sum, nil
}

// whole makes a decoder of the whole answer, GET /pd/api/v1/regions, from
// one of its body.
func whole(decode func(body io.Reader) (int, uint64, error)) func(base string, _ int) (int, uint64, error) {
	return func(base string, _ int) (int, uint64, error) {
		resp, err := http.Get(base + "/pd/api/v1/regions")
		if err != nil {
			return 0, 0, err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return 0, 0, fmt.Errorf("GET /pd/api/v1/regions: %s", resp.Status)
		}
		return decode(resp.Body)
	}
}
