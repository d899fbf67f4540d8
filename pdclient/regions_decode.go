package pdclient

import "io"

// decodeRegions decodes a body of PD's regions endpoints,
// {"count":N,"regions":[...]}, through the streaming RegionDecoder, calling
// yield for each region in order without holding the whole list. It
// returns the number of regions passed to yield.
//
// Each *Region passed to yield is a fresh value whose slices are not
// reused afterwards, so yield may keep it; a non-nil error from yield
// stops the decoding and is returned as is. "regions": null is an empty
// list; other keys are skipped; anything after the object is an error.
func decodeRegions(r io.Reader, yield func(*Region) error) (count int, err error) {
	dec := NewRegionDecoder(r)
	for {
		reg := new(Region)
		switch err := dec.Next(reg); {
		case err == io.EOF:
			return count, nil
		case err != nil:
			return count, err
		}
		if err := yield(reg); err != nil {
			return count, err
		}
		count++
	}
}
