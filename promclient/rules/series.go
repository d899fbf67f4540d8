package rules

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/prometheus/promql/parser"

	"github.com/kvops/operator/subject"
)

// ErrNoSeries is matched by a [*NoSeriesError]: a rule's expression
// selects series that exist nowhere (see Config.SkipSeriesCheck).
var ErrNoSeries = errors.New("rules: the rule's series exist nowhere")

// NoSeriesError says that series selectors of a rule selected no series
// in Prometheus the first time the rule was evaluated, and that the rule's
// result was empty: it could not have fired whatever the cluster did. It
// is returned once per rule (the evaluator keeps the rule's state, as for
// any failed check); later evaluations read the rule as usual.
type NoSeriesError struct {
	// Rule is the rule's invariant name ("group/alert").
	Rule string
	// Selectors are the selectors that selected nothing, as PromQL.
	Selectors []string
}

// Error names the rule and the selectors, and what usually causes it.
func (e *NoSeriesError) Error() string {
	return fmt.Sprintf("rules: %s: no series in Prometheus for %s: the rule cannot fire until they exist "+
		"(a metric of another version or exporter, a job or instance named otherwise, a placeholder left in)",
		e.Rule, strings.Join(e.Selectors, ", "))
}

// Is matches [ErrNoSeries].
func (e *NoSeriesError) Is(target error) bool { return target == ErrNoSeries }

// probeLabel numbers the selectors in the probe's answer.
const probeLabel = "kvops_selector"

// selectorsOf returns the series selectors of a rule's expression, once
// each, without their offsets and @ modifiers, leaving out those under
// absent and absent_over_time, whose series are meant to be missing.
func selectorsOf(p parser.Parser, expr string) ([]string, error) {
	e, err := p.ParseExpr(expr)
	if err != nil {
		return nil, err
	}
	var out []string
	parser.Inspect(e, func(n parser.Node, path []parser.Node) error {
		vs, ok := n.(*parser.VectorSelector)
		if !ok {
			return nil
		}
		for _, a := range path {
			if c, ok := a.(*parser.Call); ok && (c.Func.Name == "absent" || c.Func.Name == "absent_over_time") {
				return nil
			}
		}
		s := (&parser.VectorSelector{Name: vs.Name, LabelMatchers: vs.LabelMatchers}).String()
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
		return nil
	})
	return out, nil
}

// probeQuery asks, in one query, which selectors select any series: the
// answer holds one sample per selector that does, labelled with its
// index.
func probeQuery(selectors []string) string {
	parts := make([]string, len(selectors))
	for i, s := range selectors {
		parts[i] = fmt.Sprintf(`label_replace(group(%s), %q, "%d", "", "")`, s, probeLabel, i)
	}
	return strings.Join(parts, " or ")
}

// checkSeries asks Prometheus, the first time the rule is evaluated, at
// the rule's query time at, whether its selectors select any series. A
// selector that selects none is logged at Warn once; when the rule's
// result was empty it is also the check's error, once. A probe that
// fails is tried again at the next evaluation and fails nothing.
func (r *alertRule) checkSeries(ctx context.Context, at time.Time, empty bool) error {
	if len(r.selectors) == 0 {
		r.probed.Store(true)
		return nil
	}
	res, _, err := r.env.prom.Query(ctx, probeQuery(r.selectors), at)
	if err != nil {
		r.env.log.LogAttrs(ctx, slog.LevelDebug, "rules: asking whether the rule's series exist failed; asking again next time",
			slog.String("rule", r.rule.Name), slog.Any("error", err))
		return nil
	}
	if r.probed.Swap(true) {
		return nil // another evaluation said it already
	}
	found := map[string]bool{}
	for _, s := range res.Samples {
		found[s.Metric[probeLabel]] = true
	}
	var missing []string
	for i, s := range r.selectors {
		if !found[strconv.Itoa(i)] {
			missing = append(missing, s)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	nse := &NoSeriesError{Rule: r.rule.Name, Selectors: missing}
	r.env.log.LogAttrs(ctx, slog.LevelWarn, "rules: the rule selects series that exist nowhere",
		slog.String("rule", r.rule.Name), slog.Any("selectors", missing), slog.Bool("result_empty", empty))
	if empty {
		return nse
	}
	return nil
}

// Selectors returns the series selectors of a PromQL expression, once
// each and in the order they appear, without their offsets and @
// modifiers, leaving out those under absent and absent_over_time: the
// series the expression needs to be evaluated elsewhere (package
// tikv/record records them for a replay). An expression that does not
// parse matches [subject.ErrInvalid].
func Selectors(expr string) ([]string, error) {
	out, err := selectorsOf(parser.NewParser(parser.Options{}), expr)
	if err != nil {
		return nil, fmt.Errorf("rules: %q: %w: %w", expr, subject.ErrInvalid, err)
	}
	return out, nil
}
