// Command mcp serves a TiKV cluster to AI agents over the Model Context
// Protocol: every observation and action of a tikv.Subject is a tool, with
// JSON Schemas derived from the library's Go types and annotations that say
// which tools only read and which change the cluster, and the alerts of the
// invariants it evaluates are a resource (tikv://alerts).
//
// Actions are dry runs unless told otherwise:
//
//	-mode dry-run  every action reports what it would do (the default)
//	-mode approve  an action returns its plan and a one-time approval_token,
//	               valid for 60 s and bound to the exact tool and arguments;
//	               calling it again with the token acts, after checking the
//	               preconditions again
//	-mode auto     every action acts at once
//
// Every action goes through one guard (subject/guard) around the cluster's
// subject, in automatic mode (the approval tokens above are the approval):
// at most one disruptive action at a time and never two stores evicted,
// the stability gate before each, and a journal of every decision. With
// -journal FILE the journal is appended to FILE (guard.OpenFileJournal:
// each record synced before the action it announces is sent, a torn last
// line cut off) and, at start, replayed from it: an action found submitted
// and unconfirmed is checked against the cluster by a dry run before any
// other is let through. One server per journal: a second one started with
// the same -journal exits at once, naming the pid and host of the first.
//
// With no -pd it serves a simulated five-store cluster, so it works on a
// fresh machine:
//
//	go run ./examples/mcp                       # stdio, for an MCP client
//	go run ./examples/mcp -http 127.0.0.1:8383  # streamable HTTP on loopback
//
// Against a real cluster (tiup playground's defaults):
//
//	go run ./examples/mcp -pd http://127.0.0.1:2379 -prometheus http://127.0.0.1:9090
//
// HTTP listens on loopback only, unless a bearer token is given
// (-token-file, or the MCP_BEARER_TOKEN environment variable): then every
// request must carry "Authorization: Bearer <token>". The token is compared
// in constant time and never logged.
package main

import (
	"context"
	"crypto/subtle"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/kvops/operator/invariant"
	"github.com/kvops/operator/pdclient"
	"github.com/kvops/operator/promclient"
	"github.com/kvops/operator/subject"
	"github.com/kvops/operator/subject/guard"
	"github.com/kvops/operator/subject/tools"
	"github.com/kvops/operator/tikv"
	sim "github.com/kvops/operator/tikv/tikvtest"
)

type options struct {
	pd         string
	prometheus string
	http       string
	tokenFile  string
	token      string
	mode       string
	journal    string
	interval   time.Duration
}

func main() {
	var o options
	flag.StringVar(&o.pd, "pd", "", "PD endpoints, comma-separated; empty serves a simulated cluster")
	flag.StringVar(&o.prometheus, "prometheus", "", "Prometheus address with -pd (empty: no metric tools)")
	flag.StringVar(&o.http, "http", "", "serve streamable HTTP on this address instead of stdio (loopback unless a bearer token is set)")
	flag.StringVar(&o.tokenFile, "token-file", "", "file holding the bearer token HTTP requests must carry (default $MCP_BEARER_TOKEN)")
	flag.StringVar(&o.mode, "mode", string(modeDryRun), "what actions do: dry-run, approve or auto")
	flag.StringVar(&o.journal, "journal", "", "append the guard's journal (JSON lines) to this file, locked against a second server, and replay it at start (default: none)")
	flag.DurationVar(&o.interval, "interval", 15*time.Second, "how often to evaluate the invariants whose alerts tikv://alerts holds")
	flag.Parse()
	o.token = os.Getenv("MCP_BEARER_TOKEN")

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, o, os.Stdin, os.Stdout, os.Stderr); err != nil && !errors.Is(err, context.Canceled) {
		fmt.Fprintln(os.Stderr, "mcp:", err)
		os.Exit(1)
	}
}

// run serves until ctx ends or, on stdio, until the client hangs up.
func run(ctx context.Context, o options, stdin io.Reader, stdout, stderr io.Writer) error {
	m, err := parseMode(o.mode)
	if err != nil {
		return err
	}
	if o.tokenFile != "" {
		b, err := os.ReadFile(o.tokenFile)
		if err != nil {
			return fmt.Errorf("reading the bearer token: %w", err)
		}
		o.token = strings.TrimSpace(string(b))
	}
	var ln net.Listener
	if o.http != "" {
		// Refuse a wrong address before starting anything.
		if ln, err = listen(o.http, o.token); err != nil {
			return err
		}
		defer ln.Close()
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	gcfg := guard.Config{Logger: logger}
	var replay io.Reader = strings.NewReader("")
	if o.journal != "" {
		// Before anything else: a second server on the same journal
		// stops here, naming the one that holds it (a *subject.LockedError),
		// rather than pass the blast radius on its own. The journal syncs
		// every record and cuts off a torn last line.
		j, err := guard.OpenFileJournal(o.journal, guard.JournalConfig{Identity: "examples/mcp", Logger: logger})
		if err != nil {
			return err
		}
		defer j.Close()
		gcfg.Journal, replay = j, j.Records()
	}
	sub, closeSub, err := newSubject(ctx, o, logger)
	if err != nil {
		return err
	}
	defer closeSub()
	ts, err := newToolServer(sub, m, time.Now, gcfg)
	if err != nil {
		return err
	}
	if err := ts.guard.Replay(ctx, replay); err != nil {
		// A bad line is skipped; an action left unresolved keeps
		// disruptive actions refused until it is settled.
		logger.Warn("mcp: replaying the journal", slog.Any("error", err))
	}
	ev, err := invariant.New(sub.Invariants(), invariant.Config{})
	if err != nil {
		return err
	}
	ts.alerts = ev.Alerts
	srv, err := newServer(ts)
	if err != nil {
		return err
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() { evaluate(ctx, ev, o.interval, logger) })

	if ln == nil {
		err := srv.Run(ctx, &mcp.IOTransport{Reader: io.NopCloser(stdin), Writer: nopWriteCloser{stdout}})
		cancel()
		return err
	}
	h := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return srv }, nil)
	hs := &http.Server{Handler: requireBearer(o.token, h), ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(stderr, "mcp: serving streamable HTTP at http://%s/\n", ln.Addr())
	wg.Go(func() {
		<-ctx.Done()
		sctx, c := context.WithTimeout(context.Background(), 5*time.Second)
		defer c()
		_ = hs.Shutdown(sctx)
	})
	if err := hs.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		cancel()
		return err
	}
	return ctx.Err()
}

type nopWriteCloser struct{ io.Writer }

func (nopWriteCloser) Close() error { return nil }

// newToolServer serves sub through a guard in automatic mode, configured
// by gcfg otherwise (its Clock defaults to now).
func newToolServer(sub subject.Subject, m mode, now func() time.Time, gcfg guard.Config) (*toolServer, error) {
	gcfg.Mode = guard.ModeAutomatic
	if gcfg.Clock == nil {
		gcfg.Clock = now
	}
	g, err := guard.New(sub, gcfg)
	if err != nil {
		return nil, err
	}
	d, err := tools.NewDispatcher(g)
	if err != nil {
		return nil, err
	}
	return &toolServer{disp: d, guard: g, mode: m, approvals: newApprovals(60*time.Second, now)}, nil
}

// newSubject connects to the cluster named by -pd, or starts a simulated
// one.
func newSubject(ctx context.Context, o options, logger *slog.Logger) (*tikv.Subject, func(), error) {
	cfg := tikv.Config{Logger: logger, DisableMetrics: true}
	closeFn := func() {}
	if o.pd != "" {
		cfg.PD = pdclient.DefaultConfig()
		cfg.PD.Endpoints = strings.Split(o.pd, ",")
		if o.prometheus != "" {
			cfg.DisableMetrics = false
			cfg.Prometheus = promclient.DefaultConfig()
			cfg.Prometheus.Address = o.prometheus
		}
	} else {
		cl, err := sim.NewUnstartedCluster(sim.Config{Stores: 5, Regions: 60})
		if err != nil {
			return nil, nil, err
		}
		if err := cl.Start(ctx); err != nil {
			return nil, nil, err
		}
		runCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
		done := make(chan struct{})
		go func() { defer close(done); _ = cl.Run(runCtx, 200*time.Millisecond) }()
		closeFn = func() { stop(); <-done; _ = cl.Close() }
		cfg.PD = pdclient.DefaultConfig()
		cfg.PD.Endpoints = []string{cl.PDURL()}
	}
	sub, err := tikv.New(cfg)
	if err != nil {
		closeFn()
		return nil, nil, err
	}
	return sub, closeFn, nil
}

// evaluate drives the evaluator whose alerts the resource serves.
func evaluate(ctx context.Context, ev *invariant.Evaluator, interval time.Duration, logger *slog.Logger) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if _, err := ev.Evaluate(ctx, time.Now()); err != nil && ctx.Err() == nil {
			logger.Warn("mcp: evaluating the invariants", slog.Any("error", err))
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// errExposed: an address other than loopback without a bearer token.
var errExposed = errors.New("refusing to serve HTTP beyond loopback without a bearer token (-token-file or MCP_BEARER_TOKEN)")

// listen listens on addr, which must be a loopback address unless a token
// guards it.
func listen(addr, token string) (net.Listener, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("-http %q: %v: %w", addr, err, subject.ErrInvalid)
	}
	if token == "" && !isLoopback(host) {
		return nil, fmt.Errorf("-http %q: %w", addr, errExposed)
	}
	return net.Listen("tcp", addr)
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// requireBearer lets through requests that carry the token; with no token
// (loopback only) it lets every request through.
func requireBearer(token string, next http.Handler) http.Handler {
	if token == "" {
		return next
	}
	want := []byte("Bearer " + token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got := []byte(r.Header.Get("Authorization"))
		if subtle.ConstantTimeCompare(got, want) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="kvops-operator"`)
			http.Error(w, "missing or wrong bearer token", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	})
}
