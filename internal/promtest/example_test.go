package promtest_test

import (
	"fmt"
	"time"

	"github.com/kvops/operator/internal/promtest"
)

// The configuration of a Prometheus that scrapes a test's exporter every
// second. In a test, promtest.Start(t, opts...) writes it and starts
// prometheus on it.
func ExampleConfigYAML() {
	fmt.Print(promtest.ConfigYAML(promtest.WithScrape("tikv", time.Second, "127.0.0.1:20180")))
	// Output:
	// global:
	//   evaluation_interval: 1m
	// scrape_configs:
	//   - job_name: "tikv"
	//     scrape_interval: 1s
	//     scrape_timeout: 1s
	//     static_configs:
	//       - targets: ["127.0.0.1:20180"]
}
