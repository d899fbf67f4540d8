package promclient

import (
	"context"
	"encoding/json"
	"net/url"
	"time"
)

// QueryInfo is one query sent to Prometheus' HTTP API, as
// [Config].OnQuery receives it: the client's counterpart of an HTTP
// client's metrics (queries by API path and status, with latency), given
// as plain data so that this package links no metrics library. Package
// tikv/opmetrics turns it into Prometheus metrics.
//
// Every query is reported, whoever asked: the store metrics (one query
// per metric family), [Client.Query] (alerting rules and their
// templates), and range queries.
type QueryInfo struct {
	// Path is the API path asked: "/api/v1/query" or
	// "/api/v1/query_range".
	Path string
	// Status is the HTTP status of Prometheus' answer (of the GET a
	// refused POST falls back to); 0 when none came.
	Status int
	// Err is the query's error, classified as the client's callers see
	// it (matching [ErrUnavailable], a context error, [ErrTooLarge], or
	// an [*APIError] of Prometheus'); nil when Prometheus answered with a
	// result.
	Err error
	// Duration is how long the query took, the answer read included.
	Duration time.Duration
}

// call sends one query and, with Config.OnQuery set, tells it.
func (c *Client) call(ctx context.Context, path string, args url.Values) (ValueType, json.RawMessage, []string, error) {
	if c.onQuery == nil {
		return c.exchange(ctx, path, args, nil)
	}
	start := time.Now()
	var status int
	typ, raw, w, err := c.exchange(ctx, path, args, &status)
	qi := QueryInfo{Path: path, Status: status, Duration: time.Since(start)}
	if err != nil {
		qi.Err = classify(err)
	}
	c.onQuery(qi)
	return typ, raw, w, err
}
