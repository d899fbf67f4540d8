package main

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/kvops/operator/internal/bench/modroot"
	"github.com/kvops/operator/invariant"
	"github.com/kvops/operator/promclient"
	"github.com/kvops/operator/promclient/rules"
)

// rulesFile is the TiKV-style alert rules the tick judges beside tikv's
// invariants, relative to the module's root: rules modelled on TiKV's
// official ones (promclient/rules' test data).
const rulesFile = "promclient/rules/testdata/tikv.rules.yml"

// ruleJudge judges the alert rules through promclient/rules, over a
// Prometheus client of its own whose queries are counted apart from
// tikv's: they are reported on a line of their own, so that the last
// line stays tikv's invariants (whose target is at most 12 queries a
// tick).
type ruleJudge struct {
	count *counter
	eval  *invariant.Evaluator
	n     int
}

// newRuleJudge loads path (empty: rulesFile under the module's root) and
// reads Prometheus at promURL as of promTime.
func newRuleJudge(path, promURL string, promTime time.Time) (*ruleJudge, error) {
	if path == "" {
		root, err := moduleRoot()
		if err != nil {
			return nil, err
		}
		path = filepath.Join(root, rulesFile)
	}
	j := &ruleJudge{count: newCounter()}
	prom, err := promclient.New(promclient.Config{Address: promURL, RoundTripper: j.count, Clock: func() time.Time { return promTime }})
	if err != nil {
		return nil, err
	}
	// A steady tick's figures: the one-time question whether each rule's
	// series exist (one more query per rule, at the first tick) is left
	// out, and a backfill that lacks a rule's series fails no tick.
	set, err := rules.Load(rules.Config{Prometheus: prom, SkipSeriesCheck: true}, path)
	if err != nil {
		return nil, err
	}
	invs := set.Invariants()
	j.n = len(invs)
	j.eval, err = invariant.New(invs, invariant.Config{})
	return j, err
}

// tick judges every rule once at now and measures it.
func (j *ruleJudge) tick(ctx context.Context, now time.Time) (reading, time.Duration, error) {
	r0 := j.count.read()
	t0 := time.Now()
	rep, err := j.eval.Evaluate(ctx, now)
	took := time.Since(t0)
	if err == nil && len(rep.Errors) > 0 {
		err = fmt.Errorf("rule %s: %w", rep.Errors[0].Invariant, rep.Errors[0].Err)
	}
	return j.count.read().sub(r0), took, err
}

// moduleRoot is the module's root directory.
func moduleRoot() (string, error) {
	dir, err := modroot.Find()
	if err != nil {
		return "", fmt.Errorf("%w: %s", err, "pass -rules")
	}
	return dir, nil
}
