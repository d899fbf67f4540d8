package record_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/kvops/operator/promclient"
	"github.com/kvops/operator/subject"
	"github.com/kvops/operator/tikv/record"
)

func TestQueriesFromRules(t *testing.T) {
	got, err := record.QueriesFromRules("testdata/rules.yml")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{`up{job="tikv"}`, `tikv_store_size_bytes{type="capacity"}`, `tikv_store_size_bytes{type="available"}`}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("selectors (-want +got):\n%s", d)
	}
	bad := filepath.Join(t.TempDir(), "bad.yml")
	if err := os.WriteFile(bad, []byte("groups:\n  - name: x\n    rules:\n      - alert: A\n        expr: sum(\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := record.QueriesFromRules(bad); !errors.Is(err, subject.ErrInvalid) {
		t.Errorf("a rule Prometheus refuses: %v, want ErrInvalid", err)
	}
	if _, err := record.QueriesFromRules(filepath.Join(t.TempDir(), "none.yml")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a missing file: %v, want fs.ErrNotExist", err)
	}
}

func TestQueriesFromClient(t *testing.T) {
	c, err := promclient.New(promclient.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	got, err := record.QueriesFromClient(c)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		`tikv_storage_engine_async_request_duration_seconds_bucket{type="write"}`,
		`tikv_grpc_msg_duration_seconds_bucket{type!="kv_gc"}`,
		`tikv_store_size_bytes{type="capacity"}`,
		`tikv_store_size_bytes{type="available"}`,
		`process_cpu_seconds_total{job=~".*tikv"}`,
		`tikv_server_cpu_cores_quota{instance!=""}`,
		`tikv_thread_cpu_seconds_total{name=~"(raftstore|rs)_.*"}`,
		`tikv_raftstore_region_count{type="leader"}`,
		`tikv_raftstore_region_count{type="region"}`,
		`process_start_time_seconds{job=~".*tikv"}`,
		`up`,
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("selectors (-want +got):\n%s", d)
	}
}
