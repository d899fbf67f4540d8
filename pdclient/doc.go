// Package pdclient is a client for PD's HTTP API (/pd/api/v1), the
// placement driver of a TiKV cluster.
//
// # What it covers
//
// One [Client], built from a [Config] ([DefaultConfig] targets a tiup
// playground at http://127.0.0.1:2379), with a method per endpoint; each
// method's doc comment names the endpoint it calls ("PD API: GET
// /pd/api/v1/stores"):
//
//   - the cluster: [Client.Health], [Client.Ping], [Client.Members],
//     [Client.Leader], [Client.Version], [Client.Status], [Client.Cluster],
//     [Client.ClusterStatus];
//   - stores: [Client.Stores] (with a state filter), [Client.AllStores]
//     (tombstones included), [Client.StoresInState], [Client.Store],
//     [Client.SetStoreState], [Client.CancelOffline], [Client.DeleteStore],
//     [Client.SetStoreLabels], [Client.SetStoreWeight], [Client.SetStoreLimit],
//     [Client.StoreLimits];
//   - regions: [Client.RegionByID], [Client.RegionByKey], [Client.RegionCount],
//     [Client.ScanRegions], [Client.RegionsByStore], [Client.Regions],
//     [Client.AllRegions] (an iterator over every region that pages through
//     /regions/key, so memory stays bounded), [Client.TopRegions],
//     [Client.CheckRegions], [Client.HotWriteRegions], [Client.HotReadRegions],
//     [Client.HotStores];
//   - operators: [Client.Operators], [Client.Operator], [Client.OperatorRecords],
//     [Client.CreateOperator] and its typed forms ([Client.TransferLeader],
//     [Client.TransferRegion], [Client.TransferPeer], [Client.AddPeer],
//     [Client.RemovePeer], [Client.SplitRegion], [Client.MergeRegion],
//     [Client.ScatterRegion]), [Client.CancelOperator];
//   - schedulers: [Client.Schedulers], [Client.CreateScheduler],
//     [Client.EvictLeader], [Client.GrantLeader], [Client.DeleteScheduler],
//     [Client.RemoveEvictLeader], [Client.EvictLeaderConfig];
//   - configuration: [Client.Config], [Client.ScheduleConfig],
//     [Client.SetScheduleConfig], [Client.ReplicationConfig],
//     [Client.SetReplicationConfig], [Client.SetConfig] and single settings
//     ([Client.SetLeaderScheduleLimit], [Client.SetLowSpaceRatio],
//     [Client.SetMaxStoreDownTime], [Client.SetHaltScheduling], ...);
//   - PD's maintenance lock (API v2, /pd/api/v2/maintenance): one task at
//     a time for the whole cluster, shared with every tool that maintains
//     it: [Client.StartMaintenance], [Client.FinishMaintenance],
//     [Client.MaintenanceTasks], [Client.MaintenanceTaskOf]; a conflict is a
//     [*MaintenanceConflictError] naming the holder, and a PD without the
//     lock answers [ErrNotSupported];
//   - anything else through [Client.Do], with the same failover and errors.
//
// The types follow PD's answers and smooth over PD's quirks: store sizes
// come as strings ("836.5GiB"), parsed to bytes by [ParseSize] and kept as
// sent; the last heartbeat comes both as unix nanoseconds and as RFC 3339;
// operators are listed as PD's description strings. The package knows
// nothing of package subject: package tikv converts its types to
// subject's vocabulary (region keys hex-decoded to raw bytes). Right after a PD leader change PD reports every
// store Disconnected with sizes "0B" until the stores' next heartbeats: the
// client reports that as PD says it; judging it is the caller's business.
//
// # Failover and retries
//
// A client given several endpoints tries the PD leader first once it knows
// it. A request that cannot connect, or that PD answers with 503 or with a
// failed redirect to its leader (500 "[PD:apiutil:ErrRedirect]", given by
// followers while PD elects a leader), goes to the next endpoint; after such a failover the client refreshes its member list
// from /members so that later requests go to the (possibly new) leader first.
// PD followers answer reads and writes themselves, so any live member will
// do. A client configured with TLS, or with https endpoints, never talks
// plaintext: members listed with http:// URLs are reached over https and
// redirects to plaintext are refused.
//
// Reads (GET) are retried: after a round in which every endpoint failed the
// client pauses, doubling from Config.BackoffBase up to Config.BackoffMax
// with random jitter, for up to Config.MaxAttempts rounds, and never sleeps
// past the context's deadline. Writes are never retried blindly: a POST or
// DELETE whose answer was lost may have been applied, and sending it again
// could split a region twice, create a second operator or undo a
// cancellation. A write moves to another endpoint only when the first
// provably never received it: the transport never wrote it (no
// connection, or the context ended first, as net/http/httptrace tells), or
// PD itself answered before any handler ran because it has no leader. Every
// failed write is either [NotApplied] or matches [ErrUnconfirmed] (and
// subject.ErrUnconfirmed), never both: one that may have been written
// before its answer was lost, got a 503 from something in front of PD (a
// proxy's 503 can come after the request reached PD), a 5xx that does not
// say PD refused it (a follower's failed redirect included: it may have
// reached the leader) or a 2xx that could not be read may have been
// applied.
//
// After reading /members the client dials the current members and the
// configured endpoints; a member that has left the cluster is dropped.
//
// Every body is read through a cap (Config.MaxResponseBytes, 64 MiB by
// default); a bigger answer fails with [ErrTooLarge] instead of being
// buffered.
//
// # Errors
//
// PD's answers other than 2xx are [*APIError] values carrying the method,
// path, status and PD's message verbatim (PD sends a JSON string, sometimes
// an object {"code","msg"}). Each matches one sentinel with errors.Is:
// [ErrNotFound], [ErrBadRequest], [ErrPrecondition], [ErrServer] or
// [ErrUnavailable]. PD's error codes decide first, whatever the status: PD
// answers a missing region on POST /operators with 500, which still matches
// ErrNotFound. Some caller mistakes also come back as 500 ("check policy
// nope is not supported": ErrBadRequest; "region has no voter in store 4":
// ErrPrecondition). ErrNotFound, ErrBadRequest and ErrPrecondition also
// match subject.ErrNotFound, subject.ErrInvalid and subject.ErrPrecondition.
// A request that got no answer is a [*TransportError] naming the endpoint
// (it matches ErrUnavailable); an answer that cannot be decoded is a
// [*ResponseError] (ErrBadResponse, or ErrTooLarge). Arguments the client can
// check itself (a key that is not hex, an unknown split policy) are refused
// before anything is sent, with ErrBadRequest.
package pdclient
