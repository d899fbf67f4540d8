// Package election elects one leader among an operator's replicas, on PD's
// own etcd, so that one operator acts on a cluster at a time however many
// run. PD's client URL serves etcd's v3 API, and TiDB elects its owners
// there the same way (pkg/owner, with go.etcd.io/etcd/client/v3/concurrency
// and a session TTL): this package is built on that, not on a lease loop of
// its own. It is the only package of this library that imports etcd's
// client and gRPC; importing tikv does not pull them in.
//
// A replica makes an [Election] (the PD endpoints and TLS settings it gives
// pdclient, a key prefix, a TTL, an identity), and calls
// [Election.Campaign], which returns once it leads, with a [Term]. The
// term is a guard.Leadership: the replica then opens its journal (taking
// its lock), builds its guard with the term as Config.Leadership,
// replays the journal (guard.Guard.Replay) and acts. When [Term.Done]
// closes, it stops, closes the journal and may campaign again; on shutdown
// it calls [Election.Close], which resigns so that the next candidate
// takes over at once.
//
// # What is promised
//
//   - One leader at a time: candidates queue on Config.Prefix in etcd, and
//     the one whose key is oldest leads; its key lives by its session's
//     lease.
//   - A killed leader is replaced within one TTL of its last keep-alive,
//     plus etcd's expiry loop: its lease expires, etcd revokes it (every
//     500 ms) and deletes its key, the next candidate's watch sees it.
//     (Measured on the real PD with a TTL of 5 s: 4.3 to 5.4 s after the
//     kill.)
//   - A leader cut off from etcd stops acting at once and its Done closes
//     before etcd can let another candidate win: the term asks etcd every
//     TTL/6 how long the lease will live, and Done closes half a second
//     before the last answer runs out. The guard's check ([Term.Check])
//     asks etcd again immediately before every write, and refuses unless
//     etcd promises the lease for at least TTL/6 more.
//   - A PD leader change (PD's etcd electing a new leader) deposes nobody:
//     etcd extends every lease when its leader changes, and the default TTL
//     leaves the session ten seconds to reach the new leader.
//
// What it cannot promise is the last step: PD's HTTP API takes no fencing
// token, so a request that leaves after the check and reaches PD more than
// TTL/6 later (a stalled connection, a paused process) may land after
// another replica took over. The guard makes that window as short as PD
// allows, never zero.
//
// # Errors
//
// Errors match subject's sentinels: a configuration that cannot work
// subject.ErrInvalid, etcd unreachable subject.ErrUnavailable, nobody
// leading subject.ErrNotFound (ErrNoLeader). The end of a term
// (ErrResigned, ErrSessionExpired, ErrKeyDeleted) and every refusal of
// [Term.Check] match guard.ErrNotLeader and so subject.ErrNotApproved.
package election
