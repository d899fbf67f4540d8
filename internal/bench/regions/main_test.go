package main

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/kvops/operator/pdclient"
)

// TestSynthesise checks that the synthesised answer is a PD regions answer
// that tiles the key space once, with distinct ids, and that every decoder
// reads it alike.
func TestSynthesise(t *testing.T) {
	const n = 50
	var buf bytes.Buffer
	size, idSum, err := synthesise(&buf, n)
	if err != nil {
		t.Fatal(err)
	}
	if size != int64(buf.Len()) {
		t.Errorf("reported size %d, wrote %d bytes", size, buf.Len())
	}
	var a answer
	if err := json.Unmarshal(buf.Bytes(), &a); err != nil {
		t.Fatal(err)
	}
	if a.Count != n || len(a.Regions) != n {
		t.Fatalf("count %d, %d regions; want %d", a.Count, len(a.Regions), n)
	}
	// PD's byte format: compact JSON, as encoding/json writes Region.
	compact, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(compact, buf.Bytes()) {
		t.Error("the answer is not in PD's compact format")
	}

	var sum uint64
	ids := map[uint64]bool{}
	byStart := slices.Clone(a.Regions)
	slices.SortFunc(byStart, func(x, y pdclient.Region) int { return strings.Compare(x.StartKey, y.StartKey) })
	for i, r := range byStart {
		sum += r.ID
		if ids[r.ID] {
			t.Errorf("region id %d twice", r.ID)
		}
		ids[r.ID] = true
		if len(r.Peers) != 3 || r.Leader.ID == 0 || !slices.Contains(r.Peers, r.Leader) {
			t.Errorf("region %d: peers %v, leader %v; want three peers, one the leader", r.ID, r.Peers, r.Leader)
		}
		stores := map[uint64]bool{}
		for _, p := range r.Peers {
			stores[p.StoreID] = true
		}
		if len(stores) != 3 {
			t.Errorf("region %d: peers on stores %v, want three stores", r.ID, stores)
		}
		if i+1 < len(byStart) && r.EndKey != byStart[i+1].StartKey {
			t.Errorf("region %d ends at %q, the next starts at %q", r.ID, r.EndKey, byStart[i+1].StartKey)
		}
	}
	if sum != idSum {
		t.Errorf("id sum %d, reported %d", sum, idSum)
	}
	if byStart[0].StartKey != "" || byStart[n-1].EndKey != "" {
		t.Errorf("key space from %q to %q, want from \"\" to \"\"", byStart[0].StartKey, byStart[n-1].EndKey)
	}
	if slices.IsSortedFunc(a.Regions, func(x, y pdclient.Region) int { return strings.Compare(x.StartKey, y.StartKey) }) {
		t.Error("regions come in key order; PD lists them in no order")
	}

	// Every candidate reads the regions from the server alike, pdclient in
	// pages of 7 (the last one short); the parent checks the count and the
	// id sum.
	srv, err := newServer(n, 7)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	if srv.size != size || srv.idSum != idSum {
		t.Errorf("server: %d bytes with id sum %d; want %d with id sum %d", srv.size, srv.idSum, size, idSum)
	}
	for _, d := range decoders {
		gotN, gotSum, err := d.decode(srv.URL, 7)
		if err != nil || gotN != n || gotSum != idSum {
			t.Errorf("%s: %d regions with id sum %d, error %v; want %d with id sum %d", d.name, gotN, gotSum, err, n, idSum)
		}
	}
}
