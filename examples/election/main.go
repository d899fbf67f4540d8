// Command election runs two replicas of one operator against one cluster,
// as every operator runs two for availability, and kills the leader in the
// middle of a store's restart: the other takes over within the election's
// TTL, replays the journal and finishes the restart, and at no moment do
// the two act.
//
//	go run ./examples/election                        # simulated cluster, election on etcd at 127.0.0.1:2379
//	go run ./examples/election -etcd http://127.0.0.1:2379
//	go run ./examples/election -pd http://127.0.0.1:2379  # a real PD for both
//
// The replicas are processes of their own (this program started again),
// so that killing one is a real SIGKILL. Each runs the operator's loop: it
// campaigns (tikv/election, on PD's etcd), and while it is not the leader
// it still tries the work through a guard, which refuses it
// (guard.ErrNotLeader). The leader opens the shared journal (locked, so
// only it writes), replays it, and restarts store 1: PrepareRestart
// through the guard, then asks this program — its process manager — to
// restart the TiKV. That is where this program kills it. The follower wins
// once the dead leader's lease expires, replays the journal, finds the
// restart begun, has the store restarted and runs FinishRestart.
//
// By default the cluster is the simulated one (tikvtest), which serves
// PD's HTTP API but not etcd: the election then needs an etcd of its own,
// -etcd, by default tiup playground's PD at 127.0.0.1:2379 (any PD, or a
// plain etcd, will do). Embedding an etcd server instead would add some
// 250 packages and 20 MB to the module for a demo. With -pd, the real PD
// serves both; its stores are pd-simulator's or real TiKVs, which this
// program cannot restart: it then skips the process restart and runs
// FinishRestart alone.
//
// It prints the time from the kill to the new leader against the TTL, the
// actions the guard refused while a replica was not the leader, and what
// the journal shows each term did.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"time"
)

func main() {
	if asReplica() {
		return
	}
	var cfg Config
	flag.StringVar(&cfg.PD, "pd", "", "a real PD's client URL, for PD's HTTP API and the election (default: a simulated cluster)")
	etcd := flag.String("etcd", defaultEtcd, "the election's etcd endpoints, comma-separated, with the simulated cluster")
	flag.DurationVar(&cfg.TTL, "ttl", 5*time.Second, "the election's TTL")
	flag.Parse()
	cfg.Etcd = strings.Split(*etcd, ",")
	exe, err := os.Executable()
	if err != nil {
		fmt.Fprintln(os.Stderr, "election:", err)
		os.Exit(1)
	}
	cfg.Exe, cfg.Log = exe, os.Stderr
	rep, err := run(context.Background(), cfg)
	if rep != nil {
		rep.print(os.Stdout)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "election:", err)
		os.Exit(1)
	}
	if rep.TwoActing > 0 {
		fmt.Fprintln(os.Stderr, "election: two replicas acted at once")
		os.Exit(1)
	}
}

// asReplica runs a replica when this process was started as one (envReplica
// set), exiting non-zero on failure, and reports whether it was.
func asReplica() bool {
	rc := os.Getenv(envReplica)
	if rc == "" {
		return false
	}
	var cfg replicaConfig
	if err := json.Unmarshal([]byte(rc), &cfg); err != nil {
		fmt.Fprintln(os.Stderr, "election replica:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	err := replicaMain(ctx, cfg)
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "election replica %s: %v\n", cfg.Name, err)
		os.Exit(1)
	}
	return true
}

// defaultEtcd is tiup playground's PD, which serves etcd's v3 API.
const defaultEtcd = "http://127.0.0.1:2379"

// Config says what to run.
type Config struct {
	// PD is a real PD's client URL; empty means the simulated cluster,
	// with the election on Etcd.
	PD   string
	Etcd []string
	// TTL is the election's.
	TTL time.Duration
	// Exe is the program that runs a replica when envReplica is set in
	// its environment: this one, or a test binary.
	Exe string
	// Log receives the replicas' logs.
	Log io.Writer
}

// Report is what a run measured.
type Report struct {
	// TTL is the session TTL etcd granted the new leader.
	TTL time.Duration
	// Failover is the time from the kill to the new leader's win.
	Failover time.Duration
	// Refused counts the actions the guard refused (guard.ErrNotLeader)
	// while a replica was not the leader.
	Refused int
	// TwoActing counts the moments two replicas acted: a replica won
	// while the other had won and was neither dead nor done, plus the
	// journal records that show two terms acting at once.
	TwoActing int
	// Acts is what the journal shows each term did.
	Acts []Acts
	// Events are the replicas' events, as this program received them.
	Events []string
}

func (r *Report) print(w io.Writer) {
	for _, e := range r.Events {
		fmt.Fprintln(w, e)
	}
	for _, a := range r.Acts {
		fmt.Fprintf(w, "term %d (%s) submitted:", a.Term, a.Replica)
		for i, s := range a.Submitted {
			fmt.Fprintf(w, " %s [%s];", s, cmpOr(a.Ended[i], "no outcome: killed"))
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "failover: %v after the kill, TTL %v\n", r.Failover.Round(time.Millisecond), r.TTL)
	fmt.Fprintf(w, "refused while not the leader: %d\n", r.Refused)
	fmt.Fprintf(w, "moments two replicas acted: %d\n", r.TwoActing)
}

func cmpOr(s, or string) string {
	if s == "" {
		return or
	}
	return s
}

// errNoRestart is why a run could not show the takeover.
var errNoRestart = errors.New("the restart did not finish")
