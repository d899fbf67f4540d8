package record_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/kvops/operator/tikv/record"
)

// Cut a recording to the minute an incident began: the cut starts with
// PD's last answer before it, restamped, and the regions as they were.
func ExampleCut() {
	start := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	var whole bytes.Buffer
	w, _ := record.NewWriter(&whole, record.Header{Start: start, End: start.Add(3 * time.Minute), Interval: record.Duration(time.Minute)})
	for i, state := range []string{"Up", "Up", "Disconnected", "Down"} {
		at := start.Add(time.Duration(i) * time.Minute)
		_ = w.Write(record.Entry{Kind: record.KindPD, PD: &record.PD{At: at, Path: "/pd/api/v1/stores", Status: 200,
			Body: json.RawMessage(`{"count":1,"stores":[{"store":{"id":1,"state_name":"` + state + `"}}]}`)}})
		if i == 0 {
			_ = w.Write(record.Entry{Kind: record.KindRegions, Regions: &record.Regions{At: at, Full: true, Count: 1, Done: true,
				Changed: []json.RawMessage{json.RawMessage(`{"id":2,"start_key":"","end_key":""}`)}}})
		}
	}
	_ = w.Close(start.Add(3 * time.Minute))

	r, _ := record.NewReader(&whole)
	var cut bytes.Buffer
	if err := record.Cut(&cut, r, start.Add(90*time.Second), start.Add(3*time.Minute)); err != nil {
		fmt.Println(err)
		return
	}
	r, _ = record.NewReader(&cut)
	fmt.Println("from", r.Header().Start.Format(time.TimeOnly))
	for {
		e, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		switch {
		case e.PD != nil:
			fmt.Println(e.At().Format(time.TimeOnly), "pd", string(e.PD.Body))
		case e.Regions != nil:
			fmt.Println(e.At().Format(time.TimeOnly), "regions", e.Regions.Count, "full", e.Regions.Full)
		case e.End != nil:
			fmt.Println(e.At().Format(time.TimeOnly), "end after", e.End.Entries, "lines")
		}
	}
	// Output:
	// from 10:01:30
	// 10:01:30 pd {"count":1,"stores":[{"store":{"id":1,"state_name":"Up"}}]}
	// 10:01:30 regions 1 full true
	// 10:02:00 pd {"count":1,"stores":[{"store":{"id":1,"state_name":"Disconnected"}}]}
	// 10:03:00 pd {"count":1,"stores":[{"store":{"id":1,"state_name":"Down"}}]}
	// 10:03:00 end after 5 lines
}
