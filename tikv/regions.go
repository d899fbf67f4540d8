package tikv

import (
	"context"
	"encoding/hex"
	"fmt"

	"github.com/kvops/operator/pdclient"
	"github.com/kvops/operator/subject"
)

// Region returns one region.
//
// PD API: GET /pd/api/v1/region/id/{id}
func (s *Subject) Region(ctx context.Context, id subject.RegionID) (subject.Region, error) {
	if id == 0 {
		return subject.Region{}, fmt.Errorf("tikv: region 0: region ids start at 1: %w", subject.ErrInvalid)
	}
	return s.region(ctx, id)
}

// StoreRegions returns at most limit (1 to subject.MaxRegionsPerCall)
// regions with a peer on the store; ErrNotFound when PD knows no such
// store.
//
// PD API: GET /pd/api/v1/store/{id}, then GET /pd/api/v1/regions/store/{id}?limit={limit}
func (s *Subject) StoreRegions(ctx context.Context, store subject.StoreID, limit int) ([]subject.Region, error) {
	if store == 0 {
		return nil, fmt.Errorf("tikv: store 0: store ids start at 1: %w", subject.ErrInvalid)
	}
	if err := checkLimit(limit); err != nil {
		return nil, err
	}
	// PD answers an unknown store's regions with an empty list.
	if _, err := s.store(ctx, store); err != nil {
		return nil, err
	}
	rs, err := s.pd.RegionsByStore(ctx, uint64(store), limit)
	if err != nil {
		return nil, err
	}
	return subjectRegions(rs)
}

// RangeRegions returns at most limit (1 to subject.MaxRegionsPerCall)
// regions in key order, from the one containing start to the last that
// begins before end (empty: the end of the key space).
//
// PD API: GET /pd/api/v1/regions/key?key={start}&end_key={end}&format=hex&limit={limit}
func (s *Subject) RangeRegions(ctx context.Context, start, end []byte, limit int) ([]subject.Region, error) {
	if err := checkLimit(limit); err != nil {
		return nil, err
	}
	rs, err := s.pd.ScanRegions(ctx, hex.EncodeToString(start), hex.EncodeToString(end), limit)
	if err != nil {
		return nil, err
	}
	return subjectRegions(rs)
}

func checkLimit(limit int) error {
	if limit < 1 || limit > subject.MaxRegionsPerCall {
		return fmt.Errorf("tikv: limit %d: want 1 to %d: %w", limit, subject.MaxRegionsPerCall, subject.ErrInvalid)
	}
	return nil
}

func subjectRegions(rs []pdclient.Region) ([]subject.Region, error) {
	out := make([]subject.Region, 0, len(rs))
	for _, r := range rs {
		sr, err := regionFromPD(r)
		if err != nil {
			return nil, err
		}
		out = append(out, sr)
	}
	return out, nil
}
