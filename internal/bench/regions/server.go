package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
)

// server serves PD's regions endpoints over n synthesised regions:
// GET /pd/api/v1/regions, the whole answer (synthesise's, in no key order),
// and GET /pd/api/v1/regions/key?key={hex}&limit={pageSize}, the page of
// regions from a region's start key, in key order and PD's page shape.
// Pages are served only from the keys where AllRegions asks for them: a
// multiple of pageSize regions from the start.
//
// Every answer is rendered before serving starts and written in one Write,
// as PD writes an answer it has marshalled (rd.Data), so that the server,
// which shares the machine with the reader measured, costs little beside
// it: the loopback connection's copies.
type server struct {
	*httptest.Server
	size     int64  // bytes of the whole answer
	idSum    uint64 // the sum of the region ids
	pageSize int
	whole    []byte
	pages    [][]byte
}

// newServer renders the answer and its pages and starts serving them on a
// loopback listener.
func newServer(n, pageSize int) (*server, error) {
	s := &server{pageSize: pageSize}
	if err := s.render(n); err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /pd/api/v1/regions", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json; charset=UTF-8")
		_, _ = w.Write(s.whole)
	})
	mux.HandleFunc("GET /pd/api/v1/regions/key", s.page)
	s.Server = httptest.NewServer(mux)
	return s, nil
}

func (s *server) render(n int) error {
	var whole bytes.Buffer
	var err error
	if s.size, s.idSum, err = synthesise(&whole, n); err != nil {
		return err
	}
	s.whole = whole.Bytes()
	samples, err := loadSamples()
	if err != nil {
		return err
	}
	for lo := 0; lo < n; lo += s.pageSize {
		hi := min(n, lo+s.pageSize)
		page := fmt.Appendf(nil, `{"count":%d,"regions":[`, hi-lo)
		for slot := lo; slot < hi; slot++ {
			r := makeRegion(&samples.Regions[slot%len(samples.Regions)], slot, n)
			b, err := json.Marshal(&r)
			if err != nil {
				return err
			}
			if slot > lo {
				page = append(page, ',')
			}
			page = append(page, b...)
		}
		s.pages = append(s.pages, append(page, "]}"...))
	}
	return nil
}

// page answers GET /regions/key as PD does for the keys AllRegions sends.
func (s *server) page(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	slot := 0
	if key := q.Get("key"); key != "" {
		digits, ok := strings.CutPrefix(key, keyPrefix)
		n, err := strconv.ParseUint(digits[:min(6, len(digits))], 16, 32)
		if !ok || err != nil || regionKey(int(n)) != key || q.Get("format") != "hex" {
			http.Error(w, fmt.Sprintf("key %q is not a synthesised region's start key in hex", key), http.StatusBadRequest)
			return
		}
		slot = int(n)
	}
	p := slot / s.pageSize
	if q.Get("limit") != strconv.Itoa(s.pageSize) || slot%s.pageSize != 0 || p >= len(s.pages) {
		http.Error(w, fmt.Sprintf("want limit=%d from the start of a page, got %s", s.pageSize, r.URL.RawQuery), http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	_, _ = w.Write(s.pages[p])
}
