// Package pdclient is a client for PD's HTTP API (/pd/api/v1), the
// placement driver of a TiKV cluster.
package pdclient
