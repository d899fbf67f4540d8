package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"time"

	"github.com/kvops/operator/pdclient"
	"github.com/kvops/operator/subject"
	"github.com/kvops/operator/subject/guard"
	"github.com/kvops/operator/tikv"
)

// envOperator, set, makes the test binary the operator process, with
// this configuration (operatorConfig as JSON).
const envOperator = "KVOPS_SIMPD_TEST_OPERATOR"

// operatorConfig is what the operator process is told.
type operatorConfig struct {
	PD      string
	Journal string // the guard's journal (guard.OpenFileJournal)
	Ledger  string // tikv's eviction ledger (tikv.OpenFileLedger)
	Store   subject.StoreID
}

// operatorLine is one of the operator's JSON lines on stdout.
type operatorLine struct {
	Event  string `json:"event"` // replayed, pending, resolved, evicting, progress, evicted, restored
	Detail string `json:"detail,omitempty"`
	Left   int    `json:"left,omitempty"`
}

// operatorTimeout bounds one operator process's whole run.
const operatorTimeout = 2 * time.Minute

// operatorMain is a small maintenance operator: it evicts one store's
// leaders, and once the store leads none (its maintenance would go
// here), lets it lead again. Everything goes through a guard whose
// journal is a file, replayed first: killed at any point and started
// again, it takes up where it was.
func operatorMain(cfgJSON string) error {
	var cfg operatorConfig
	if err := json.Unmarshal([]byte(cfgJSON), &cfg); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), operatorTimeout)
	defer cancel()
	enc := json.NewEncoder(os.Stdout)
	say := func(l operatorLine) { _ = enc.Encode(l) }

	j, err := guard.OpenFileJournal(cfg.Journal, guard.JournalConfig{Identity: "simpd-test-operator"})
	if err != nil {
		return err
	}
	defer j.Close()
	ledger, err := tikv.OpenFileLedger(cfg.Ledger, tikv.FileLedgerConfig{Identity: "simpd-test-operator"})
	if err != nil {
		return err
	}
	defer ledger.Close()
	sub, err := tikv.New(tikv.Config{
		PD: pdclient.Config{Endpoints: []string{cfg.PD}}, DisableMetrics: true,
		Actions: tikv.ActionConfig{PollInterval: 100 * time.Millisecond, Ledger: ledger},
	})
	if err != nil {
		return err
	}
	defer sub.Close()
	g, err := guard.New(sub, guard.Config{Mode: guard.ModeAutomatic, Journal: j})
	if err != nil {
		return err
	}

	// Replay first: nothing is sent before the journal is taken up.
	recs, err := io.ReadAll(j.Records())
	if err != nil {
		return err
	}
	if err := g.Replay(ctx, bytes.NewReader(recs)); err != nil {
		return fmt.Errorf("replay: %w", err)
	}
	say(operatorLine{Event: "replayed", Detail: fmt.Sprintf("%d records", bytes.Count(recs, []byte("\n")))})

	// An action the journal shows submitted and whose outcome the
	// cluster does not show yet stays pending: the guard refuses every
	// disruptive action meanwhile. Wait, reading the cluster, until it
	// does, and have the guard check it again then.
	for _, p := range g.Pending() {
		say(operatorLine{Event: "pending", Detail: p.Action + " " + p.Target + " " + p.ID})
	}
	for len(g.Pending()) > 0 {
		p := g.Pending()[0]
		if p.Action != guard.ActionEvictLeaders {
			return fmt.Errorf("pending %s %s: this operator resolves only its evictions", p.Action, p.Target)
		}
		if err := waitDone(ctx, func() (bool, error) {
			res, err := sub.EvictLeaders(subject.WithDryRun(ctx), p.Args.Store)
			return res.NoChange, err
		}); err != nil {
			return err
		}
		if err := g.Recheck(ctx); err != nil {
			return err
		}
		if !slices.ContainsFunc(g.Pending(), func(r guard.Record) bool { return r.ID == p.ID }) {
			say(operatorLine{Event: "resolved", Detail: p.Action + " " + p.Target + " " + p.ID})
		}
	}

	evicted, err := g.EvictedStores(ctx)
	if err != nil {
		return err
	}
	if !slices.Contains(evicted, cfg.Store) {
		say(operatorLine{Event: "evicting", Detail: cfg.Store.String()})
		pctx := subject.WithProgress(ctx, func(p subject.Progress) {
			say(operatorLine{Event: "progress", Detail: p.Seen, Left: p.Left})
		})
		if _, err := g.EvictLeaders(pctx, cfg.Store); err != nil {
			return err
		}
	}
	say(operatorLine{Event: "evicted", Detail: cfg.Store.String()})
	// The store's maintenance would be here.
	res, err := g.RestoreLeaders(ctx, cfg.Store)
	if err != nil {
		return err
	}
	say(operatorLine{Event: "restored", Detail: res.Summary})
	return nil
}

// waitDone polls done until it reports true, every 100 ms, until ctx
// ends.
func waitDone(ctx context.Context, done func() (bool, error)) error {
	for {
		ok, err := done()
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}
