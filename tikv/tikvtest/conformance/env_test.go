package conformance

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kvops/operator/pdclient"
	"github.com/kvops/operator/subject"
	"github.com/kvops/operator/tikv"
)

func storeID(n int) subject.StoreID { return subject.StoreID(n) }

// env is one scenario on one backend.
type env struct {
	t   *testing.T
	ctx context.Context
	c   cluster
	// sub is the scenario's Subject, with the scenario's configuration.
	sub *tikv.Subject
	// mod is the scenario's change to the Subject's configuration.
	mod func(*tikv.Config)
	// hook, if set, runs before each pause of an action's wait: something
	// that happens while the action waits.
	hook func()
	// r is the region the scenario acts on, chosen by its setup.
	r subject.Region
}

// subject returns a Subject on the backend with the scenario's
// configuration and, then, mod's.
func (e *env) subject(mod func(*tikv.Config)) *tikv.Subject {
	e.t.Helper()
	cfg := e.c.config()
	cfg.DisableMetrics = true // pd-simulator's stores have no metrics
	cfg.Actions.PollInterval = 200 * time.Millisecond
	cfg.Sleep = func(ctx context.Context, d time.Duration) error {
		if e.hook != nil {
			e.hook()
		}
		return e.c.sleep(ctx, d)
	}
	if e.mod != nil {
		e.mod(&cfg)
	}
	if mod != nil {
		mod(&cfg)
	}
	sub, err := tikv.New(cfg)
	require.NoError(e.t, err)
	return sub
}

// raw sends a request to the PD leader.
func (e *env) raw(method, path string, body any) (int, []byte) {
	e.t.Helper()
	return raw(e.t, e.c.pdURL(e.t), method, path, body)
}

// mustRaw sends a request that PD must answer 200.
func (e *env) mustRaw(method, path string, body any) {
	e.t.Helper()
	status, b := e.raw(method, path, body)
	require.Equal(e.t, http.StatusOK, status, "%s %s: %s", method, path, b)
}

// waitFor polls cond, letting time pass on the backend, until it holds or
// bound has passed.
func (e *env) waitFor(what string, bound time.Duration, cond func() bool) {
	e.t.Helper()
	deadline := e.c.now().Add(bound)
	for !cond() {
		if !e.c.now().Before(deadline) {
			e.t.Fatalf("%s: not within %v", what, bound)
		}
		require.NoError(e.t, e.c.sleep(e.ctx, 500*time.Millisecond))
	}
}

// stores returns the stores as the Subject reads them.
func (e *env) stores() []subject.Store {
	e.t.Helper()
	st, err := e.sub.Stores(e.ctx)
	require.NoError(e.t, err)
	return st
}

// noneUp reports whether no store is Up (each is Disconnected or Down).
func (e *env) noneUp() bool {
	for _, s := range e.stores() {
		if s.State == subject.StateUp {
			return false
		}
	}
	return true
}

// allIn reports whether every store is in state.
func (e *env) allIn(state subject.StoreState) bool {
	for _, s := range e.stores() {
		if s.State != state {
			return false
		}
	}
	return true
}

// region returns a region led from store leader with a voter on store
// voter (0: any other store), with no operator pending: the real PD keeps
// splits of its own pending on some regions (its region labeler's, which
// pd-simulator never carries out).
func (e *env) region(leader, voter subject.StoreID) subject.Region {
	e.t.Helper()
	rs, err := e.sub.StoreRegions(e.ctx, leader, subject.MaxRegionsPerCall)
	require.NoError(e.t, err)
	for _, r := range rs {
		if !r.HasLeader || r.Leader.Store != leader {
			continue
		}
		if st, err := e.sub.PD().OperatorStatus(e.ctx, uint64(r.ID)); err == nil && st.Pending() {
			continue
		}
		for _, p := range r.Peers {
			if p.Store != leader && p.Role.IsVoter() && (voter == 0 || p.Store == voter) {
				return r
			}
		}
	}
	e.t.Fatalf("no region led from store %d with a voter on store %d", leader, voter)
	return subject.Region{}
}

// stranger returns a store holding no peer of r.
func stranger(r subject.Region) subject.StoreID {
	for id := 1; id <= stores; id++ {
		if _, ok := r.PeerOn(storeID(id)); !ok {
			return storeID(id)
		}
	}
	return 0
}

// splitPending creates an admin split on region r that never executes
// (pd-simulator's stores and tikvtest.Config.NoSplits never split).
func (e *env) splitPending(r subject.RegionID) {
	e.t.Helper()
	e.mustRaw(http.MethodPost, "/pd/api/v1/operators", map[string]any{"name": "split-region", "region_id": r, "policy": "approximate"})
}

// cancelOperator cancels region r's operator as another tool would.
func (e *env) cancelOperator(r subject.RegionID) {
	e.raw(http.MethodDelete, fmt.Sprintf("/pd/api/v1/operators/%d", r), nil)
}

// outcome is how an action ended, in the terms both backends must agree on.
type outcome struct {
	// Kind is confirmed, nochange, refused, failed, unconfirmed, or error
	// (an error that is not an ActionError).
	Kind string
	// Why is the subject sentinel of a refusal or an error, or PD's
	// operator status of a failed or unconfirmed action.
	Why string
}

func (o outcome) String() string {
	if o.Why == "" {
		return o.Kind
	}
	return o.Kind + " (" + o.Why + ")"
}

var (
	confirmed = outcome{Kind: "confirmed"}
	nochange  = outcome{Kind: "nochange"}
)

func refused(sentinel error) outcome { return outcome{"refused", sentinelName(sentinel)} }
func failed(status string) outcome   { return outcome{"failed", status} }
func unconfirmed(status string) outcome {
	return outcome{"unconfirmed", status}
}

func outcomeOf(r subject.Result, err error) outcome {
	if err == nil {
		if r.NoChange {
			return nochange
		}
		return confirmed
	}
	var ae *subject.ActionError
	if !errors.As(err, &ae) {
		return outcome{"error", sentinelName(err)}
	}
	switch ae.Phase {
	case subject.PhaseRefused:
		return outcome{"refused", sentinelName(err)}
	case subject.PhaseFailed:
		return failed(ae.Status)
	case subject.PhaseUnconfirmed:
		return unconfirmed(ae.Status)
	}
	return outcome{"error", string(ae.Phase)}
}

// sentinels are the errors an outcome names, most specific first.
var sentinels = []struct {
	name string
	err  error
}{
	{"ErrInvalid", subject.ErrInvalid},
	{"ErrNotFound", subject.ErrNotFound},
	{"ErrPrecondition", subject.ErrPrecondition},
	{"ErrNotSupported", subject.ErrNotSupported},
	{"ErrUnavailable", subject.ErrUnavailable},
	{"ErrActionFailed", subject.ErrActionFailed},
	{"ErrUnconfirmed", subject.ErrUnconfirmed},
	{"pdclient.ErrServer", pdclient.ErrServer},
	{"pdclient.ErrBadResponse", pdclient.ErrBadResponse},
}

// sentinelName names the first of sentinels err matches.
func sentinelName(err error) string {
	for _, s := range sentinels {
		if errors.Is(err, s.err) {
			return s.name
		}
	}
	return "unclassified"
}

// finding is what an invariant's check found, in the terms both backends
// must agree on: the keys it found violated and unknown, or the sentinel
// of its error.
type finding struct {
	Violated []string
	Unknown  []string
	Err      string
}

func (f finding) String() string {
	if f.Err != "" {
		return "error " + f.Err
	}
	return fmt.Sprintf("violated %v unknown %v", f.Violated, f.Unknown)
}

// invariants runs every invariant of sub once, at the backend's time.
func (e *env) invariants(sub *tikv.Subject) map[string]finding {
	e.t.Helper()
	now := e.c.now()
	out := map[string]finding{}
	for _, inv := range sub.Invariants() {
		fs, err := inv.Check(e.ctx, now)
		var f finding
		if err != nil {
			f.Err = sentinelName(err)
		}
		for _, x := range fs {
			if x.Unknown {
				f.Unknown = append(f.Unknown, x.Key)
			} else {
				f.Violated = append(f.Violated, x.Key)
			}
		}
		sort.Strings(f.Violated)
		sort.Strings(f.Unknown)
		out[inv.Name] = f
	}
	return out
}

// allStoreKeys is every store's finding key.
func allStoreKeys() []string {
	var keys []string
	for id := 1; id <= stores; id++ {
		keys = append(keys, fmt.Sprintf("store=%d", id))
	}
	return keys
}

// healthy is what the invariants find on a healthy cluster: nothing.
var healthy = map[string]finding{
	tikv.InvStoreHealth: {}, tikv.InvLowSpace: {}, tikv.InvRegionPeers: {}, tikv.InvLeaderImbalance: {},
}
