package promclient_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/kvops/operator/promclient"
	"github.com/kvops/operator/subject"
)

// The PromQL a client sends: one query per metric family, whatever the
// number of stores, narrowed here to one Kubernetes cluster.
func ExampleClient_Queries() {
	cfg := promclient.DefaultConfig()
	cfg.Matchers = []promclient.Matcher{promclient.Equal("k8s_cluster", "prod")}
	cfg.RateWindow = 2 * time.Minute
	c, err := promclient.New(cfg)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, q := range c.Queries() {
		fmt.Printf("%s: %s\n", q.Metric, q.PromQL)
	}
	// Output:
	// write_latency_p99: histogram_quantile(0.99, sum(rate(tikv_storage_engine_async_request_duration_seconds_bucket{type="write",k8s_cluster="prod"}[2m])) by (le, instance))
	// grpc_latency_p99: histogram_quantile(0.99, sum(rate(tikv_grpc_msg_duration_seconds_bucket{type!="kv_gc",k8s_cluster="prod"}[2m])) by (le, instance))
	// disk_capacity: sum(tikv_store_size_bytes{type="capacity",k8s_cluster="prod"}) by (instance)
	// disk_available: sum(tikv_store_size_bytes{type="available",k8s_cluster="prod"}) by (instance)
	// cpu: sum(rate(process_cpu_seconds_total{job=~".*tikv",k8s_cluster="prod"}[2m])) by (instance)
	// cpu_quota: max(tikv_server_cpu_cores_quota{instance!="",k8s_cluster="prod"}) by (instance)
	// raftstore_cpu: sum(rate(tikv_thread_cpu_seconds_total{name=~"(raftstore|rs)_.*",k8s_cluster="prod"}[2m])) by (instance)
	// leader_count: sum(tikv_raftstore_region_count{type="leader",k8s_cluster="prod"}) by (instance)
	// region_count: sum(tikv_raftstore_region_count{type="region",k8s_cluster="prod"}) by (instance)
	// restarts: sum(changes(process_start_time_seconds{job=~".*tikv",k8s_cluster="prod"}[5m])) by (instance)
}

// Reading every store's metrics from the Prometheus of a tiup playground.
// With no Prometheus running, the error says so.
func ExampleClient_StoreMetrics() {
	c, err := promclient.New(promclient.DefaultConfig())
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	stores := []subject.Store{
		{ID: 1, StatusAddress: "127.0.0.1:20180"},
		{ID: 2, StatusAddress: "127.0.0.1:20181"},
	}
	metrics, warnings, err := c.StoreMetrics(ctx, stores)
	var partial *promclient.PartialError
	switch {
	case errors.Is(err, promclient.ErrUnavailable):
		fmt.Println("no Prometheus:", err)
		return
	case errors.As(err, &partial):
		fmt.Println("some metrics unknown:", err)
	case err != nil:
		fmt.Println(err)
		return
	}
	for _, w := range warnings {
		fmt.Println("warning:", w)
	}
	for _, m := range metrics {
		fmt.Printf("store %d: write p99 %v s, disk usage %v, cpu usage %v\n",
			m.Store, m.WriteLatencyP99, m.DiskUsage(), m.CPUUsage())
	}
}
