package tikvtest

import (
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"testing"
	"time"
)

// BenchmarkTick measures one tick (heartbeats, operators, schedulers,
// synthetic requests of one second) at three cluster sizes, the largest
// the simulator takes.
func BenchmarkTick(b *testing.B) {
	for _, size := range []struct{ stores, regions int }{{5, 200}, {5, 2000}, {1000, 1_000_000}} {
		b.Run(fmt.Sprintf("stores=%d/regions=%d", size.stores, size.regions), func(b *testing.B) {
			c, err := NewUnstartedCluster(Config{Clock: &fakeClock{t0}, Stores: size.stores, Regions: size.regions})
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			b.ReportAllocs()
			for b.Loop() {
				c.Advance(time.Second)
			}
		})
	}
}

// BenchmarkGetRegions serves GET /regions for 2000 regions; the baseline
// is encoding/json marshalling the same answer, the floor of any server.
func BenchmarkGetRegions(b *testing.B) {
	c, err := NewUnstartedCluster(Config{Clock: &fakeClock{t0}, Regions: 2000})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	h := c.PDHandler()
	b.Run("sim", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest("GET", "/pd/api/v1/regions", nil))
			if rec.Code != 200 {
				b.Fatal(rec.Code)
			}
		}
	})
	out := regionsJSON{Count: len(c.regions)}
	for _, r := range c.regionsByKey() {
		out.Regions = append(out.Regions, c.regionJSON(r))
	}
	b.Run("baseline-marshal", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := json.Marshal(out); err != nil {
				b.Fatal(err)
			}
		}
	})
}
