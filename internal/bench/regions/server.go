package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// server serves PD's regions endpoints over n synthesised regions:
// GET /pd/api/v1/regions, the whole answer (synthesise's, in no key order),
// and GET /pd/api/v1/regions/key?key={hex}&limit={pageSize}, the page of
// regions from a region's start key, in key order and PD's page shape.
// Pages are served only from the keys where AllRegions asks for them: a
// multiple of pageSize regions from the start.
type server struct {
	*httptest.Server
	size     int64  // bytes of the whole answer
	idSum    uint64 // the sum of the region ids
	pageSize int
	whole    *os.File
	pages    *os.File
	offsets  []int64 // page p is pages[offsets[p]:offsets[p+1]]
}

// newServer writes the answer and its pages into dir and starts serving
// them on a loopback listener.
func newServer(dir string, n, pageSize int) (*server, error) {
	s := &server{pageSize: pageSize}
	if err := s.write(dir, n); err != nil {
		s.close()
		return nil, err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /pd/api/v1/regions", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json; charset=UTF-8")
		_, _ = io.Copy(w, io.NewSectionReader(s.whole, 0, s.size))
	})
	mux.HandleFunc("GET /pd/api/v1/regions/key", s.page)
	s.Server = httptest.NewServer(mux)
	return s, nil
}

func (s *server) write(dir string, n int) error {
	var err error
	if s.whole, err = os.Create(filepath.Join(dir, "regions.json")); err != nil {
		return err
	}
	if s.size, s.idSum, err = synthesise(s.whole, n); err != nil {
		return err
	}
	if s.pages, err = os.Create(filepath.Join(dir, "pages.json")); err != nil {
		return err
	}
	samples, err := loadSamples()
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(s.pages, 1<<20)
	cw := &countingWriter{w: bw}
	for lo := 0; lo < n; lo += s.pageSize {
		s.offsets = append(s.offsets, cw.n)
		hi := min(n, lo+s.pageSize)
		fmt.Fprintf(cw, `{"count":%d,"regions":[`, hi-lo)
		for slot := lo; slot < hi; slot++ {
			r := makeRegion(&samples.Regions[slot%len(samples.Regions)], slot, n)
			b, err := json.Marshal(&r)
			if err != nil {
				return err
			}
			if slot > lo {
				cw.Write([]byte{','})
			}
			cw.Write(b)
		}
		if _, err := io.WriteString(cw, "]}"); err != nil {
			return err
		}
	}
	s.offsets = append(s.offsets, cw.n)
	return bw.Flush()
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
	if q.Get("limit") != strconv.Itoa(s.pageSize) || slot%s.pageSize != 0 || p >= len(s.offsets)-1 {
		http.Error(w, fmt.Sprintf("want limit=%d from the start of a page, got %s", s.pageSize, r.URL.RawQuery), http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	_, _ = io.Copy(w, io.NewSectionReader(s.pages, s.offsets[p], s.offsets[p+1]-s.offsets[p]))
}

// Close stops the server and closes its files.
func (s *server) Close() {
	s.Server.Close()
	s.close()
}

func (s *server) close() {
	for _, f := range []*os.File{s.whole, s.pages} {
		if f != nil {
			f.Close()
		}
	}
}
