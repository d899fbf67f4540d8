// Package realpd runs a real PD for the project's own tests, as
// internal/promrun runs a real Prometheus: one PD member or three, and PD's
// own store simulator (pd-simulator) heartbeating simulated TiKV stores to
// them, all as child processes on loopback ports.
//
// # Binaries
//
// The environment variable KVOPS_REALPD_DIR names a folder holding
// pd-server and pd-simulator, built from PD's public source (.ci/run sets it
// from ../shared/realpd/unpack; the project never reads ../shared itself).
// [Require] skips a test when it is not set, and fails it instead when the
// environment variable CI is "true", so that CI cannot pass by skipping. A
// KVOPS_REALPD_DIR that does not hold both programs always fails.
//
// # Starting and waiting
//
// [New] (and, in a test, [Start] or [Shared]) starts the members, waits
// until they have a leader, applies Config.MaxStoreDownTime, starts the
// simulator and waits until PD lists every store Up and every region with
// a leader, and scheduling is no longer halted (the simulator halts it
// until its first region heartbeats are in). The simulator's case is
// "stable" by default: regions and leaders spread evenly over the stores,
// and a case that never declares itself done, so the simulator runs until
// it is stopped (pd-simulator exits when its case's check passes).
//
// # Ports
//
// PD takes its client and peer URLs as flags and binds them itself, so it
// cannot be handed a listener the test opened; asked for port 0 it
// advertises ":0" to its own members and its own etcd client, and fails.
// realpd therefore chooses the ports, and makes that choice safe rather than
// hoping:
//
//   - It draws them at random from below the kernel's ephemeral port range
//     (net.ipv4.ip_local_port_range): the kernel never gives those to an
//     outgoing connection nor to a listener on port 0, so only programs that
//     pick fixed ports themselves can hold them. It skips ports it cannot
//     bind right now.
//   - If another program takes one between that check and PD's bind, PD
//     cannot bind it: it logs EADDRINUSE ("address already in use") and exits
//     within a fraction of a second, before it serves anything. New sees the
//     exit, finds that in PD's output, and starts the whole cluster again
//     with fresh ports and fresh data directories, up to five times. Any
//     other early exit is an error that carries the end of PD's log.
//   - A member counts as started only when the member itself (GET
//     /pd/api/v1/config, which a member answers itself, never through its
//     leader) names the data directory New gave it, so a server of someone
//     else's that holds the port is never mistaken for ours.
//
// A killed member started again ([Member.Start]) must reuse its ports, since
// they are part of the cluster's membership; if one was taken meanwhile, Start
// fails with an error matching [ErrPortTaken].
//
// # Faults
//
// [Member.Kill] kills a member (SIGKILL, as a crash) and [Member.Start]
// starts it again on its data: with three members, killing the leader is a
// PD leader failover. [Cluster.StopStores] stops every simulated store's
// heartbeats by stopping the simulator process (SIGSTOP): PD then reports
// the stores Disconnected after 20 s and Down after max-store-down-time.
// [Cluster.StartStores] lets it go on (SIGCONT). The simulator cannot be
// killed and started again instead: on a PD that is already bootstrapped it
// refuses to start ("failed to bootstrap, server is not clean", its
// client.go). Nor can it stop one store alone: its only store event removes
// the store for good.
//
// # Stopping
//
// Every process runs in a process group of its own, started with a parent
// death signal (SIGKILL), so that a test binary that dies (a panic, go
// test's -timeout) takes them with it. [Cluster.Stop] kills each group
// (SIGKILL), waits for every process, and removes the temporary directory
// that held the data, the logs and the simulator's configuration; the
// simulator's own temporary directory goes there too (its TMPDIR). [Start]
// registers Stop with t.Cleanup and, when the test failed, logs the end of
// every process's log.
//
// # What it costs
//
// A one-member cluster with the default five stores and 200 regions is
// ready in about 15 s (most of it the simulator's first store heartbeats,
// which come every StoreHeartbeat), a three-member one in about 20 s; PD
// uses about 200 MB of memory per member, the simulator about 60 MB. Tests
// that can share a cluster should: see [Shared].
package realpd
