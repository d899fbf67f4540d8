package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/kvops/operator/subject"
	sim "github.com/kvops/operator/tikv/tikvtest"
)

// runTimeout bounds a whole run.
const runTimeout = 5 * time.Minute

// run starts the cluster (unless cfg.PD), the two replicas, kills the
// first leader once it prepared the restart and the other was refused at
// least once, and waits until the other finished the restart.
func run(ctx context.Context, cfg Config) (*Report, error) {
	ctx, cancel := context.WithTimeout(ctx, runTimeout)
	defer cancel()
	if cfg.Log == nil {
		cfg.Log = io.Discard
	}
	if cfg.TTL == 0 {
		cfg.TTL = 5 * time.Second
	}
	dir, err := os.MkdirTemp("", "election-example")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	p := &parent{cfg: cfg, rep: &Report{}, procs: map[string]*proc{}, won: map[string]bool{},
		refused: make(chan struct{}), done: make(chan string, 2), exited: make(chan exit, 2), killing: map[string]bool{}}
	pdURL, etcd := cfg.PD, cfg.Etcd
	if pdURL == "" {
		cl, err := sim.NewUnstartedCluster(sim.Config{})
		if err != nil {
			return nil, err
		}
		if err := cl.Start(ctx); err != nil {
			return nil, err
		}
		defer cl.Close()
		tctx, stop := context.WithCancel(ctx)
		ticked := make(chan struct{})
		go func() { defer close(ticked); _ = cl.Run(tctx, 100*time.Millisecond) }()
		defer func() { stop(); <-ticked }()
		p.cl, pdURL = cl, cl.PDURL()
	} else {
		etcd = []string{cfg.PD}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	srv := &http.Server{Handler: p.mux(), ReadHeaderTimeout: 10 * time.Second}
	served := make(chan struct{})
	go func() { defer close(served); _ = srv.Serve(ln) }()
	defer func() { srv.Close(); <-served }()
	defer p.killAll()

	p.rc = replicaConfig{
		Control: "http://" + ln.Addr().String(), PD: pdURL, Etcd: etcd, TTL: cfg.TTL, Store: 1,
		// A prefix of the run's own, so that runs on one etcd do not
		// elect each other; an operator keeps election.DefaultPrefix.
		Prefix:  "/kvops-operator/example/" + strconv.FormatInt(time.Now().UnixNano(), 36),
		Journal: filepath.Join(dir, "journal.jsonl"), Ledger: filepath.Join(dir, "evictions.json"),
	}
	// a first, and b once a leads: a is the leader the run kills.
	if err := p.spawn("a"); err != nil {
		return nil, err
	}
	if err := p.await(ctx, func() bool { return p.won["a"] }); err != nil {
		return p.rep, fmt.Errorf("a did not win: %w", err)
	}
	if err := p.spawn("b"); err != nil {
		return p.rep, err
	}
	select {
	case who := <-p.done:
		if who != "b" {
			return p.rep, fmt.Errorf("%w: %s finished it, not the replica that took over", errNoRestart, who)
		}
	case ex := <-p.exited:
		return p.rep, fmt.Errorf("%w: replica %s exited: %v", errNoRestart, ex.name, ex.err)
	case <-ctx.Done():
		return p.rep, fmt.Errorf("%w: %w", errNoRestart, ctx.Err())
	}
	b, err := os.ReadFile(p.rc.Journal)
	if err != nil {
		return p.rep, err
	}
	acts, overlaps := checkJournal(b)
	p.mu.Lock()
	defer p.mu.Unlock()
	p.rep.Acts = acts
	p.rep.TwoActing += overlaps
	return p.rep, nil
}

// parent is the replicas' process manager.
type parent struct {
	cfg    Config
	rc     replicaConfig
	cl     *sim.Cluster // nil with a real PD
	exited chan exit

	mu       sync.Mutex
	rep      *Report
	procs    map[string]*proc
	won      map[string]bool // replicas that won and neither died nor finished
	killedAt time.Time
	refused  chan struct{} // closed at the first refusal
	done     chan string
	changed  chan struct{}   // closed and replaced at every event
	killing  map[string]bool // replicas killed on purpose
}

type proc struct {
	cmd    *exec.Cmd
	exited chan struct{}
}

type exit struct {
	name string
	err  error
}

// spawn starts a replica.
func (p *parent) spawn(name string) error {
	rc := p.rc
	rc.Name = name
	b, err := json.Marshal(rc)
	if err != nil {
		return err
	}
	cmd := exec.Command(p.cfg.Exe)
	cmd.Env = append(os.Environ(), envReplica+"="+string(b))
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		return err
	}
	pr := &proc{cmd: cmd, exited: make(chan struct{})}
	p.mu.Lock()
	p.procs[name] = pr
	p.mu.Unlock()
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			fmt.Fprintf(p.cfg.Log, "[%s] %s\n", name, sc.Text())
		}
		err := cmd.Wait()
		close(pr.exited)
		p.mu.Lock()
		killed := p.killing[name]
		delete(p.won, name)
		p.mu.Unlock()
		if !killed && err != nil {
			p.exited <- exit{name, err}
		}
	}()
	return nil
}

// kill kills a replica (SIGKILL) and waits until it is gone.
func (p *parent) kill(name string) {
	p.mu.Lock()
	pr := p.procs[name]
	p.mu.Unlock()
	if pr == nil {
		return
	}
	_ = pr.cmd.Process.Kill()
	<-pr.exited
}

func (p *parent) killAll() {
	p.mu.Lock()
	p.killing["a"], p.killing["b"] = true, true
	p.mu.Unlock()
	for _, name := range []string{"a", "b"} {
		p.kill(name)
	}
}

// await waits until cond, read under p.mu, holds after an event.
func (p *parent) await(ctx context.Context, cond func() bool) error {
	for {
		p.mu.Lock()
		if cond() {
			p.mu.Unlock()
			return nil
		}
		if p.changed == nil {
			p.changed = make(chan struct{})
		}
		ch := p.changed
		p.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (p *parent) mux() *http.ServeMux {
	m := http.NewServeMux()
	m.HandleFunc("POST /event", p.event)
	m.HandleFunc("POST /restart", p.restart)
	return m
}

// event records a replica's event.
func (p *parent) event(w http.ResponseWriter, r *http.Request) {
	var ev event
	if err := json.NewDecoder(r.Body).Decode(&ev); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	now := time.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	line := fmt.Sprintf("%s  %-8s %-9s", now.Format("15:04:05.000"), ev.Replica, ev.Event)
	if ev.Rev > 0 {
		line += fmt.Sprintf(" term %d", ev.Rev)
	}
	if ev.Detail != "" {
		line += "  " + ev.Detail
	}
	switch ev.Event {
	case "won":
		for other := range p.won {
			if other != ev.Replica {
				p.rep.TwoActing++
				line += fmt.Sprintf("  (TWO LEADERS: %s has not ended)", other)
			}
		}
		p.won[ev.Replica] = true
		if !p.killedAt.IsZero() && p.rep.Failover == 0 {
			p.rep.Failover, p.rep.TTL = now.Sub(p.killedAt), ev.TTL
			line += fmt.Sprintf("  %v after the kill, TTL %v", p.rep.Failover.Round(time.Millisecond), ev.TTL)
		}
	case "refused":
		p.rep.Refused++
		if p.rep.Refused == 1 {
			close(p.refused)
		}
	case "done":
		delete(p.won, ev.Replica)
		p.done <- ev.Replica
	}
	p.rep.Events = append(p.rep.Events, line)
	if p.changed != nil {
		close(p.changed)
		p.changed = nil
	}
}

// restart restarts a store's TiKV for a replica. The first leader's
// request is where it dies: once the follower was refused at least once
// (so the run shows the guard at work), it is killed before the restart.
func (p *parent) restart(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseUint(r.FormValue("store"), 10, 64)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	by := r.FormValue("by")
	p.mu.Lock()
	first := by == "a" && p.killedAt.IsZero()
	p.mu.Unlock()
	if first {
		select {
		case <-p.refused:
		case <-time.After(time.Minute):
		case <-r.Context().Done():
		}
		p.mu.Lock()
		p.killing["a"] = true
		p.mu.Unlock()
		p.kill("a")
		p.mu.Lock()
		p.killedAt = time.Now()
		delete(p.won, "a")
		p.rep.Events = append(p.rep.Events, fmt.Sprintf("%s  a        KILLED    mid-restart: store %d prepared, not restarted, not finished",
			p.killedAt.Format("15:04:05.000"), id))
		p.mu.Unlock()
		return
	}
	var out struct{ Restarted bool }
	if p.cl != nil {
		if err := p.cl.RestartStore(subject.StoreID(id)); err != nil && !errors.Is(err, sim.ErrBadArgument) {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		out.Restarted = true
	}
	_ = json.NewEncoder(w).Encode(out)
}
