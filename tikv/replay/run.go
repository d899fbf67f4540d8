package replay

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"time"

	"github.com/kvops/operator/invariant"
	"github.com/kvops/operator/pdclient"
	"github.com/kvops/operator/promclient"
	"github.com/kvops/operator/promclient/rules"
	"github.com/kvops/operator/subject"
	"github.com/kvops/operator/subject/guard"
	"github.com/kvops/operator/tikv"
	"github.com/kvops/operator/tikv/record"
	"github.com/kvops/operator/tikv/tikvtest"
)

// Operator is the code under test: called once per tick of the replay,
// it reads Tick.Report (and Tick.Observer) and acts through Tick.Actor,
// as it would on the live cluster. An error is kept in the tick's record
// and the replay goes on.
type Operator interface {
	Tick(ctx context.Context, t Tick) error
}

// OperatorFunc is a function as an Operator.
type OperatorFunc func(ctx context.Context, t Tick) error

// Tick calls f.
func (f OperatorFunc) Tick(ctx context.Context, t Tick) error { return f(ctx, t) }

// Tick is what the operator is given at each tick.
type Tick struct {
	// At is the replay's clock.
	At time.Time
	// Report is the invariants' evaluation at At.
	Report invariant.Report
	// Observer reads the replayed cluster at At (the tikv.Subject).
	Observer subject.Observer
	// Actor is the guard, in dry-run mode, over the replayed cluster:
	// every action is checked and answered as it would have been at At,
	// and changes nothing. Each call is in the Timeline.
	Actor subject.Actor
}

// Config configures Run. Recording (or Open) and Operator are required;
// every other zero field takes the default its comment names.
type Config struct {
	// Recording is the path of the recording file. Open, when set, is
	// used instead; the recording is read twice (its series, then the
	// rest as the clock moves), each time from a new reader.
	Recording string
	Open      func() (io.ReadCloser, error)
	// Name names the operator's configuration in the Timeline and in
	// Compare's summary ("v2"); default "replay".
	Name string
	// Operator is called at every tick.
	Operator Operator
	// Step is the time between two ticks; default the recording's
	// interval (15 s when the header has none).
	Step time.Duration
	// Start and End bound the replayed window; default the recording's:
	// its first evaluation (see tikvtest.ReplayConfig.Start) and where it
	// actually ended (its end line: the last tick is the first at or
	// after it), which is before its header's planned End when the
	// recording was stopped early. Only the series of the window (and Prometheus'
	// lookback before it) are backfilled.
	Start, End time.Time
	// Subject configures the tikv.Subject (thresholds, action bounds);
	// its PD, Prometheus, Clock, Sleep and DryRun are the replay's own.
	Subject tikv.Config
	// Guard configures the guard (cooldowns, rate, blast radius); its
	// Mode is always guard.ModeDryRun, its Clock the replay's, and its
	// OnAction is called after the replay's own.
	Guard guard.Config
	// Invariants configures the evaluator; Concurrency defaults to 1, so
	// that the checks run in name order.
	Invariants invariant.Config
	// Rules are Prometheus rule files whose alerting rules are judged
	// with the Subject's invariants, through RulesConfig (its Prometheus
	// is the replay's).
	Rules       []string
	RulesConfig rules.Config
	// Prometheus is the address of a Prometheus already holding the
	// recording's series; by default Run backfills a new one (the
	// prometheus and promtool binaries on PATH) and stops it at the end.
	Prometheus string
	// NoMetrics judges without metrics: the recording's series are not
	// read, and the invariants that need them are left out, as with
	// tikv.Config.DisableMetrics. A recording without series runs so too.
	NoMetrics bool
	// Logger receives the replay's debug messages; discarded by default.
	Logger *slog.Logger
}

// ErrNoOperator is Run's error for a Config without an Operator. It
// matches subject.ErrInvalid.
var ErrNoOperator = fmt.Errorf("replay: Config.Operator is required: %w", subject.ErrInvalid)

// Run replays the recording: it serves it as PD (tikvtest.Replay, read
// in-process, no listener), its series from a backfilled Prometheus, and
// builds a tikv.Subject over them (a dry-run subject: nothing it does can
// change anything), a guard in dry-run mode and an evaluator of the
// Subject's invariants and the rule files'. It then steps the replay's
// clock from Start to End by Step, as fast as it can: no real-time wait,
// and every clock (the subject's, the guard's, Prometheus queries' and
// the evaluator's time) is the replay's, so the same recording and
// operator give the same Timeline. At each tick it evaluates the
// invariants and calls the operator.
//
// Errors: ErrNoOperator; the recording's (record.ErrTruncated,
// *record.UnsupportedError: the timeline up to where it could be read is
// returned with it); tikvtest.ErrNoPrometheus when the series must be
// backfilled and Prometheus is not installed (set NoMetrics to run
// without); ctx's error, with the timeline so far.
func Run(ctx context.Context, cfg Config) (Timeline, error) {
	if cfg.Operator == nil {
		return Timeline{}, ErrNoOperator
	}
	open := cfg.Open
	if open == nil {
		if cfg.Recording == "" {
			return Timeline{}, fmt.Errorf("replay: Config.Recording or Config.Open is required: %w", subject.ErrInvalid)
		}
		open = func() (io.ReadCloser, error) { return os.Open(cfg.Recording) }
	}
	logger := cmp.Or(cfg.Logger, slog.New(slog.DiscardHandler))

	f, err := open()
	if err != nil {
		return Timeline{}, fmt.Errorf("replay: %w", err)
	}
	defer f.Close()
	rd, err := record.NewReader(f)
	if err != nil {
		return Timeline{}, fmt.Errorf("replay: %w", err)
	}
	h := rd.Header()
	step := cmp.Or(cfg.Step, time.Duration(h.Interval), 15*time.Second)
	start, end := cmp.Or(cfg.Start, h.Start), cmp.Or(cfg.End, h.End)
	if step < 0 || end.Before(start) {
		return Timeline{}, fmt.Errorf("replay: step %v from %v to %v: %w", step, start, end, subject.ErrInvalid)
	}

	promURL := cfg.Prometheus
	if !cfg.NoMetrics && promURL == "" {
		p, err := backfill(ctx, open, start, end)
		if err != nil {
			return Timeline{}, err
		}
		if p != nil {
			defer p.Stop()
			promURL = p.URL
		}
	}

	rp, err := tikvtest.NewReplay(rd, tikvtest.ReplayConfig{Start: cfg.Start, Logger: logger})
	if err != nil {
		return Timeline{}, fmt.Errorf("replay: %w", err)
	}
	if start = rp.Now(); end.Before(start) {
		end = start
	}

	w, err := newWorld(cfg, rp, promURL)
	if err != nil {
		return Timeline{}, err
	}
	defer w.close()

	tl := Timeline{Name: cmp.Or(cfg.Name, "replay"), Start: start, End: end, Step: step}
	for at := start; !at.After(end); at = at.Add(step) {
		if err := ctx.Err(); err != nil {
			return tl, err
		}
		if err := rp.SetTime(at); err != nil {
			return tl, fmt.Errorf("replay: at %v: %w", at, err)
		}
		tl.Ticks = append(tl.Ticks, w.tick(ctx, at, cfg.Operator))
		if step == 0 {
			break
		}
		if ended, ok := rp.Ended(); ok && cfg.End.IsZero() && !at.Before(ended) {
			tl.End = at // the recording stopped before its planned end
			break
		}
	}
	return tl, nil
}

// backfill reads the recording's series over [from, to] (and
// Prometheus' lookback before from) into a new Prometheus; nil when it
// has none there.
func backfill(ctx context.Context, open func() (io.ReadCloser, error), from, to time.Time) (*tikvtest.Prometheus, error) {
	f, err := open()
	if err != nil {
		return nil, fmt.Errorf("replay: %w", err)
	}
	defer f.Close()
	rd, err := record.NewReader(f)
	if err != nil {
		return nil, fmt.Errorf("replay: %w", err)
	}
	hist, err := tikvtest.ReadHistory(rd, from, to)
	if err != nil {
		return nil, fmt.Errorf("replay: %w", err)
	}
	if len(hist.Series()) == 0 {
		return nil, nil
	}
	p, err := tikvtest.BackfillPrometheus(ctx, hist)
	if err != nil {
		return nil, fmt.Errorf("replay: %w", err)
	}
	return p, nil
}

// world is what a replay runs on: the subject, the guard and the
// evaluator over the replayed cluster.
type world struct {
	sub   *tikv.Subject
	actor *actor
	ev    *invariant.Evaluator
}

// replayHost is the host the in-process PD answers as.
const replayHost = "http://replay.invalid"

func newWorld(cfg Config, rp *tikvtest.Replay, promURL string) (*world, error) {
	// PD is read in-process: a transport that calls the replay's handler.
	hc := &http.Client{Transport: handlerTransport{rp.Handler()}}
	sc := cfg.Subject
	sc.PD = pdclient.Config{Endpoints: []string{replayHost}, HTTPClient: hc,
		// The recording answers a retry as it answered the request.
		MaxAttempts: 1, MembersRefreshInterval: -1}
	sc.DisableMetrics = cfg.NoMetrics || promURL == ""
	pc := sc.Prometheus
	pc.Address, pc.Clock = promURL, rp.Now
	sc.Prometheus = pc
	sc.Clock = rp.Now
	sc.DryRun = true
	sc.Sleep = func(ctx context.Context, _ time.Duration) error { return ctx.Err() }
	sub, err := tikv.New(sc)
	if err != nil {
		return nil, fmt.Errorf("replay: %w", err)
	}
	invs := sub.Invariants()
	if len(cfg.Rules) > 0 {
		if sc.DisableMetrics {
			_ = sub.Close()
			return nil, fmt.Errorf("replay: rule files need the recording's series: %w", subject.ErrPrecondition)
		}
		prom, err := promclient.New(pc)
		if err != nil {
			_ = sub.Close()
			return nil, fmt.Errorf("replay: %w", err)
		}
		rc := cfg.RulesConfig
		rc.Prometheus = prom
		set, err := rules.Load(rc, cfg.Rules...)
		if err != nil {
			_ = sub.Close()
			return nil, fmt.Errorf("replay: %w", err)
		}
		invs = append(invs, set.Invariants()...)
	}
	ic := cfg.Invariants
	ic.Concurrency = cmp.Or(ic.Concurrency, 1)
	ev, err := invariant.New(invs, ic)
	if err != nil {
		_ = sub.Close()
		return nil, fmt.Errorf("replay: %w", err)
	}
	a := &actor{}
	gc := cfg.Guard
	gc.Mode, gc.Clock, gc.Approver = guard.ModeDryRun, rp.Now, nil
	user := gc.OnAction
	gc.OnAction = func(ai guard.ActionInfo) {
		a.info = ai
		if user != nil {
			user(ai)
		}
	}
	g, err := guard.New(sub, gc)
	if err != nil {
		_ = sub.Close()
		return nil, fmt.Errorf("replay: %w", err)
	}
	a.g = g
	return &world{sub: sub, actor: a, ev: ev}, nil
}

func (w *world) close() { _ = w.sub.Close() }

func (w *world) tick(ctx context.Context, at time.Time, op Operator) TickRecord {
	rep, err := w.ev.Evaluate(ctx, at)
	tr := TickRecord{At: at, Alerts: rep.Violations, Transitions: rep.Transitions}
	if err != nil {
		tr.Errors = append(tr.Errors, err.Error())
	}
	for _, ce := range rep.Errors {
		tr.Errors = append(tr.Errors, ce.Error())
	}
	w.actor.start(at)
	if err := op.Tick(ctx, Tick{At: at, Report: rep, Observer: w.sub, Actor: w.actor}); err != nil {
		tr.OperatorError = err.Error()
	}
	tr.Actions = w.actor.take()
	return tr
}

// errNoAnswer is the in-process transport's error where the recording
// says PD did not answer: a connection closed without an answer, which
// pdclient reports as a *TransportError (subject.ErrUnavailable).
var errNoAnswer = errors.New("replay: PD did not answer (recorded as unreachable): connection closed")

// handlerTransport sends a request to a handler in-process. A handler
// that aborts (panic(http.ErrAbortHandler), tikvtest.Replay's answer
// where PD did not answer) is a connection closed without an answer.
type handlerTransport struct{ h http.Handler }

func (t handlerTransport) RoundTrip(req *http.Request) (resp *http.Response, err error) {
	if err := req.Context().Err(); err != nil {
		return nil, err
	}
	defer func() {
		if v := recover(); v != nil {
			if v != http.ErrAbortHandler {
				panic(v)
			}
			resp, err = nil, errNoAnswer
		}
	}()
	rec := httptest.NewRecorder()
	t.h.ServeHTTP(rec, req)
	resp = rec.Result()
	resp.Request = req
	return resp, nil
}
