package main

import (
	"context"
	"fmt"
	"io"
	"net/http"

	"github.com/kvops/operator/pdclient"
)

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
