package pdclient

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// decodeRegions decodes a body of PD's regions endpoints,
// {"count":N,"regions":[...]}, calling yield for each region in order
// without holding the whole list. It returns the number of regions passed
// to yield.
//
// Contract for any replacement decoder: each *Region passed to yield is a
// fresh value whose slices are not reused afterwards, so yield may keep it
// (or copy it by value) as it is; a non-nil error from yield stops the
// decoding and is returned as is. "regions": null is an empty list; other
// keys are skipped; anything after the object is an error.
func decodeRegions(r io.Reader, yield func(*Region) error) (count int, err error) {
	dec := json.NewDecoder(r)
	if err := expectDelim(dec, '{'); err != nil {
		return 0, err
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return count, err
		}
		key, _ := tok.(string)
		if key != "regions" {
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return count, err
			}
			continue
		}
		tok, err = dec.Token()
		if err != nil {
			return count, err
		}
		if tok == nil {
			continue
		}
		if d, ok := tok.(json.Delim); !ok || d != '[' {
			return count, fmt.Errorf("regions: want an array, got %v", tok)
		}
		for dec.More() {
			reg := new(Region)
			if err := dec.Decode(reg); err != nil {
				return count, fmt.Errorf("region #%d: %w", count, err)
			}
			if err := yield(reg); err != nil {
				return count, err
			}
			count++
		}
		if err := expectDelim(dec, ']'); err != nil {
			return count, err
		}
	}
	if err := expectDelim(dec, '}'); err != nil {
		return count, err
	}
	if _, err := dec.Token(); err != io.EOF {
		if err == nil {
			return count, errors.New("unexpected data after the regions object")
		}
		return count, err
	}
	return count, nil
}

func expectDelim(dec *json.Decoder, want json.Delim) error {
	tok, err := dec.Token()
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	if err != nil {
		return err
	}
	if d, ok := tok.(json.Delim); !ok || d != want {
		return fmt.Errorf("want %q, got %v", want, tok)
	}
	return nil
}
