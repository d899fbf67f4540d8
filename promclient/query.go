package promclient

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/common/model"
)

// Query evaluates one PromQL expression at the instant at and returns
// Prometheus' answer as client_golang decodes it (a [model.Vector], a
// [*model.Scalar], a [model.Matrix] or a [*model.String]), with its
// warnings. It is for callers with queries of their own, such as alerting
// rules; the store metrics have their own methods.
//
// The call is bounded by Config.Timeout. A failure is a [*QueryError]
// (Metric empty, Query the expression) whose cause matches
// [ErrUnavailable] when Prometheus could not be reached or answered with a
// server error (worth retrying later), a context error when ctx ended or
// the timeout passed, [ErrTooLarge] for an oversized answer, or is a
// [*v1.Error] carrying Prometheus' own message when it rejected the query
// (retrying the same query will not help).
//
// It calls POST /api/v1/query.
func (c *Client) Query(ctx context.Context, query string, at time.Time) (model.Value, []string, error) {
	ctx, cancel := c.withTimeout(ctx)
	defer cancel()
	start := time.Now()
	v, w, _, err := c.api.Query(ctx, query, at)
	c.log.LogAttrs(ctx, slog.LevelDebug, "promclient query",
		slog.String("prometheus", c.address), slog.String("query", query),
		slog.Duration("took", time.Since(start)), slog.Int("warnings", len(w)),
		slog.Any("error", err))
	if err != nil {
		return nil, w, &QueryError{Address: c.address, Query: query, Err: classify(err)}
	}
	return v, w, nil
}
