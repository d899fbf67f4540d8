package tikv_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/kvops/operator/tikv"
)

// Read the leadership changes of two TiKV logs at once. Each change names
// the log it came from; a log that cannot be read does not hide the
// other's changes, which come with a *tikv.PartialLogError naming it.
func ExampleMergeLogs() {
	dir, err := os.MkdirTemp("", "tikv-logs")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	one := filepath.Join(dir, "tikv-1.log")
	log := `[2024/07/24 12:47:12.982 +00:00] [INFO] [raft.rs:1228] ["became leader at term 6"] [term=6] [raft_id=91] [region_id=90]
`
	if err := os.WriteFile(one, []byte(log), 0o644); err != nil {
		fmt.Println(err)
		return
	}
	src := tikv.MergeLogs(tikv.NewFileLogSource(one), tikv.NewFileLogSource(filepath.Join(dir, "tikv-2.log")))
	changes, err := tikv.LogLeadershipChanges(context.Background(), src, time.Time{})
	for _, c := range changes {
		fmt.Printf("region %d: %s at term %d, from %s\n", c.Region, c.Role, c.Term, filepath.Base(c.Source))
	}
	var partial *tikv.PartialLogError
	if errors.As(err, &partial) {
		for _, name := range partial.Failed {
			fmt.Println("not read:", filepath.Base(name), errors.Is(err, tikv.ErrLogNotFound))
		}
	}
	// Output:
	// region 90: leader at term 6, from tikv-1.log
	// not read: tikv-2.log true
}
