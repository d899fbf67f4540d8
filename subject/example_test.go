package subject_test

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/kvops/operator/subject"
)

// A reading that is missing is not zero: checks must skip it, not pass or
// fail on it.
func ExampleValue() {
	m := subject.StoreMetrics{
		Store:           1,
		WriteLatencyP99: subject.Known(0.004),
		DiskCapacity:    subject.Known(1000),
		DiskAvailable:   subject.Unknown("no series for instance tikv-1:20180"),
	}
	if p99, ok := m.WriteLatencyP99.Get(); ok {
		fmt.Printf("write p99: %.0f ms\n", p99*1000)
	}
	fmt.Println("disk usage:", m.DiskUsage())
	// Output:
	// write p99: 4 ms
	// disk usage: unknown (disk available unknown: no series for instance tikv-1:20180)
}

// A region's keys are hex in JSON, as PD prints them, and a key read back
// is the same key.
func ExampleKey() {
	r := subject.Region{ID: 9, StartKey: []byte("t\x80\x00\x00\x00\x00\x00\x00\xff")}
	b, _ := json.Marshal(struct {
		Start subject.Key `json:"start_key"`
		End   subject.Key `json:"end_key"`
	}{r.StartKey, r.EndKey})
	fmt.Println(string(b))
	k, err := subject.ParseKey("7480000000000000ff")
	fmt.Println(bytes.Equal(k, r.StartKey), err)
	// Output:
	// {"start_key":"7480000000000000FF","end_key":""}
	// true <nil>
}
