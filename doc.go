// Package operator is a library for building automated operators ("robot
// SREs") for TiKV clusters.
//
// A program that imports it runs one loop:
//
//   - observe: read the cluster through PD's HTTP API (package pdclient), TiKV's
//     metrics in Prometheus (package promclient) and TiKV/PD logs (package logparse);
//   - judge: evaluate invariants that must stay violated for a grace period
//     before they count (package invariant), so that a blip does not page anyone
//     and a real fault is not missed;
//   - act: move a region leader, split a region, drain a store, evict
//     leaders or tune PD's scheduling limits, with a dry-run mode and a
//     check that the action took effect (package tikv).
//
// The packages:
//
//   - [github.com/kvops/operator/subject]: the Subject interface (what can be observed and done) and its
//     vocabulary of stores, regions and metrics, independent of TiKV.
//   - [github.com/kvops/operator/tikv]: a Subject for TiKV built from a PD client, a Prometheus client
//     and a log source, and the invariants that judge a TiKV cluster.
//   - [github.com/kvops/operator/invariant]: a grace-period evaluator with the semantics of
//     Prometheus' alerting rules, driven by the caller's own ticker and clock.
//   - [github.com/kvops/operator/logparse]: the unified log format of TiKV, PD and TiDB, and the
//     leadership changes in it.
//   - [github.com/kvops/operator/pdclient]: PD's HTTP API, following the PD leader across endpoints.
//   - [github.com/kvops/operator/promclient]: TiKV store metrics from Prometheus, all stores in a
//     constant number of queries.
//
// Start with examples/watch, which watches a simulated cluster when given no
// PD address.
package operator
