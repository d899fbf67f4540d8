package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/kvops/operator/internal/syncbuf"
	"github.com/kvops/operator/invariant"
	"github.com/kvops/operator/pdclient"
	"github.com/kvops/operator/subject"
	"github.com/kvops/operator/subject/guard"
	"github.com/kvops/operator/subject/tools"
	"github.com/kvops/operator/tikv"
	"github.com/kvops/operator/tikv/tikvtest"
)

// TestMain doubles as the server when a test starts this binary as a
// subprocess (the stdio test), so that no separate build is needed.
func TestMain(m *testing.M) {
	if os.Getenv("KVOPS_MCP_SERVE") == "1" {
		os.Args = append([]string{os.Args[0]}, strings.Fields(os.Getenv("KVOPS_MCP_ARGS"))...)
		main()
		os.Exit(0)
	}
	goleak.VerifyTestMain(m)
}

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type fixture struct {
	sim     *tikvtest.Cluster
	sub     *tikv.Subject
	ts      *toolServer
	journal *syncBuffer
	tokens  *fakeClock
	cs      *mcp.ClientSession
	// sleep, when set, replaces the subject's wait between polls.
	sleep func(ctx context.Context, d time.Duration) error
}

// fixtureOpts vary a fixture.
type fixtureOpts struct {
	// cluster is the simulated cluster's configuration (default 5 stores,
	// 30 regions, seed 1).
	cluster tikvtest.Config
	// client configures the SDK's client (nil: none, so no elicitation).
	client *mcp.ClientOptions
	// version is the protocol revision the client asks for (default the
	// SDK's newest).
	version string
}

// newFixture serves a simulated cluster through the MCP server in memory,
// with the SDK's own client connected to it. Time is simulated: a subject's
// wait advances the simulation.
func newFixture(t *testing.T, m mode) *fixture {
	t.Helper()
	return newFixtureWith(t, m, fixtureOpts{})
}

func newFixtureWith(t *testing.T, m mode, o fixtureOpts) *fixture {
	t.Helper()
	f := &fixture{tokens: &fakeClock{t: time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)}}
	cc := o.cluster
	if cc.Stores == 0 {
		cc = tikvtest.Config{Stores: 5, Regions: 30, Seed: 1}
	}
	cc.Clock = &fakeClock{t: f.tokens.Now()}
	cl := tikvtest.NewCluster(t, cc)
	cl.Advance(time.Second)
	f.sim = cl
	sub, err := tikv.New(tikv.Config{
		PD:             pdclient.Config{Endpoints: []string{cl.PDURL()}},
		DisableMetrics: true,
		Clock:          cl.Now,
		Actions:        tikv.ActionConfig{PollInterval: time.Second},
		Sleep: func(ctx context.Context, d time.Duration) error {
			if f.sleep != nil {
				return f.sleep(ctx, d)
			}
			cl.Advance(d)
			return ctx.Err()
		},
	})
	require.NoError(t, err)
	f.sub = sub
	f.journal = &syncBuffer{}
	ts, err := newToolServer(sub, m, f.tokens.Now, guard.Config{Journal: f.journal}, false)
	require.NoError(t, err)
	ts.alerts = func() []invariant.Alert { return nil }
	f.ts = ts
	srv, err := newServer(ts)
	require.NoError(t, err)
	st, ct := mcp.NewInMemoryTransports()
	ss, err := srv.Connect(t.Context(), st, nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = ss.Close() })
	f.cs, err = mcp.NewClient(&mcp.Implementation{Name: "test", Version: "1"}, o.client).Connect(t.Context(), ct, &mcp.ClientSessionOptions{ProtocolVersion: o.version})
	require.NoError(t, err)
	t.Cleanup(func() { _ = f.cs.Close() })
	return f
}

// syncBuffer is a journal the test reads while the server writes.
type syncBuffer struct{ syncbuf.Buffer }

// records returns "action event by" for each journal record.
func (b *syncBuffer) records(t *testing.T) []string {
	t.Helper()
	var out []string
	for line := range strings.Lines(b.String()) {
		var rec guard.Record
		require.NoError(t, json.Unmarshal([]byte(line), &rec), line)
		out = append(out, strings.TrimSpace(fmt.Sprintf("%s %s %s", rec.Action, rec.Event, rec.By)))
	}
	return out
}

func (f *fixture) call(t *testing.T, tool string, args map[string]any) *mcp.CallToolResult {
	t.Helper()
	res, err := f.cs.CallTool(t.Context(), &mcp.CallToolParams{Name: tool, Arguments: args})
	require.NoError(t, err, "a refusal is a tool error, never a protocol error")
	return res
}

func text(r *mcp.CallToolResult) string {
	var b strings.Builder
	for _, c := range r.Content {
		if tc, ok := c.(*mcp.TextContent); ok {
			b.WriteString(tc.Text)
		}
	}
	return b.String()
}

func actionResult(t *testing.T, r *mcp.CallToolResult) actionReply {
	t.Helper()
	require.False(t, r.IsError, "tool error: %s", text(r))
	var ar actionReply
	require.NoError(t, json.Unmarshal([]byte(text(r)), &ar))
	return ar
}

// followerMove picks a region and a store that holds a follower of it.
func (f *fixture) followerMove(t *testing.T) (subject.RegionID, subject.StoreID, subject.StoreID) {
	t.Helper()
	for r, err := range f.sub.PD().AllRegions(t.Context()) {
		require.NoError(t, err)
		for _, p := range r.Peers {
			if p.StoreID != r.Leader.StoreID && !p.IsLearner {
				return subject.RegionID(r.ID), subject.StoreID(r.Leader.StoreID), subject.StoreID(p.StoreID)
			}
		}
	}
	t.Fatal("no region with a follower")
	return 0, 0, 0
}

func TestListTools(t *testing.T) {
	f := newFixture(t, modeDryRun)
	res, err := f.cs.ListTools(t.Context(), nil)
	require.NoError(t, err)
	d, err := tools.NewDispatcher(f.sub)
	require.NoError(t, err)
	var want, got []string
	for _, tool := range d.Tools() {
		want = append(want, tool.Name)
	}
	byName := map[string]*mcp.Tool{}
	for _, tool := range res.Tools {
		got = append(got, tool.Name)
		byName[tool.Name] = tool
	}
	slices.Sort(got)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("tools (-capabilities +listed):\n%s", diff)
	}
	for _, tool := range res.Tools {
		require.NotNil(t, tool.Annotations, tool.Name)
		schema, _ := tool.InputSchema.(map[string]any)
		require.Equal(t, "object", schema["type"], "%s input schema", tool.Name)
		require.NotNil(t, tool.OutputSchema, tool.Name)
	}
	if a := byName["stores"].Annotations; !a.ReadOnlyHint {
		t.Errorf("stores is not read-only: %+v", a)
	}
	if a := byName["drain_store"].Annotations; a.ReadOnlyHint || a.DestructiveHint == nil || !*a.DestructiveHint || !a.IdempotentHint {
		t.Errorf("drain_store annotations = %+v, want destructive and idempotent", a)
	}
	props := byName["transfer_leader"].InputSchema.(map[string]any)["properties"].(map[string]any)
	for _, p := range []string{"region_id", "to_store_id", tokenField} {
		if _, ok := props[p]; !ok {
			t.Errorf("transfer_leader has no %s parameter: %v", p, props)
		}
	}
	req := byName["transfer_leader"].InputSchema.(map[string]any)["required"]
	if diff := cmp.Diff([]any{"region_id", "to_store_id"}, req); diff != "" {
		t.Errorf("transfer_leader required (-want +got):\n%s", diff)
	}
}

func TestCallEveryObservation(t *testing.T) {
	f := newFixture(t, modeDryRun)
	d, err := tools.NewDispatcher(f.sub)
	require.NoError(t, err)
	region, _, _ := f.followerMove(t)
	args := map[string]map[string]any{
		"region":        {"region_id": region},
		"store_regions": {"store_id": 1, "limit": 3},
		"range_regions": {"start_key": "", "limit": 5},
		"store_metrics": {"store_id": 1},
	}
	n := 0
	for _, tool := range d.Tools() {
		if tool.Kind != tools.KindObservation {
			continue
		}
		n++
		res := f.call(t, tool.Name, args[tool.Name])
		require.False(t, res.IsError, "%s: %s", tool.Name, text(res))
		var body struct {
			Result json.RawMessage `json:"result"`
		}
		require.NoError(t, json.Unmarshal([]byte(text(res)), &body), tool.Name)
		require.NotEmpty(t, body.Result, tool.Name)
		if tool.Name == "stores" {
			var stores []subject.Store
			require.NoError(t, json.Unmarshal(body.Result, &stores))
			require.Len(t, stores, 5)
		}
	}
	require.Equal(t, 9, n, "observations of a subject without Prometheus or logs")
}

func TestDryRunActionChangesNothing(t *testing.T) {
	f := newFixture(t, modeDryRun)
	region, from, to := f.followerMove(t)
	ar := actionResult(t, f.call(t, "transfer_leader", map[string]any{"region_id": region, "to_store_id": to}))
	require.True(t, ar.Result.DryRun, "result = %+v", ar.Result)
	require.Empty(t, ar.ApprovalToken, "dry-run mode hands out no token")
	leader, err := f.sim.RegionLeader(region)
	require.NoError(t, err)
	require.Equal(t, from, leader, "a dry run moved the leader")
}

func TestApprovedActionActs(t *testing.T) {
	f := newFixture(t, modeApprove)
	region, from, to := f.followerMove(t)
	args := map[string]any{"region_id": region, "to_store_id": to}
	plan := actionResult(t, f.call(t, "transfer_leader", args))
	require.True(t, plan.Result.DryRun)
	require.NotEmpty(t, plan.ApprovalToken)
	require.Equal(t, f.tokens.Now().Add(60*time.Second), plan.ExpiresAt)
	leader, err := f.sim.RegionLeader(region)
	require.NoError(t, err)
	require.Equal(t, from, leader, "the plan moved the leader")

	args[tokenField] = plan.ApprovalToken
	done := actionResult(t, f.call(t, "transfer_leader", args))
	require.False(t, done.Result.DryRun, "result = %+v", done.Result)
	leader, err = f.sim.RegionLeader(region)
	require.NoError(t, err)
	require.Equal(t, to, leader, "the approved call did not move the leader")

	// The token worked once.
	again := f.call(t, "transfer_leader", map[string]any{"region_id": region, "to_store_id": from, tokenField: plan.ApprovalToken})
	require.True(t, again.IsError)
	require.Contains(t, text(again), errTokenUnknown.Error())
	leader, err = f.sim.RegionLeader(region)
	require.NoError(t, err)
	require.Equal(t, to, leader, "a spent token acted")
}

func TestApprovalTokenRefusals(t *testing.T) {
	for _, tc := range []struct {
		name string
		// present returns the arguments to present the token with, after
		// doing whatever the case needs.
		present func(f *fixture, region subject.RegionID, from, to subject.StoreID) map[string]any
		want    error
	}{
		{"expired", func(f *fixture, region subject.RegionID, _, to subject.StoreID) map[string]any {
			f.tokens.Advance(61 * time.Second)
			return map[string]any{"region_id": region, "to_store_id": to}
		}, errTokenExpired},
		{"other arguments", func(f *fixture, region subject.RegionID, from, _ subject.StoreID) map[string]any {
			return map[string]any{"region_id": region, "to_store_id": from}
		}, errTokenMismatch},
		{"made up", func(f *fixture, region subject.RegionID, _, to subject.StoreID) map[string]any {
			return map[string]any{"region_id": region, "to_store_id": to, tokenField: "bm90LWEtdG9rZW4"}
		}, errTokenUnknown},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, modeApprove)
			region, from, to := f.followerMove(t)
			plan := actionResult(t, f.call(t, "transfer_leader", map[string]any{"region_id": region, "to_store_id": to}))
			args := tc.present(f, region, from, to)
			if _, ok := args[tokenField]; !ok {
				args[tokenField] = plan.ApprovalToken
			}
			res := f.call(t, "transfer_leader", args)
			require.True(t, res.IsError, "result: %s", text(res))
			require.Contains(t, text(res), tc.want.Error())
			require.Contains(t, text(res), "not approved; nothing was changed")
			leader, err := f.sim.RegionLeader(region)
			require.NoError(t, err)
			require.Equal(t, from, leader, "a refused token acted")
		})
	}
}

func TestBadArgumentChangesNothing(t *testing.T) {
	f := newFixture(t, modeAuto)
	before, err := f.sub.Stores(t.Context())
	require.NoError(t, err)
	for _, args := range []map[string]any{
		{"store_id": 0},
		{"store_id": "one"},
		{},
		{"store_id": 1, "force": true},
		{"store_id": 1, tokenField: 7},
	} {
		res := f.call(t, "drain_store", args)
		require.True(t, res.IsError, "drain_store%v: %s", args, text(res))
		require.Contains(t, text(res), "invalid arguments; nothing was changed", "drain_store%v", args)
	}
	after, err := f.sub.Stores(t.Context())
	require.NoError(t, err)
	for i := range before {
		require.Equal(t, before[i].State, after[i].State, "store %d", before[i].ID)
	}
}

func TestCallCancelledMidway(t *testing.T) {
	f := newFixture(t, modeAuto)
	requireCancelMidway(t, f, f.cs)
}

// requireCancelMidway starts a transfer_leader through cs, cancels it
// while the action waits for PD, and checks that the action saw the
// cancellation and the server goes on serving.
func requireCancelMidway(t *testing.T, f *fixture, cs *mcp.ClientSession) {
	t.Helper()
	region, _, to := f.followerMove(t)
	waiting := make(chan struct{})
	returned := make(chan error, 1)
	var once sync.Once
	f.sleep = func(ctx context.Context, d time.Duration) error {
		once.Do(func() { close(waiting) })
		<-ctx.Done()
		select {
		case returned <- ctx.Err():
		default:
		}
		return ctx.Err()
	}
	ctx, cancel := context.WithCancel(t.Context())
	errc := make(chan error, 1)
	go func() {
		_, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "transfer_leader", Arguments: map[string]any{"region_id": region, "to_store_id": to}})
		errc <- err
	}()
	<-waiting
	cancel()
	require.ErrorIs(t, <-errc, context.Canceled)
	require.ErrorIs(t, <-returned, context.Canceled, "the action did not see the cancellation")
	f.sleep = nil
	res, err := cs.CallTool(t.Context(), &mcp.CallToolParams{Name: "stores", Arguments: map[string]any{}})
	require.NoError(t, err)
	require.False(t, res.IsError, text(res))
}

// TestStdioSubprocess runs the server as a real subprocess, as an MCP
// client configured with the README's snippet does, and talks to it over
// stdio with the SDK's client.
func TestStdioSubprocess(t *testing.T) {
	// The journal a crash left: a schedule limit set to its value (PD's
	// default, 4), submitted and never confirmed. At start the server's
	// guard replays it and confirms it by a dry run that has nothing to do.
	journal := filepath.Join(t.TempDir(), "journal.jsonl")
	require.NoError(t, os.WriteFile(journal, []byte(`{"schema":1,"time":"2026-12-01T12:00:00Z","id":"j1","event":"submitted",`+
		`"action":"set_schedule_limit","target":"leader-schedule-limit","args":{"kind":"leader","limit":4},"mode":"automatic"}`+"\n"), 0o600))
	cmd := exec.CommandContext(t.Context(), os.Args[0])
	cmd.Env = append(os.Environ(), "KVOPS_MCP_SERVE=1", "KVOPS_MCP_ARGS=-mode approve -journal "+journal)
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "test", Version: "1"}, nil).
		Connect(t.Context(), &mcp.CommandTransport{Command: cmd}, nil)
	require.NoError(t, err)
	defer cs.Close()

	tools, err := cs.ListTools(t.Context(), nil)
	require.NoError(t, err)
	names := map[string]bool{}
	for _, tool := range tools.Tools {
		names[tool.Name] = true
	}
	for _, n := range []string{"stores", "cluster_metrics", "transfer_leader", "drain_store", "evict_leaders"} {
		require.True(t, names[n], "tool %s not listed: %v", n, names)
	}
	res, err := cs.CallTool(t.Context(), &mcp.CallToolParams{Name: "stores", Arguments: map[string]any{}})
	require.NoError(t, err)
	require.False(t, res.IsError, text(res))

	res, err = cs.CallTool(t.Context(), &mcp.CallToolParams{Name: "drain_store", Arguments: map[string]any{"store_id": 1}})
	require.NoError(t, err)
	ar := actionResult(t, res)
	require.True(t, ar.Result.DryRun, "approve mode's first call is a plan")
	require.NotEmpty(t, ar.ApprovalToken)

	res, err = cs.CallTool(t.Context(), &mcp.CallToolParams{Name: "drain_store", Arguments: map[string]any{"store_id": 0}})
	require.NoError(t, err)
	require.True(t, res.IsError)

	rr, err := cs.ReadResource(t.Context(), &mcp.ReadResourceParams{URI: alertsURI})
	require.NoError(t, err)
	require.Len(t, rr.Contents, 1)
	var alerts []map[string]any
	require.NoError(t, json.Unmarshal([]byte(rr.Contents[0].Text), &alerts), rr.Contents[0].Text)

	b, err := os.ReadFile(journal)
	require.NoError(t, err)
	var got []string
	for line := range strings.Lines(string(b)) {
		var rec guard.Record
		require.NoError(t, json.Unmarshal([]byte(line), &rec), line)
		got = append(got, fmt.Sprintf("%s %s %s %s", rec.Action, rec.Target, rec.Event, rec.By))
	}
	require.Equal(t, []string{
		"set_schedule_limit leader-schedule-limit submitted ",
		"set_schedule_limit leader-schedule-limit confirmed " + guard.ByDryRun,
		"drain_store store 1 requested ", "drain_store store 1 dry_run ",
		// store 0 is refused by the tool's schema, before the guard.
	}, got)
}

// TestSecondDisruptiveCallRefusedWhileOneWaits: the guard lets one
// disruptive action through at a time; a second, while the first waits
// for PD, is a clear tool error and changes nothing.
func TestSecondDisruptiveCallRefusedWhileOneWaits(t *testing.T) {
	f := newFixture(t, modeAuto)
	region, _, to := f.followerMove(t)
	waiting := make(chan struct{})
	release := make(chan struct{})
	var once sync.Once
	f.sleep = func(ctx context.Context, d time.Duration) error {
		once.Do(func() { close(waiting) })
		select {
		case <-release:
		case <-ctx.Done():
			return ctx.Err()
		}
		f.sim.Advance(d)
		return ctx.Err()
	}
	first := make(chan *mcp.CallToolResult, 1)
	go func() {
		res, err := f.cs.CallTool(t.Context(), &mcp.CallToolParams{Name: "transfer_leader", Arguments: map[string]any{"region_id": region, "to_store_id": to}})
		if err != nil {
			res = &mcp.CallToolResult{IsError: true, Content: []mcp.Content{&mcp.TextContent{Text: err.Error()}}}
		}
		first <- res
	}()
	<-waiting

	res := f.call(t, "drain_store", map[string]any{"store_id": 4})
	require.True(t, res.IsError, "a second disruptive action went through: %s", text(res))
	require.True(t, strings.HasPrefix(text(res), "refused by the guard: another disruptive action is in progress"), text(res))
	st, err := f.sim.StoreState(4)
	require.NoError(t, err)
	require.Equal(t, subject.StateUp, st, "the refused drain changed nothing")

	close(release)
	r := actionResult(t, <-first)
	require.False(t, r.Result.DryRun)
	leader, err := f.sim.RegionLeader(region)
	require.NoError(t, err)
	require.Equal(t, to, leader, "the first action finished")
}

// TestSecondServerOnOneJournal: a second server started with the -journal
// of one that is running stops at once with a *subject.LockedError naming
// the first (its pid), before it serves anything. Fixed by this work: both
// served, each guard passed the blast radius on its own, and two stores
// ended up evicted together.
func TestSecondServerOnOneJournal(t *testing.T) {
	journal := filepath.Join(t.TempDir(), "journal.jsonl")
	cmd := exec.CommandContext(t.Context(), os.Args[0])
	cmd.Env = append(os.Environ(), "KVOPS_MCP_SERVE=1", "KVOPS_MCP_ARGS=-mode auto -journal "+journal)
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "test", Version: "1"}, nil).
		Connect(t.Context(), &mcp.CommandTransport{Command: cmd}, nil)
	require.NoError(t, err)
	defer cs.Close()
	_, err = cs.ListTools(t.Context(), nil)
	require.NoError(t, err, "the first server is serving")

	var stderr strings.Builder
	err = run(t.Context(), options{mode: string(modeAuto), journal: journal, interval: time.Hour}, strings.NewReader(""), io.Discard, &stderr)
	var le *subject.LockedError
	require.ErrorAs(t, err, &le)
	require.Equal(t, cmd.Process.Pid, le.Holder.PID, "the error names the first server")
	require.Equal(t, "examples/mcp", le.Holder.Identity)
}
