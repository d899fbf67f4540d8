package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"time"

	"github.com/kvops/operator/pdclient"
	"github.com/kvops/operator/subject"
	"github.com/kvops/operator/subject/guard"
	"github.com/kvops/operator/tikv"
	"github.com/kvops/operator/tikv/election"
)

// envReplica carries a replica's configuration, as JSON, from the
// parent to the process it starts.
const envReplica = "KVOPS_EXAMPLE_ELECTION_REPLICA"

// replicaConfig is what a replica is told.
type replicaConfig struct {
	Name    string        // its identity in the election
	Control string        // the parent's URL: events, and the store's restart
	PD      string        // PD's HTTP API
	Etcd    []string      // the election's endpoints
	Prefix  string        // the election's key prefix
	TTL     time.Duration // the election's TTL
	Journal string        // the guard's journal, shared by the replicas
	Ledger  string        // tikv's eviction ledger, shared likewise
	Store   subject.StoreID
}

// event is what a replica tells the parent.
type event struct {
	Replica string
	Event   string // won, refused, replayed, prepared, restarted, done
	Rev     int64  // the term's
	TTL     time.Duration
	Detail  string
}

// campaignSlice is how long a follower campaigns before it tries the
// work anyway, through a guard that must refuse it.
const campaignSlice = time.Second

// replicaMain runs one replica: the operator's whole loop, as every replica
// runs it.
func replicaMain(ctx context.Context, rc replicaConfig) error {
	log := slog.New(slog.NewTextHandler(os.Stderr, nil)).With("replica", rc.Name)
	el, err := election.New(election.Config{Endpoints: rc.Etcd, Prefix: rc.Prefix, TTL: rc.TTL, Identity: rc.Name, Logger: log})
	if err != nil {
		return err
	}
	defer el.Close(context.WithoutCancel(ctx))
	r := &replica{rc: rc, el: el, log: log}
	sub, err := r.subject(nil)
	if err != nil {
		return err
	}
	defer sub.Close()
	r.sub = sub

	// A follower's guard: no journal (the leader's is locked), and a
	// Leadership that never lets it act, since it was built before any
	// term and never replayed the journal. It takes no maintenance lock
	// either: it never acts, and PD's lock, which the leader's guard holds
	// for the restart, would refuse it (guard.ErrMaintenanceLock) before
	// its leadership does.
	follower, err := guard.New(sub, guard.Config{Mode: guard.ModeAutomatic, Leadership: notLeader{el}, Extra: r.actions(nil),
		NoMaintenanceLock: true})
	if err != nil {
		return err
	}
	for {
		cctx, cancel := context.WithTimeout(ctx, campaignSlice)
		term, err := el.Campaign(cctx)
		cancel()
		switch {
		case err == nil:
			r.tell(ctx, event{Event: "won", Rev: term.Rev(), TTL: term.TTL()})
			return r.lead(ctx, term)
		case !errors.Is(err, context.DeadlineExceeded) || ctx.Err() != nil:
			return err
		}
		// Not the leader: the operator's loop still wants the store
		// restarted; the guard refuses it.
		_, err = follower.Do(ctx, guard.ActionPrepareRestart, guard.Args{Store: rc.Store})
		switch {
		case errors.Is(err, guard.ErrNotLeader):
			r.tell(ctx, event{Event: "refused", Detail: err.Error()})
		case err == nil:
			return fmt.Errorf("%s acted while not the leader", rc.Name)
		default:
			log.Warn("refused for another reason", "error", err)
		}
	}
}

type replica struct {
	rc  replicaConfig
	el  *election.Election
	sub *tikv.Subject
	log *slog.Logger
}

// subject builds the replica's view of the cluster; the leader's carries
// the eviction ledger, which only it holds.
func (r *replica) subject(ledger tikv.EvictionLedger) (*tikv.Subject, error) {
	return tikv.New(tikv.Config{
		PD: pdclient.Config{Endpoints: []string{r.rc.PD}}, DisableMetrics: true,
		Actions: tikv.ActionConfig{PollInterval: 200 * time.Millisecond, Ledger: ledger},
	})
}

// notLeader is the Leadership of a guard built before any term: it names
// who leads, and refuses.
type notLeader struct{ el *election.Election }

func (n notLeader) Check(ctx context.Context) error {
	who := "nobody"
	if l, err := n.el.Leader(ctx); err == nil {
		who = l.Identity
	}
	return fmt.Errorf("%s leads; a guard built before winning never acts: %w", who, guard.ErrNotLeader)
}

// actions are the restart's two halves as the guard's extra actions;
// FinishRestart waits for a process started after *prepared.
func (r *replica) actions(prepared *time.Time) map[string]guard.ActionFunc {
	return map[string]guard.ActionFunc{
		guard.ActionPrepareRestart: func(ctx context.Context, a guard.Args) (subject.Result, error) {
			return r.sub.PrepareRestart(ctx, a.Store, tikv.RestartOptions{})
		},
		guard.ActionFinishRestart: func(ctx context.Context, a guard.Args) (subject.Result, error) {
			var opts tikv.RestartOptions
			if prepared != nil && !prepared.IsZero() {
				// PD reports a start time in whole seconds.
				opts.StartedAfter = prepared.Truncate(time.Second).Add(-time.Nanosecond)
			}
			return r.sub.FinishRestart(ctx, a.Store, opts)
		},
	}
}

// lead is the leader's part: open (and lock) the journal and the
// eviction ledger, replay the journal, then restart the store, finishing
// a restart the journal shows begun.
func (r *replica) lead(ctx context.Context, term *election.Term) error {
	ident := guard.JournalConfig{Identity: r.rc.Name}
	j, err := openLocked(ctx, term.Done(), func() (*guard.FileJournal, error) { return guard.OpenFileJournal(r.rc.Journal, ident) })
	if err != nil {
		return err
	}
	defer j.Close()
	l, err := openLocked(ctx, term.Done(), func() (*tikv.FileLedger, error) {
		return tikv.OpenFileLedger(r.rc.Ledger, tikv.FileLedgerConfig{Identity: r.rc.Name})
	})
	if err != nil {
		return err
	}
	defer l.Close()
	sub, err := r.subject(l)
	if err != nil {
		return err
	}
	defer sub.Close()
	r.sub = sub
	var prepared time.Time
	g, err := guard.New(sub, guard.Config{
		Mode: guard.ModeAutomatic, Journal: j, Leadership: term, Extra: r.actions(&prepared),
		NewID: func() string { return recordID(r.rc.Name, term.Rev()) },
	})
	if err != nil {
		return err
	}
	recs, err := io.ReadAll(j.Records())
	if err != nil {
		return err
	}
	if err := g.Replay(ctx, bytes.NewReader(recs)); err != nil {
		r.log.Warn("replay", "error", err)
	}
	store, at, begun := unfinished(recs)
	detail := fmt.Sprintf("%d records; no restart begun", bytes.Count(recs, []byte("\n")))
	if begun {
		detail = fmt.Sprintf("%d records; restart of store %d begun: true", bytes.Count(recs, []byte("\n")), store)
	}
	r.tell(ctx, event{Event: "replayed", Rev: term.Rev(), Detail: detail})
	if !begun {
		store = r.rc.Store
		if _, err := g.Do(ctx, guard.ActionPrepareRestart, guard.Args{Store: store}); err != nil {
			return err
		}
		at = time.Now()
	}
	prepared = at
	r.tell(ctx, event{Event: "prepared", Rev: term.Rev(), Detail: fmt.Sprint(store)})
	restarted, err := r.restartStore(ctx, store)
	if err != nil {
		return err
	}
	if !restarted {
		prepared = time.Time{}
	}
	if _, err := g.Do(ctx, guard.ActionFinishRestart, guard.Args{Store: store}); err != nil {
		return err
	}
	r.tell(ctx, event{Event: "done", Rev: term.Rev(), Detail: fmt.Sprint(store)})
	return term.Resign(ctx)
}

// recordID names a journal record after the replica and its term, so that
// the journal shows who wrote what under which leadership.
func recordID(name string, rev int64) string {
	return fmt.Sprintf("%s-t%d-%s", name, rev, rand.Text()[:10])
}

// restartStore asks the process manager (the parent) to restart the
// store's TiKV, and reports whether it could.
func (r *replica) restartStore(ctx context.Context, store subject.StoreID) (bool, error) {
	q := url.Values{"store": {store.String()}, "by": {r.rc.Name}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.rc.Control+"/restart?"+q.Encode(), nil)
	if err != nil {
		return false, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false, fmt.Errorf("asking for the restart of store %d: %w", store, err)
	}
	defer resp.Body.Close()
	var out struct{ Restarted bool }
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != http.StatusOK {
		return false, fmt.Errorf("asking for the restart of store %d: %s, %v", store, resp.Status, err)
	}
	return out.Restarted, nil
}

// tell sends the parent an event; a parent that does not answer only
// loses the event.
func (r *replica) tell(ctx context.Context, ev event) {
	ev.Replica = r.rc.Name
	b, _ := json.Marshal(ev)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.rc.Control+"/event", bytes.NewReader(b))
	if err != nil {
		return
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		r.log.Warn("telling the parent", "event", ev.Event, "error", err)
		return
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
}
