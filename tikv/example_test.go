package tikv_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/kvops/operator/logparse"
	"github.com/kvops/operator/tikv"
)

// Read the leadership changes in a TiKV log file written at or after a
// given time. A Docker container's log reads the same way, through
// dockerlog.New(dockerlog.Config{Container: "tikv0"}) (package
// tikv/dockerlog).
func Example() {
	dir, err := os.MkdirTemp("", "tikv-log")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "tikv.log")
	log := `[2024/07/24 12:47:12.981 +00:00] [INFO] [raft.rs:1170] ["became pre-candidate at term 5"] [term=5] [raft_id=91] [region_id=90]
[2024/07/24 12:47:12.982 +00:00] [INFO] [raft.rs:1228] ["became leader at term 6"] [term=6] [raft_id=91] [region_id=90]
[2024/07/24 12:47:13.466 +00:00] [WARN] [endpoint.rs:658] [error-response] [err="Key is locked"]
`
	if err := os.WriteFile(path, []byte(log), 0o644); err != nil {
		fmt.Println(err)
		return
	}

	var src tikv.LogSource = tikv.NewFileLogSource(path)
	since := time.Date(2024, 7, 24, 12, 47, 12, 982e6, time.UTC)
	for e, err := range src.Entries(context.Background(), since, time.Time{}) {
		if err != nil {
			fmt.Println("error:", err)
			continue
		}
		if ev, ok := logparse.EventOf(&e); ok {
			c, _ := ev.Change()
			fmt.Printf("region %d: peer %d became %s at term %d\n", c.Region, c.Peer, c.Role, c.Term)
		}
	}
	// Output:
	// region 90: peer 91 became leader at term 6
}
