package pdclient_test

import (
	"fmt"
	"strings"

	"github.com/kvops/operator/pdclient"
)

// A regions answer is read one region at a time, whatever its size; the
// *Region is reused, so keep copies of what must outlive the loop.
func ExampleRegionDecoder() {
	body := strings.NewReader(`{"count":2,"regions":[` +
		`{"id":9,"start_key":"","end_key":"7480","peers":[{"role_name":"Voter","id":6,"store_id":5},{"role_name":"Voter","id":7,"store_id":2}],"leader":{"role_name":"Voter","id":6,"store_id":5},"approximate_size":96},` +
		`{"id":13,"start_key":"7480","end_key":"","peers":[{"role_name":"Voter","id":10,"store_id":1}],"leader":{"role_name":"Voter","id":10,"store_id":1},"approximate_size":1}]}`)
	d := pdclient.NewRegionDecoder(body)
	for r, err := range d.All() {
		if err != nil {
			fmt.Println("error:", err)
			return
		}
		fmt.Printf("region %d [%q, %q): %d peers, leader on store %d, %d MiB\n",
			r.ID, r.StartKey, r.EndKey, len(r.Peers), r.Leader.StoreID, r.ApproximateSize)
	}
	n, _ := d.Count()
	fmt.Println("count:", n)

	err := pdclient.NewRegionDecoder(strings.NewReader(`{"count":"2"}`)).Next(new(pdclient.Region))
	fmt.Println(err)
	// Output:
	// region 9 ["", "7480"): 2 peers, leader on store 5, 96 MiB
	// region 13 ["7480", ""): 1 peers, leader on store 1, 1 MiB
	// count: 2
	// pdclient: decoding regions at byte 9: expected an integer for "count", found a string
}
