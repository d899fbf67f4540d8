// Command mcp serves a TiKV cluster to AI agents over the Model Context
// Protocol: every observation and action of a tikv.Subject is a tool, with
// JSON Schemas derived from the library's Go types and annotations that say
// which tools only read and which change the cluster, and the alerts of the
// invariants it evaluates are a resource (tikv://alerts, a JSON array,
// [] when none). Keys are hex, as PD prints them, in every tool's output
// and input: what one tool returns another takes back unchanged.
//
// # Who approves an action
//
//	-mode dry-run  every action reports what it would do (the default)
//	-mode approve  a person approves each action's plan (below)
//	-mode auto     every action acts at once
//
// In approve mode an action's first call makes its plan (a dry run) and
// asks for approval in one of three ways:
//
//   - The client can elicit (it declared the elicitation capability): the
//     server asks the client's user, with the plan and a yes/no form. On
//     protocol 2026-07-28 that is an input request inside the tool's
//     reply, with a request state the server signs (HMAC with a key of the
//     process's own), bound to the tool and its exact arguments, valid 60 s
//     and accepted once; on earlier revisions it is elicitation/create.
//     The person's answer is the approval; the journal names the client.
//   - Over HTTP with an approver credential (-approver-token-file, or an
//     OAuth token with the tikv:approve scope): the call returns the plan,
//     an approval_token and an approval_id. A person holding the
//     approver's credential lists the plans (GET /approvals) and approves
//     or declines one (POST /approvals/{id} with {"approve": true}); the
//     approver must be another identity than the caller (another
//     credential, or another OAuth subject). Only then does the caller's
//     call with the token act; the journal names the approver. Elicitation
//     is not used then: the client's user is the caller's side.
//   - Otherwise (stdio, or HTTP without an approver): the call returns the
//     plan and an approval_token, and calling again with the same
//     arguments and the token acts. That is a two-step confirmation by
//     whoever holds the caller's credential (on stdio, whoever started the
//     server), not an approval by someone else.
//
// A token is bound to the tool and its exact arguments, valid 60 s and
// used once. A token presented with other arguments is refused and spent:
// an approval is for one call and cannot be stretched, even by trial, to a
// call nobody approved; the caller asks for a new plan. A token presented
// before the approver decided is refused and not spent. At most 1024
// approvals are kept: past that, a new plan gets no token (a tool error
// saying so) rather than pushing out one a person may be approving.
// Every action then checks its preconditions again: the cluster may have
// changed since the plan.
//
// Every action goes through one guard (subject/guard) around the cluster's
// subject: at most one disruptive action at a time and never two stores
// evicted, the stability gate before each, and a journal of every decision
// naming who approved it. With -journal FILE the journal is appended to
// FILE (guard.OpenFileJournal: each record synced before the action it
// announces is sent, a torn last line cut off) and, at start, replayed
// from it: an action found submitted and unconfirmed is checked against
// the cluster by a dry run before any other is let through. The replay
// runs after the server starts serving, so that a slow PD does not delay
// a client's first request; actions are refused ("retry shortly") until
// it ends. One server per journal: a second one started with the same
// -journal exits at once, naming the pid and host of the first.
//
// A client that cancels a call (notifications/cancelled, or on 2026-07-28
// by closing the request) ends the action's wait; what was submitted
// stays submitted, and the result says so.
//
// # Clients and transports
//
// The server speaks every protocol revision of the MCP Go SDK (2024-11-05
// to 2026-07-28) over stdio and over streamable HTTP. Over HTTP, requests
// of 2026-07-28 (which has no sessions) go to a stateless handler and
// earlier ones to sessions that close after -session-timeout idle (30m by
// default). It answers server/discover and initialize at once, before
// anything that waits for PD.
//
// With no -pd it serves a simulated cluster of five stores and 200
// regions, on which a restart completes, so it works on a fresh machine:
//
//	go run ./examples/mcp                       # stdio, for an MCP client
//	go run ./examples/mcp -http 127.0.0.1:8383  # streamable HTTP on loopback
//
// Against a real cluster (tiup playground's defaults; -pd reads metrics
// from Prometheus at http://127.0.0.1:9090 unless -prometheus names
// another or -no-prometheus none, as examples/watch does):
//
//	go run ./examples/mcp -pd http://127.0.0.1:2379
//
// # On a network
//
// HTTP listens on loopback unless it has both TLS (-tls-cert, -tls-key)
// and a credential: a bearer token (-token-file, or MCP_BEARER_TOKEN),
// compared in constant time and never logged, with the Bearer scheme in
// any case (RFC 9110); or OAuth (-oauth-introspect), following the MCP
// authorization profile through the SDK's auth package: protected-resource
// metadata at /.well-known/oauth-protected-resource naming -oauth-issuer,
// 401 with WWW-Authenticate pointing at it, and access tokens accepted
// only when the authorization server's introspection (RFC 7662) says they
// are active and issued for -resource (their audience, RFC 8707).
package main

import (
	"context"
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
	"github.com/kvops/operator/tikv"
	sim "github.com/kvops/operator/tikv/tikvtest"
)

type options struct {
	pd           string
	prometheus   string
	noPrometheus bool
	http         httpConfig
	tokenFile    string
	approverFile string
	mode         string
	journal      string
	interval     time.Duration
}

// defaultPrometheus is where -pd looks for Prometheus unless told
// otherwise: tiup playground's, as examples/watch does.
const defaultPrometheus = "http://127.0.0.1:9090"

func main() {
	var o options
	flag.StringVar(&o.pd, "pd", "", "PD endpoints, comma-separated; empty serves a simulated cluster")
	flag.StringVar(&o.prometheus, "prometheus", "", "Prometheus address (default "+defaultPrometheus+" with -pd)")
	flag.BoolVar(&o.noPrometheus, "no-prometheus", false, "with -pd: read no metrics; the metric tools are not offered")
	flag.StringVar(&o.http.addr, "http", "", "serve streamable HTTP on this address instead of stdio (beyond loopback: TLS and a credential are required)")
	flag.StringVar(&o.http.tlsCert, "tls-cert", "", "TLS certificate (PEM) for -http")
	flag.StringVar(&o.http.tlsKey, "tls-key", "", "TLS private key (PEM) for -http")
	flag.StringVar(&o.tokenFile, "token-file", "", "file holding the bearer token HTTP callers must carry (default $MCP_BEARER_TOKEN)")
	flag.StringVar(&o.approverFile, "approver-token-file", "", "file holding the approver's bearer token (default $MCP_APPROVER_TOKEN): with it, -mode approve's plans wait for this identity's approval at /approvals")
	flag.DurationVar(&o.http.sessionTimeout, "session-timeout", 30*time.Minute, "close an HTTP session idle this long")
	flag.StringVar(&o.http.oauthIssuer, "oauth-issuer", "", "OAuth authorization server to name in the protected-resource metadata")
	flag.StringVar(&o.http.oauthIntrospect, "oauth-introspect", "", "OAuth token introspection endpoint (RFC 7662): accept OAuth access tokens whose audience is -resource (client credentials: $MCP_OAUTH_CLIENT_ID, $MCP_OAUTH_CLIENT_SECRET)")
	flag.StringVar(&o.http.resource, "resource", "", "this server's canonical URL, the audience of the OAuth tokens it accepts (default https://<-http>/)")
	flag.StringVar(&o.mode, "mode", string(modeDryRun), "what actions do: dry-run, approve or auto")
	flag.StringVar(&o.journal, "journal", "", "append the guard's journal (JSON lines) to this file, locked against a second server, and replay it at start (default: none)")
	flag.DurationVar(&o.interval, "interval", 15*time.Second, "how often to evaluate the invariants whose alerts tikv://alerts holds")
	flag.Parse()
	o.http.token = os.Getenv("MCP_BEARER_TOKEN")
	o.http.approverToken = os.Getenv("MCP_APPROVER_TOKEN")
	o.http.oauthClientID = os.Getenv("MCP_OAUTH_CLIENT_ID")
	o.http.oauthSecret = os.Getenv("MCP_OAUTH_CLIENT_SECRET")

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, o, os.Stdin, os.Stdout, os.Stderr); err != nil && !errors.Is(err, context.Canceled) {
		fmt.Fprintln(os.Stderr, "mcp:", err)
		os.Exit(1)
	}
}

// readSecret returns the trimmed content of file, or def when file is "".
func readSecret(file, def, what string) (string, error) {
	if file == "" {
		return def, nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("reading the %s: %w", what, err)
	}
	return strings.TrimSpace(string(b)), nil
}

// run serves until ctx ends or, on stdio, until the client hangs up. It
// serves before anything slow: the journal's replay (which asks PD) runs
// in the background, with actions refused until it ends, so that a
// client's first request (server/discover, initialize) is answered at
// once even when PD is slow to reach.
func run(ctx context.Context, o options, stdin io.Reader, stdout, stderr io.Writer) error {
	m, err := parseMode(o.mode)
	if err != nil {
		return err
	}
	if o.http.token, err = readSecret(o.tokenFile, o.http.token, "bearer token"); err != nil {
		return err
	}
	if o.http.approverToken, err = readSecret(o.approverFile, o.http.approverToken, "approver's token"); err != nil {
		return err
	}
	if o.http.resource == "" {
		o.http.resource = "https://" + o.http.addr + "/"
	}
	if o.noPrometheus && o.pd == "" {
		return fmt.Errorf("-no-prometheus needs -pd: %w", subject.ErrInvalid)
	}
	var ln net.Listener
	if o.http.addr != "" {
		// Refuse a wrong address, or an exposed one, before starting
		// anything.
		if ln, err = listen(o.http); err != nil {
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
	ts, err := newToolServer(sub, m, time.Now, gcfg, o.http.needApprover())
	if err != nil {
		return err
	}
	replayed := ts.holdActions()
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
	wg.Go(func() {
		defer replayed()
		if err := ts.guard.Replay(ctx, replay); err != nil {
			// A bad line is skipped; an action left unresolved keeps
			// disruptive actions refused until it is settled.
			logger.Warn("mcp: replaying the journal", slog.Any("error", err))
		}
	})
	wg.Go(func() { evaluate(ctx, ev, o.interval, logger) })

	if ln == nil {
		err := srv.Run(ctx, &mcp.IOTransport{Reader: io.NopCloser(stdin), Writer: nopWriteCloser{stdout}})
		cancel()
		return err
	}
	h, err := httpHandler(srv, ts, o.http)
	if err != nil {
		cancel()
		return err
	}
	hs := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	scheme := "http"
	if o.http.tlsCert != "" {
		scheme = "https"
	}
	fmt.Fprintf(stderr, "mcp: serving streamable HTTP at %s://%s/\n", scheme, ln.Addr())
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

// demoConfig is the simulated cluster served without -pd: five stores and
// 200 regions, 40 leaders a store. PD's balance-leader (and tikvtest's,
// which follows it) stops once stores are within ten leaders of each
// other, so after a restart the store gets back to about 32 leaders, well
// above finish_restart's default half of the mean (20). With 60 regions
// (12 a store) it got back 4 and finish_restart waited for 6 until the
// client gave up.
func demoConfig() sim.Config { return sim.Config{Stores: 5, Regions: 200} }

// newSubject connects to the cluster named by -pd, or starts a simulated
// one. Neither waits for the cluster: tikv.New does no I/O.
func newSubject(ctx context.Context, o options, logger *slog.Logger) (*tikv.Subject, func(), error) {
	cfg := tikv.Config{Logger: logger, DisableMetrics: true}
	closeFn := func() {}
	if o.pd != "" {
		cfg.PD = pdclient.DefaultConfig()
		cfg.PD.Endpoints = strings.Split(o.pd, ",")
		if !o.noPrometheus {
			cfg.DisableMetrics = false
			cfg.Prometheus = promclient.DefaultConfig()
			cfg.Prometheus.Address = defaultPrometheus
			if o.prometheus != "" {
				cfg.Prometheus.Address = o.prometheus
			}
		}
	} else {
		cl, err := sim.NewUnstartedCluster(demoConfig())
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
