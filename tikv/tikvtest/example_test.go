package tikvtest_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/kvops/operator/tikv/tikvtest"
)

type fixedClock struct{ t time.Time }

func (c fixedClock) Now() time.Time { return c.t }

// A stopped store turns Disconnected 20 s after its last heartbeat, as PD
// reports it; the test drives time with Advance.
func Example() {
	start := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	c, err := tikvtest.NewUnstartedCluster(tikvtest.Config{Clock: fixedClock{start}})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	if err := c.Start(context.Background()); err != nil {
		fmt.Println(err)
		return
	}
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr}

	state := func(id uint64) string {
		resp, err := hc.Get(fmt.Sprintf("%s/pd/api/v1/store/%d", c.PDURL(), id))
		if err != nil {
			return err.Error()
		}
		defer resp.Body.Close()
		var s struct {
			Store struct {
				StateName string `json:"state_name"`
			} `json:"store"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&s); err != nil {
			return err.Error()
		}
		return s.Store.StateName
	}

	_ = c.StopStore(3)
	fmt.Println("stopped:", state(3))
	c.Advance(25 * time.Second)
	fmt.Println("25 s later:", state(3))
	_ = c.StartStore(3)
	fmt.Println("started again:", state(3))
	// Output:
	// stopped: Up
	// 25 s later: Disconnected
	// started again: Up
}
