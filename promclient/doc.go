// Package promclient reads TiKV store metrics from Prometheus.
//
// A [Client] asks Prometheus' HTTP API, over client_golang's api.Client,
// for the metrics TiKV's own dashboards and alert rules use: p99 write and gRPC
// latency, disk capacity and free space, process and raftstore CPU, the
// CPU quota, leader and region counts and restarts. [Client.StoreMetrics]
// reads them for any number of stores in a constant number of queries (one
// per metric family, grouped by instance); [Client.OneStoreMetrics] reads
// one store's; [Client.StoreMetricsRange] reads trends over a time range;
// [Client.Query] runs a caller's own instant query (package
// promclient/rules runs alerting rules with it).
//
// Credentials, proxies and TLS belong to the transport: [Config] takes any
// [net/http.RoundTripper] or [*net/http.Client], as client_golang's
// api.Config does, and package promclient/httpconfig builds one from
// Prometheus' own HTTP client configuration (basic_auth, oauth2,
// tls_config, ...) for those who want it.
//
// TiKV's metrics carry no store id: a series' "instance" label is the
// store's status address. [Config.Instance] maps a store to that label; by
// default it is the status address PD reports.
//
// No data is not zero: a missing series, a NaN (as an idle histogram gives)
// or an infinite value comes back as an unknown [subject.Value] that says
// why. Prometheus' warnings are returned, not dropped.
//
// Errors name the Prometheus address and never contain credentials. An
// unreachable Prometheus matches [ErrUnavailable] (and
// [subject.ErrUnavailable]); an expired context
// matches [context.DeadlineExceeded]; an answer over
// [Config.MaxResponseBytes] matches [ErrTooLarge]; a query Prometheus rejected wraps
// an [*APIError], which carries Prometheus' message. When
// some metric families fail and others answer, the call still returns
// every store's metrics, the failed ones unknown, and a [*PartialError]
// whose errors each name their family. When every family fails for one
// reason, the error is a [*SharedError]: it names no family and gives the
// failure that explains the others.
package promclient
