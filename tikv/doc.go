// Package tikv implements subject.Subject for TiKV clusters, from PD's HTTP
// API, TiKV's metrics in Prometheus and the logs of TiKV and PD.
//
// The logs are read through a [LogSource]: a Docker container
// ([NewDockerLogSource]) or a log file that may be rotated
// ([NewFileLogSource]).
package tikv
