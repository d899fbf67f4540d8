package logparse_test

import (
	"fmt"
	"strings"

	"github.com/kvops/operator/logparse"
)

func Example() {
	log := `[2024/07/24 12:47:12.982 +00:00] [INFO] [raft.rs:1228] ["became leader at term 6"] [term=6] [raft_id=91] [region_id=90]
[2024/07/24 12:47:12.466 +00:00] [WARN] [endpoint.rs:658] [error-response] [err="Key is locked (will clean up) primary_lock: 6D44 lock_version: 451366153729343490"]
[2026/11/27 12:35:38.763 +00:00] [INFO] [region.go:900] ["leader changed"] [region-id=3713] [from=5] [to=4]
`
	r := logparse.NewReader(strings.NewReader(log))
	for e, err := range r.All() {
		if err != nil {
			fmt.Println("bad line:", err)
			continue
		}
		if ev, ok := logparse.EventOf(&e); ok {
			c, _ := ev.Change()
			fmt.Printf("%s region %d: role %q, store %d -> %d\n", c.At.Format("15:04:05.000"), c.Region, c.Role, c.From, c.To)
			continue
		}
		errText, _ := e.Lookup("err")
		fmt.Printf("%s %s %q\n", e.Level, e.Message, errText)
	}
	// Output:
	// 12:47:12.982 region 90: role "leader", store 0 -> 0
	// WARN error-response "Key is locked (will clean up) primary_lock: 6D44 lock_version: 451366153729343490"
	// 12:35:38.763 region 3713: role "", store 5 -> 4
}

// ExampleReader_AllRaw counts entries by level without allocating: each
// RawEntry borrows the reader's buffers until the loop body returns, so
// what is kept is copied out (here, only a count).
func ExampleReader_AllRaw() {
	log := `[2024/07/24 12:47:12.982 +00:00] [INFO] [raft.rs:1228] ["became leader at term 6"] [term=6] [raft_id=91] [region_id=90]
[2024/07/24 12:47:12.466 +00:00] [WARN] [endpoint.rs:658] [error-response] [err="Key is locked"]
[2026/11/27 12:35:38.763 +00:00] [INFO] [region.go:900] ["leader changed"] [region-id=3713] [from=5] [to=4]
`
	var byLevel [logparse.LevelFatal + 1]int
	regions := 0
	for e, err := range logparse.NewReader(strings.NewReader(log)).AllRaw() {
		if err != nil {
			continue
		}
		byLevel[e.Level]++
		if _, ok := e.Lookup("region-id"); ok {
			regions++
		}
	}
	fmt.Println("info:", byLevel[logparse.LevelInfo], "warn:", byLevel[logparse.LevelWarn], "with region-id:", regions)
	// Output:
	// info: 2 warn: 1 with region-id: 1
}
